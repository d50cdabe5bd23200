import { ExitCode } from "../../errors";
import { defineProjectCommand, registerWorkflowOptions } from "../define";
import { type RegisterArgs, registerOptions } from "../options";
import { registerTable } from "../render";

export const registerCommand = defineProjectCommand<RegisterArgs>({
  command: "register",
  describe: "Create or update the manager's AWS connectors, exactly once per account",
  options: registerOptions,
  handler: async ({ io, project, progress }, args) => {
    const { registerProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const report = await registerProject(project, {
      ...registerWorkflowOptions(args),
      onResult: (r) => progress.tick(`${r.status} ${r.accountId}${r.connectorId !== undefined ? ` (connector ${r.connectorId})` : ""}`),
    });
    io.result(report, registerTable(report.results));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
