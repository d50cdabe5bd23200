/**
 * The checks every hostile-manager CLI test makes: the secrets it plants, and what a run's
 * streams must (exit code, one JSON document) and must not (a secret in any form, a control
 * character) hold.
 */
import { containsSecret, hasControl } from "../../src/redact";
import type { CliResult } from "./cli";
import { echoForms } from "./hostile-manager";

export const KEY = "7:Kx9/zQ+Vb=Tw_Lm-Np.Rs@Yu:Hi,Gf";
export const ID = "3f6c1a9e-5b2d-4e8f-9a7c-0d1e2f3a4b5c";
export const ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m\x9b1m\u202e";
export const ROLE = "arn:aws:iam::111122223333:role/DeepSecurityCrossAccountRole";

/** The forms named in the brief: plain, percent-encoded, base64, upper-case. */
function forms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64"), secret.toUpperCase()];
}
export const ECHO = `key ${forms(KEY).join(" ")} id ${forms(ID).join(" ")}`;

/** Neither stream holds a secret (in any form) or a control character. */
export function expectSafe(r: CliResult, secrets: string[] = [KEY, ID]): void {
  const everyForm = secrets.flatMap((s) => Object.values(echoForms(s)));
  for (const stream of ["stdout", "stderr"] as const) {
    const text = r[stream];
    expect({ stream, secret: containsSecret(text, secrets), control: hasControl(text) }).toEqual({
      stream,
      secret: false,
      control: false,
    });
    expect({ stream, forms: everyForm.filter((f) => text.includes(f)) }).toEqual({ stream, forms: [] });
    if (secrets.includes(ID)) expect(text.toLowerCase()).not.toContain(ID.slice(0, 8));
  }
}

export interface Failure {
  ok: boolean;
  error: { class: string; code?: string; kind?: string; message: string; exitCode: number };
}

/** With --output json: stdout is exactly one JSON document, a failure with this exit code. */
export function expectJsonFailure(r: CliResult, exitCode: number, errorClass: string, kind?: string): Failure {
  expect(r.code).toBe(exitCode);
  let doc: Failure | undefined;
  expect(() => {
    doc = JSON.parse(r.stdout) as Failure;
  }).not.toThrow();
  expect(r.stdout.trim().startsWith("{")).toBe(true);
  expect(r.stdout.trim()).toBe(JSON.stringify(doc, null, 2));
  expect(doc).toMatchObject({ ok: false, error: { class: errorClass, exitCode, message: expect.any(String) } });
  if (kind !== undefined) expect(doc!.error.kind).toBe(kind);
  expect(r.stderr).toMatch(/^error: /m);
  return doc!;
}

/** Text mode failure: nothing on stdout, an error on stderr. */
export function expectTextFailure(r: CliResult, exitCode: number): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: exitCode, stdout: "" });
  expect(r.stderr).toMatch(/^error: /m);
}

export async function timed(run: Promise<CliResult>): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const r = await run;
  return { ...r, ms: Date.now() - started };
}
