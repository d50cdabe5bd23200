import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import {
  type GlobalArgs,
  projectFromArgs,
  type RegisterArgs,
  registerOptions,
  targetOptions,
  type VerifyArgs,
  verifyOptions,
} from "../options";
import { progress } from "../progress";
import { onboardTable } from "../render";
import { command } from "../run";

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
  handler: command<OnboardArgs>(async ({ io, session }, args) => {
    const { onboardProject, onboardSteps } = require("../../workflows/onboard") as typeof import("../../workflows/onboard");
    const project = await projectFromArgs(session, args);
    const bar = progress(io, onboardSteps(project, args), "onboard");
    const report = await onboardProject(project, {
      skipVerify: args.skipVerify,
      checkTrust: args.checkTrust,
      assumeAs: args.assumeAs,
      propagationTimeoutMs: args.propagationTimeout * 1000,
      alsoAccept: args.alsoAccept,
      sync: args.sync,
      concurrency: args.concurrency,
      assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
      onStep: (line) => bar.tick(line),
    }).finally(() => bar.stop());
    io.result({ ok: report.ok, accounts: report.rows }, onboardTable(report.rows));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  }),
};
