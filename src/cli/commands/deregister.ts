import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, type TargetArgs, targetOptions } from "../options";
import { registerTable } from "../render";
import { projectCommand } from "../run";

export const deregisterCommand: CommandModule<GlobalArgs, GlobalArgs & TargetArgs> = {
  command: "deregister",
  describe: "Delete the manager's AWS connectors for these roles (the roles themselves stay)",
  builder: (y) => targetOptions(y) as unknown as Argv<GlobalArgs & TargetArgs>,
  handler: projectCommand<TargetArgs>("deregister", async ({ io, project, progress }, args) => {
    const { deregisterProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const report = await deregisterProject(project, {
      concurrency: args.concurrency,
      onResult: (r) => progress.tick(`${r.status} ${r.accountId}`),
    });
    io.result(report, registerTable(report.results, "deregistered"));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  }),
};
