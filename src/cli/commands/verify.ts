import { ExitCode } from "../../errors";
import { adviseVerifyResults } from "../advice";
import { defineProjectCommand, verifyWorkflowOptions } from "../define";
import { type VerifyArgs, verifyOptions } from "../options";
import { verifyTable } from "../render";

export const verifyCommand = defineProjectCommand<VerifyArgs>({
  command: "verify",
  describe: "Check deployed roles: trust, permissions, and the assume-role where the caller can do it",
  options: verifyOptions,
  handler: async ({ io, project, progress }, args) => {
    const { verifyProject } = require("../../workflows/verify") as typeof import("../../workflows/verify");
    const report = await verifyProject(project, {
      ...verifyWorkflowOptions(args),
      onResult: (r) => progress.tick(`verified ${r.accountId}: ${r.ok ? "ok" : "FAILED"}`),
    });
    const results = adviseVerifyResults(report.results);
    io.result({ ...report, results }, verifyTable(results));
    return report.ok ? ExitCode.ok : ExitCode.verification;
  },
});
