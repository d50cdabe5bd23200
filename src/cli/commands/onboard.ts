import { ExitCode } from "../../errors";
import { defineProjectCommand, registerWorkflowOptions, verifyWorkflowOptions } from "../define";
import { type RegisterArgs, registerOptions, type VerifyArgs, verifyOptions } from "../options";
import { onboardTable } from "../render";

type OnboardArgs = VerifyArgs & RegisterArgs & { skipVerify: boolean };

export const onboardCommand = defineProjectCommand<OnboardArgs>({
  command: "onboard",
  describe: "Verify the deployed roles, then register the accounts that passed",
  options: (y) =>
    registerOptions(verifyOptions(y)).option("skip-verify", {
      type: "boolean",
      default: false,
      describe: "register without verifying first (the trust pre-check of --check-trust still runs)",
    }),
  steps: (project, args) => (require("../../workflows/onboard") as typeof import("../../workflows/onboard")).onboardSteps(project, args),
  handler: async ({ io, project, progress }, args) => {
    const { onboardProject } = require("../../workflows/onboard") as typeof import("../../workflows/onboard");
    const report = await onboardProject(project, {
      ...verifyWorkflowOptions(args),
      ...registerWorkflowOptions(args),
      skipVerify: args.skipVerify,
      onStep: (line) => progress.tick(line),
    });
    io.result({ ok: report.ok, accounts: report.rows }, onboardTable(report.rows));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
