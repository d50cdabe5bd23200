/**
 * The ds-onboard command line. Each command's file declares its options; its handler loads the
 * workflow (AWS SDK, undici, cdktf) only when it runs, so that `--help` and light commands start
 * fast. `runCli` runs one command line against given streams and environment and returns the exit
 * code (tests call it in-process); `main` is the program.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import type { ExitCode } from "../errors";
import { demoCommand } from "./commands/demo";
import { deploymentRoleCommand } from "./commands/deployment-role";
import { deregisterCommand } from "./commands/deregister";
import { doctorCommand } from "./commands/doctor";
import { externalIdCommand } from "./commands/external-id";
import { initCommand } from "./commands/init";
import { migrateCommand } from "./commands/migrate-external-id";
import { offboardCommand } from "./commands/offboard";
import { onboardCommand } from "./commands/onboard";
import { reconcileCommand } from "./commands/reconcile";
import { registerCommand } from "./commands/register";
import { sandboxCommand } from "./commands/sandbox";
import { statusCommand } from "./commands/status";
import { synthCommand } from "./commands/synth";
import { verifyCommand } from "./commands/verify";
import { Io, processRuntime, type Runtime } from "./io";
import { globalOptions } from "./options";
import { beginRun, commandHandlesSignals, reportError, reportInterruption } from "./run";

/** A command line yargs refused (unknown option, bad choice, failed check). */
class ParseError extends Error {}

export function buildCli(argv: string[], columns = 100) {
  return globalOptions(
    yargs(argv)
      .scriptName("ds-onboard")
      .usage("$0 <command> [options]\n\nConnect AWS accounts to Deep Security / Workload Security through a cross-account role."),
  )
    .command(externalIdCommand)
    .command(doctorCommand)
    .command(initCommand)
    .command(synthCommand)
    .command(deploymentRoleCommand)
    .command(verifyCommand)
    .command(registerCommand)
    .command(onboardCommand)
    .command(deregisterCommand)
    .command(offboardCommand)
    .command(reconcileCommand)
    .command(statusCommand)
    .command(migrateCommand)
    .command(demoCommand)
    .command(sandboxCommand)
    .demandCommand(1, "Name a command; see --help.")
    .recommendCommands()
    .strict()
    .env(false)
    .exitProcess(false)
    .wrap(Math.min(110, columns))
    .fail((message, error) => {
      // Handlers report their own errors; what lands here is yargs' parsing and option checks
      // (yargs wraps errors thrown by coerce functions in its own YError).
      throw new ParseError(error ? error.message : message);
    });
}

/** Runs one command line; returns its exit code. Output goes to the runtime's streams. */
export async function runCli(argv: string[], runtime: Runtime = processRuntime()): Promise<ExitCode> {
  const run = beginRun(runtime);
  const json = argv.includes("--output=json") || argv.some((a, i) => a === "--output" && argv[i + 1] === "json");
  try {
    let shown = "";
    await buildCli(argv, runtime.stdout.columns || 100).parseAsync(argv, {}, (_error, _argv, output) => {
      shown = output;
    });
    // --help and --version: yargs hands their text over instead of printing it.
    if (shown) runtime.stdout.write(`${shown}\n`);
    return run.exitCode;
  } catch (error) {
    const io = new Io(json ? "json" : "text", argv.includes("--verbose"), runtime);
    if (error instanceof ParseError || (error as Error)?.name === "YError") {
      const { UsageError } = require("../errors") as typeof import("../errors");
      return reportError(io, new UsageError(`${(error as Error).message}\nRun \`ds-onboard --help\` for the commands and options.`));
    }
    return reportError(io, error);
  }
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  // The SDK warns on Node 20 about its future releases; the pinned version supports Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // Ctrl+C or a pipeline's cancel: say what was done and that a rerun continues, then stop.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (commandHandlesSignals()) return;
      const code = reportInterruption(signal);
      process.stderr.write("", () => process.exit(code));
    });
  }
  const code = await runCli(argv);
  // The command is done: exit once stdout and stderr have drained (a pipe takes large output in
  // pieces), instead of waiting for HTTP clients' idle timers.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
  process.exit(code);
}
