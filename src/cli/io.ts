/**
 * Where the CLI writes: results on stdout, everything else on stderr. Every write passes through
 * redaction, so that a secret that reached a message by mistake is still not shown, and through
 * a filter of control characters, so that text a server sent cannot drive the terminal.
 */
import type { Log } from "../app/log";
import { redact, stripControl } from "../redact";

export type OutputMode = "text" | "json";

/** The streams and environment a run uses: the process's, or a test's. */
export interface Runtime {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const processRuntime = (): Runtime => ({ env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });

export class Io implements Log {
  private readonly secrets = new Set<string>();

  constructor(
    readonly mode: OutputMode,
    readonly verbose: boolean,
    private readonly runtime: Pick<Runtime, "stdout" | "stderr"> = processRuntime(),
  ) {}

  /** Never print this value (the API key, the external ID outside `external-id get`). */
  addSecret(value: string | undefined): void {
    if (value) this.secrets.add(value);
  }

  /** Stop redacting a value (only `external-id get` does this, to print the ID it was asked for). */
  allow(value: string): void {
    this.secrets.delete(value);
  }

  get stderrIsTty(): boolean {
    return this.runtime.stderr.isTTY === true;
  }

  /** The command's result: JSON as one document, or text. */
  result(json: unknown, text: string): void {
    this.runtime.stdout.write(
      this.clean(this.mode === "json" ? `${JSON.stringify(json, null, 2)}\n` : text.endsWith("\n") ? text : `${text}\n`),
    );
  }

  /** Progress and notes, on stderr. */
  info(message: string): void {
    this.runtime.stderr.write(this.clean(`${message}\n`));
  }

  warn(message: string): void {
    this.runtime.stderr.write(this.clean(`warning: ${message}\n`));
  }

  error(message: string): void {
    this.runtime.stderr.write(this.clean(`error: ${message}\n`));
  }

  /** Details for --verbose only. */
  debug(message: string): void {
    if (this.verbose) this.runtime.stderr.write(this.clean(`${message}\n`));
  }

  /** The stream for a progress bar (stderr). */
  get progressStream(): NodeJS.WritableStream {
    return this.runtime.stderr;
  }

  private clean(text: string): string {
    return stripControl(redact(text, this.secrets), { keepNewlines: true });
  }
}
