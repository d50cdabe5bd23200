import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, projectFromArgs, type RegisterArgs, registerOptions, targetOptions } from "../options";
import { progress } from "../progress";
import { registerTable } from "../render";
import { command } from "../run";

export const registerCommand: CommandModule<GlobalArgs, GlobalArgs & RegisterArgs> = {
  command: "register",
  describe: "Create or update the manager's AWS connectors, exactly once per account",
  builder: (y) => registerOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & RegisterArgs>,
  handler: command<RegisterArgs>(async ({ io, session }, args) => {
    const { registerProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const project = await projectFromArgs(session, args);
    const bar = progress(io, project.targets.length, "register");
    const report = await registerProject(project, {
      checkTrust: args.checkTrust,
      sync: args.sync,
      concurrency: args.concurrency,
      assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
      onResult: (r) => bar.tick(`${r.status} ${r.accountId}${r.connectorId !== undefined ? ` (connector ${r.connectorId})` : ""}`),
    }).finally(() => bar.stop());
    io.result(report, registerTable(report.results));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  }),
};
