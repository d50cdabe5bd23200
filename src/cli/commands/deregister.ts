import { ExitCode } from "../../errors";
import { defineProjectCommand } from "../define";
import type { TargetArgs } from "../options";
import { registerTable } from "../render";

export const deregisterCommand = defineProjectCommand<TargetArgs>({
  command: "deregister",
  describe: "Delete the manager's AWS connectors for these roles (the roles themselves stay)",
  handler: async ({ io, project, progress }, args) => {
    const { deregisterProject } = require("../../workflows/register") as typeof import("../../workflows/register");
    const report = await deregisterProject(project, {
      concurrency: args.concurrency,
      onResult: (r) => progress.tick(`${r.status} ${r.accountId}`),
    });
    io.result(report, registerTable(report.results, "deregistered"));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
