import { ExitCode } from "../../errors";
import { defineCommand } from "../define";
import { projectFromArgs, type TargetArgs, targetOptions } from "../options";

interface OffboardArgs extends TargetArgs {
  keepConnectors?: boolean;
  ifRecorded: boolean;
}

export const offboardCommand = defineCommand<OffboardArgs>({
  command: "offboard",
  describe: "Deregister the connectors of accounts that left (the config's, or the roles named), then say what removes their roles",
  builder: (y) =>
    targetOptions(y)
      .option("keep-connectors", {
        type: "boolean",
        describe: "keep the connectors, only report them (default: the config's deployment.removedAccounts, else deregister)",
      })
      .option("if-recorded", {
        type: "boolean",
        default: false,
        describe:
          "with --config: a config never synthesized has no account known to have left; report none instead of failing (a pipeline's first run)",
      }),
  handler: async ({ io, session, runtime }, args) => {
    const { offboardProject } = require("../../workflows/offboard") as typeof import("../../workflows/offboard");
    const project = await projectFromArgs(session, args, runtime.env);
    const report = await offboardProject(project, {
      keepConnectors: args.keepConnectors,
      concurrency: args.concurrency,
      ifRecorded: args.ifRecorded,
    });
    const lines = report.accounts.map(
      (a) =>
        `${a.accountId}  connector ${a.connector}${a.connectorIds.length ? ` (${a.connectorIds.join(", ")})` : ""}  ${a.roleArn}${a.error ? `  error: ${a.error}` : ""}`,
    );
    io.result(report, [...lines, `${report.accounts.length} account(s) offboarded from the manager`, report.next].join("\n"));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
