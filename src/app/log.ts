/**
 * Where workflows report progress and notes. The CLI writes them to stderr (redacted); a library
 * caller may pass its own, or none.
 */
export interface Log {
  /** Progress and notes. */
  info(message: string): void;
  warn(message: string): void;
  /** Details shown only when asked for (`--verbose`). */
  debug(message: string): void;
  /** A value that must never be shown (the API key, the tenant's external ID outside `external-id get`). */
  addSecret(value: string | undefined): void;
}

/** A log that drops everything (the default for library callers). */
export const silentLog: Log = {
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  addSecret: () => undefined,
};

/** A log for library callers: notes and warnings on stderr, no debug. */
export function stderrLog(): Log {
  return {
    info: (message) => process.stderr.write(`${message}\n`),
    warn: (message) => process.stderr.write(`warning: ${message}\n`),
    debug: () => undefined,
    addSecret: () => undefined,
  };
}
