/**
 * Runs one command: makes the context, maps errors to exit codes and messages (a stack trace
 * only with --verbose), and closes what the command opened.
 */
import { ExitCode, UserError } from "../errors";
import { ValidationError } from "../validation";
import { Context, type GlobalArgs } from "./context";

// biome-ignore lint/suspicious/noConfusingVoidType: handlers that print their own result return nothing
export type Handler<A> = (ctx: Context, args: A & GlobalArgs) => Promise<ExitCode | void>;

/** Wraps a command handler; the exit code lands in `process.exitCode`. */
export function command<A>(handler: Handler<A>): (args: A & GlobalArgs) => Promise<void> {
  return async (args) => {
    const ctx = new Context(args);
    try {
      process.exitCode = (await handler(ctx, args)) ?? ExitCode.ok;
    } catch (error) {
      process.exitCode = reportError(ctx, error);
    } finally {
      await ctx.close().catch(() => undefined);
    }
  };
}

export function reportError(ctx: Context, error: unknown): ExitCode {
  if (error instanceof ValidationError) {
    ctx.io.error(error.message);
    return ExitCode.usage;
  }
  if (error instanceof UserError) {
    ctx.io.error(error.message);
    if (ctx.args.verbose && error.cause) ctx.io.debug(`cause: ${stackOf(error.cause)}`);
    if (ctx.args.verbose) ctx.io.debug(stackOf(error));
    return error.exitCode;
  }
  ctx.io.error(
    `internal error: ${(error as Error)?.message ?? String(error)}${ctx.args.verbose ? "" : " (run with --verbose for the stack trace, and please report it)"}`,
  );
  ctx.io.debug(stackOf(error));
  return ExitCode.failed;
}

function stackOf(error: unknown): string {
  return (error as Error)?.stack ?? String(error);
}
