/**
 * Errors users can act on, and the exit code each maps to (see the CLI reference).
 */

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  verification: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is written for the user: what happened, and what to do. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UserError";
  }
}

/** Bad flags, config or values: nothing was changed (exit code 2). */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = "UsageError";
  }
}
