/**
 * Where the CLI writes: results on stdout, everything else on stderr. Every write passes
 * through redaction, so that a secret that reached a message by mistake is still not shown.
 */
import { redact } from "../redact";

export type OutputMode = "text" | "json";

export class Io {
  private readonly secrets = new Set<string>();

  constructor(
    readonly mode: OutputMode,
    readonly verbose: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** Never print this value (the API key). */
  addSecret(value: string | undefined): void {
    if (value) this.secrets.add(value);
  }

  /** The command's result: JSON as one document, or text. */
  result(json: unknown, text: string): void {
    this.stdout.write(this.clean(this.mode === "json" ? `${JSON.stringify(json, null, 2)}\n` : text.endsWith("\n") ? text : `${text}\n`));
  }

  /** Progress and notes, on stderr. */
  info(message: string): void {
    this.stderr.write(this.clean(`${message}\n`));
  }

  warn(message: string): void {
    this.stderr.write(this.clean(`warning: ${message}\n`));
  }

  error(message: string): void {
    this.stderr.write(this.clean(`error: ${message}\n`));
  }

  /** Details for --verbose only. */
  debug(message: string): void {
    if (this.verbose) this.stderr.write(this.clean(`${message}\n`));
  }

  private clean(text: string): string {
    return redact(text, this.secrets);
  }
}
