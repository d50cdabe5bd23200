/**
 * Runs one command: makes the output and the session, maps errors to exit codes and messages (a
 * stack trace only with --verbose; one JSON document with --output json), and closes the session.
 */

import type { Project } from "../app/project";
import type { Session } from "../app/session";
import { ExitCode, UserError } from "../errors";
import { ValidationError } from "../validation";
import { adviceFor } from "./advice";
import { Io, processRuntime, type Runtime } from "./io";
import { type GlobalArgs, projectFromArgs, sessionFromArgs, type TargetArgs } from "./options";
import { type Progress, progress } from "./progress";

/** What a command handler gets: its output, its session (nothing is opened until used) and the runtime. */
export interface CommandContext {
  readonly io: Io;
  readonly session: Session;
  readonly runtime: Runtime;
}

/** A handler returns its exit code; undefined means success. */
export type Handler<A> = (ctx: CommandContext, args: A & GlobalArgs) => Promise<ExitCode | undefined>;

/** One run of the program: where it writes, its exit code, and the steps done so far (for an interruption's report). */
export interface RunState {
  readonly runtime: Runtime;
  exitCode: ExitCode;
  io?: Io;
  readonly done: string[];
  total?: number;
  /** The command stops on signals by itself (the sandbox). */
  ownSignals?: boolean;
}

/** For a command that handles SIGINT and SIGTERM itself (the sandbox stops its servers). */
export function handleSignalsInCommand(): void {
  current.ownSignals = true;
}

/** Whether the running command handles signals itself. */
export function commandHandlesSignals(): boolean {
  return current.ownSignals === true;
}

let current: RunState = { runtime: processRuntime(), exitCode: ExitCode.ok, done: [] };

/** Sets the runtime of the next parse (the CLI's entry point does this). */
export function beginRun(runtime: Runtime): RunState {
  current = { runtime, exitCode: ExitCode.ok, done: [] };
  return current;
}

/**
 * Says what a run interrupted by a signal had done, and that running it again continues (every
 * command is idempotent). Returns the exit code of the signal (130 for SIGINT, 143 for SIGTERM).
 */
export function reportInterruption(signal: "SIGINT" | "SIGTERM"): number {
  const run = current;
  const io = run.io ?? new Io("text", false, run.runtime);
  const code = signal === "SIGINT" ? 130 : 143;
  const progress = run.total !== undefined ? `${run.done.length} of ${run.total} step(s) done` : `${run.done.length} step(s) done`;
  const message = `interrupted by ${signal}: ${progress}${run.done.length ? ` (last: ${run.done[run.done.length - 1]})` : ""}. Nothing is left half-done: run the same command again to continue; it will not duplicate what was done.`;
  io.error(message);
  if (io.mode === "json") io.result({ ok: false, interrupted: signal, done: run.done, total: run.total, exitCode: code, message }, "");
  return code;
}

/** Wraps a command handler; the exit code lands in the run's state. */
export function command<A>(handler: Handler<A>): (args: A & GlobalArgs) => Promise<void> {
  return async (args) => {
    const run = current;
    const io = new Io(args.output, args.verbose, run.runtime);
    run.io = io;
    let session: Session | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      session = sessionFromArgs(args, run.runtime.env, io);
      const work = handler({ io, session, runtime: run.runtime }, args);
      const deadline =
        args.deadline === undefined
          ? []
          : [
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  const done = run.total !== undefined ? ` (${run.done.length} of ${run.total} step(s) done)` : "";
                  reject(
                    new UserError(
                      `The command did not finish within its deadline of ${args.deadline} s${done}; run it again to continue.`,
                      ExitCode.failed,
                    ),
                  );
                }, args.deadline! * 1000);
              }),
            ];
      run.exitCode = (await Promise.race([work, ...deadline])) ?? ExitCode.ok;
    } catch (error) {
      run.exitCode = reportError(io, error);
    } finally {
      clearTimeout(timer);
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
    ? `${(error as Error).message}${advice ? ` ${advice[0].toUpperCase()}${advice.slice(1)}.` : ""}`
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
          code: error instanceof UserError ? error.errorCode : undefined,
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

/**
 * A command over a project's accounts (verify, register, onboard, deregister): opens the project
 * from `--config` or `--role-arn`, runs with a progress display of `steps` ticks, and stops it.
 */
export function projectCommand<A extends TargetArgs>(
  label: string,
  run: (ctx: CommandContext & { project: Project; progress: Progress }, args: A & GlobalArgs) => Promise<ExitCode | undefined>,
  steps: (project: Project, args: A) => number = (project) => project.targets.length,
): (args: A & GlobalArgs) => Promise<void> {
  return command<A>(async (ctx, args) => {
    const project = await projectFromArgs(ctx.session, args, ctx.runtime.env);
    const state = current;
    state.total = steps(project, args);
    const bar = progress(ctx.io, state.total, label);
    const tracked: Progress = {
      tick: (line) => {
        state.done.push(line);
        bar.tick(line);
      },
      stop: () => bar.stop(),
    };
    try {
      return await run({ ...ctx, project, progress: tracked }, args);
    } finally {
      bar.stop();
    }
  });
}
