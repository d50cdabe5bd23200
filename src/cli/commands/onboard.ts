import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, type RegisterArgs, registerOptions, targetOptions, type VerifyArgs, verifyOptions } from "../options";
import { onboardTable } from "../render";
import { projectCommand } from "../run";

type OnboardArgs = VerifyArgs & RegisterArgs & { skipVerify: boolean };

export const onboardCommand: CommandModule<GlobalArgs, GlobalArgs & OnboardArgs> = {
  command: "onboard",
  describe: "Verify the deployed roles, then register the accounts that passed",
  builder: (y) =>
    registerOptions(verifyOptions(targetOptions(y))).option("skip-verify", {
      type: "boolean",
      default: false,
      describe: "register without verifying first (the trust pre-check of --check-trust still runs)",
    }) as unknown as Argv<GlobalArgs & OnboardArgs>,
  handler: projectCommand<OnboardArgs>(
    "onboard",
    async ({ io, project, progress }, args) => {
      const { onboardProject } = require("../../workflows/onboard") as typeof import("../../workflows/onboard");
      const report = await onboardProject(project, {
        skipVerify: args.skipVerify,
        checkTrust: args.checkTrust,
        assumeAs: args.assumeAs,
        propagationTimeoutMs: args.propagationTimeout * 1000,
        alsoAccept: args.alsoAccept,
        sync: args.sync,
        removeDuplicates: args.removeDuplicates,
        concurrency: args.concurrency,
        assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
        onStep: (line) => progress.tick(line),
      });
      io.result({ ok: report.ok, accounts: report.rows }, onboardTable(report.rows));
      return report.ok ? ExitCode.ok : ExitCode.failed;
    },
    (project, args) => (require("../../workflows/onboard") as typeof import("../../workflows/onboard")).onboardSteps(project, args),
  ),
};
