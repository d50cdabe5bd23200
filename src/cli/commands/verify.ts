import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { adviseVerifyResults } from "../advice";
import { type GlobalArgs, targetOptions, type VerifyArgs, verifyOptions } from "../options";
import { verifyTable } from "../render";
import { projectCommand } from "../run";

export const verifyCommand: CommandModule<GlobalArgs, GlobalArgs & VerifyArgs> = {
  command: "verify",
  describe: "Check deployed roles: trust, permissions, and the assume-role where the caller can do it",
  builder: (y) => verifyOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & VerifyArgs>,
  handler: projectCommand<VerifyArgs>("verify", async ({ io, project, progress }, args) => {
    const { verifyProject } = require("../../workflows/verify") as typeof import("../../workflows/verify");
    const report = await verifyProject(project, {
      assumeAs: args.assumeAs,
      propagationTimeoutMs: args.propagationTimeout * 1000,
      concurrency: args.concurrency,
      alsoAccept: args.alsoAccept,
      onResult: (r) => progress.tick(`verified ${r.accountId}: ${r.ok ? "ok" : "FAILED"}`),
    });
    const results = adviseVerifyResults(report.results);
    io.result({ ...report, results }, verifyTable(results));
    return report.ok ? ExitCode.ok : ExitCode.verification;
  }),
};
