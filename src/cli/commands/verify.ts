import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { type GlobalArgs, projectFromArgs, targetOptions, type VerifyArgs, verifyOptions } from "../options";
import { progress } from "../progress";
import { verifyTable } from "../render";
import { command } from "../run";

export const verifyCommand: CommandModule<GlobalArgs, GlobalArgs & VerifyArgs> = {
  command: "verify",
  describe: "Check deployed roles: trust, permissions, and the assume-role where the caller can do it",
  builder: (y) => verifyOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & VerifyArgs>,
  handler: command<VerifyArgs>(async ({ io, session }, args) => {
    const { verifyProject } = require("../../workflows/verify") as typeof import("../../workflows/verify");
    const project = await projectFromArgs(session, args);
    const bar = progress(io, project.targets.length, "verify");
    const report = await verifyProject(project, {
      assumeAs: args.assumeAs,
      propagationTimeoutMs: args.propagationTimeout * 1000,
      concurrency: args.concurrency,
      alsoAccept: args.alsoAccept,
      onResult: (r) => bar.tick(`verified ${r.accountId}: ${r.ok ? "ok" : "FAILED"}`),
    }).finally(() => bar.stop());
    io.result(report, verifyTable(report.results));
    return report.ok ? ExitCode.ok : ExitCode.verification;
  }),
};
