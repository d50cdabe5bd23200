import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, type RegisterArgs, registerOptions, targetOptions } from "../options";
import { registerTable } from "../render";
import { projectCommand } from "../run";

export const registerCommand: CommandModule<GlobalArgs, GlobalArgs & RegisterArgs> = {
  command: "register",
  describe: "Create or update the manager's AWS connectors, exactly once per account",
  builder: (y) => registerOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & RegisterArgs>,
  handler: projectCommand<RegisterArgs>("register", async ({ io, project, progress }, args) => {
    const { registerProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const report = await registerProject(project, {
      checkTrust: args.checkTrust,
      sync: args.sync,
      removeDuplicates: args.removeDuplicates,
      concurrency: args.concurrency,
      assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
      onResult: (r) => progress.tick(`${r.status} ${r.accountId}${r.connectorId !== undefined ? ` (connector ${r.connectorId})` : ""}`),
    });
    io.result(report, registerTable(report.results));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  }),
};
