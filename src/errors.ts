/**
 * Errors users can act on, and the exit code each maps to (see the CLI reference). Library errors
 * say what happened and what to do in terms of things, not flags; an error with a `code` gets
 * flag-specific advice from the CLI.
 */

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  verification: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Stable names of errors the CLI words advice for. */
export type ErrorCode =
  | "retrieval-disable-without-stored-copy"
  | "retrieval-stored-copy-differs"
  | "store-would-replace"
  | "no-accounts"
  | "migration-state-invalid"
  | "migration-accounts-unknown";

export interface UserErrorOptions {
  readonly cause?: unknown;
  /** A stable name for the CLI's advice. */
  readonly errorCode?: ErrorCode;
  /** Facts about the error (paths, account IDs), for reports. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An error whose message is written for the user: what happened, and what to do. */
export class UserError extends Error {
  readonly errorCode?: ErrorCode;
  readonly data?: Readonly<Record<string, unknown>>;

  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
    options?: UserErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UserError";
    this.errorCode = options?.errorCode;
    this.data = options?.data;
  }
}

/** Bad flags, config or values: nothing was changed (exit code 2). */
export class UsageError extends UserError {
  constructor(message: string, options?: Omit<UserErrorOptions, "cause">) {
    super(message, ExitCode.usage, options);
    this.name = "UsageError";
  }
}

/** The settings of a session, by name (see `SessionSettings`). */
export type SettingName =
  | "managerUrl"
  | "auth"
  | "apiKey"
  | "apiKeyFile"
  | "caBundle"
  | "insecure"
  | "timeoutSeconds"
  | "externalId"
  | "externalIdFrom";

/** A setting that is missing or unusable. Nothing was changed (exit code 2). */
export class SettingError extends UsageError {
  constructor(
    readonly setting: SettingName,
    message: string,
  ) {
    super(message);
    this.name = "SettingError";
  }
}
