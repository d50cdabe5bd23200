/**
 * Runs one command: makes the output and the session, maps errors to exit codes and messages (a
 * stack trace only with --verbose; one JSON document with --output json), and closes the session.
 */
import type { Session } from "../app/session";
import { ExitCode, UserError } from "../errors";
import { ValidationError } from "../validation";
import { adviceFor } from "./advice";
import { Io, processRuntime, type Runtime } from "./io";
import { type GlobalArgs, sessionFromArgs } from "./options";

/** What a command handler gets: its output, its session (nothing is opened until used) and the runtime. */
export interface CommandContext {
  readonly io: Io;
  readonly session: Session;
  readonly runtime: Runtime;
}

/** A handler returns its exit code; undefined means success. */
export type Handler<A> = (ctx: CommandContext, args: A & GlobalArgs) => Promise<ExitCode | undefined>;

let current: { runtime: Runtime; exitCode: ExitCode } = { runtime: processRuntime(), exitCode: ExitCode.ok };

/** Sets the runtime of the next parse (the CLI's entry point does this). */
export function beginRun(runtime: Runtime): { exitCode: ExitCode } {
  current = { runtime, exitCode: ExitCode.ok };
  return current;
}

/** Wraps a command handler; the exit code lands in the run's state. */
export function command<A>(handler: Handler<A>): (args: A & GlobalArgs) => Promise<void> {
  return async (args) => {
    const run = current;
    const io = new Io(args.output, args.verbose, run.runtime);
    let session: Session | undefined;
    try {
      session = sessionFromArgs(args, run.runtime.env, io);
      run.exitCode = (await handler({ io, session, runtime: run.runtime }, args)) ?? ExitCode.ok;
    } catch (error) {
      run.exitCode = reportError(io, error);
    } finally {
      await session?.close().catch(() => undefined);
    }
  };
}

/** Writes an error (and, with --output json, one JSON document on stdout); returns its exit code. */
export function reportError(io: Io, error: unknown): ExitCode {
  const exitCode = error instanceof ValidationError ? ExitCode.usage : error instanceof UserError ? error.exitCode : ExitCode.failed;
  const known = error instanceof ValidationError || error instanceof UserError;
  const advice = adviceFor(error);
  const message = known
    ? `${(error as Error).message}${advice ? ` ${advice}.` : ""}`
    : `internal error: ${(error as Error)?.message ?? String(error)}${io.verbose ? "" : " (run with --verbose for the stack trace, and please report it)"}`;
  io.error(message);
  if (known && error instanceof UserError && error.cause) io.debug(`cause: ${stackOf(error.cause)}`);
  io.debug(stackOf(error));
  if (io.mode === "json") {
    io.result(
      {
        ok: false,
        error: {
          class: known ? (error as Error).name : "InternalError",
          code: error instanceof UserError ? error.code : undefined,
          kind: (error as { kind?: string }).kind,
          message,
          exitCode,
          issues: error instanceof ValidationError ? error.issues : undefined,
        },
      },
      "",
    );
  }
  return exitCode;
}

function stackOf(error: unknown): string {
  return (error as Error)?.stack ?? String(error);
}
