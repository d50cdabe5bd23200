import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, projectFromArgs, type TargetArgs, targetOptions } from "../options";
import { registerTable } from "../render";
import { command } from "../run";

export const deregisterCommand: CommandModule<GlobalArgs, GlobalArgs & TargetArgs> = {
  command: "deregister",
  describe: "Delete the manager's AWS connectors for these roles (the roles themselves stay)",
  builder: (y) => targetOptions(y) as unknown as Argv<GlobalArgs & TargetArgs>,
  handler: command<TargetArgs>(async ({ io, session }, args) => {
    const { deregisterProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const project = await projectFromArgs(session, args);
    const report = await deregisterProject(project, { concurrency: args.concurrency });
    io.result(report, registerTable(report.results, "deregistered"));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  }),
};
