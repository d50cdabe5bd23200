/**
 * The program itself (`bin/ds-onboard.js` in a child process; `npm run build` first) stopped by
 * Ctrl+C (SIGINT) or a pipeline's cancel (SIGTERM) half-way through a `register` of 30 accounts
 * against a sandbox manager that takes 100 ms per answer: it exits 130 or 143, says how many
 * steps were done and that running the same command again continues; the rerun finishes, and
 * the manager ends with exactly one connector per account.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { containsSecret, hasControl } from "../../src/redact";
import { type CliResult, runCliProcess } from "../helpers/cli";
import { sandboxEnv, useSandbox } from "../helpers/sandbox";

const BIN = join(__dirname, "..", "..", "bin", "ds-onboard.js");
const ACCOUNTS = 30;
const KEY = "7:PROCESS-CANARY-0123456789abcdefXYZ";

const LATENCY_MS = 100;
const env = useSandbox({ latencyMs: LATENCY_MS, adminKey: KEY, record: false });

let nextFirst = 710000000000;
/** 30 fresh accounts' role ARNs. */
function roles(): string[] {
  const first = nextFirst;
  nextFirst += 1000;
  return Array.from({ length: ACCOUNTS }, (_, i) => `arn:aws:iam::${first + i}:role/DeepSecurityCrossAccountRole`);
}

/** Two accounts at a time, so that a signal lands half-way; the rerun that finishes goes faster. */
function registerArgs(roleArns: string[], extra: string[] = [], concurrency = 2): string[] {
  return ["register", ...roleArns.flatMap((r) => ["--role-arn", r]), "--no-check-trust", "--concurrency", String(concurrency), ...extra];
}

/** Lets what the interrupted program had sent land before counting (a create still inside the manager). */
const settle = () => env.sandbox.idle();

const PROGRESS = /^(created|unchanged|updated|synced|failed) \d{12}/gm;

interface Interrupted extends CliResult {
  signal: NodeJS.Signals | null;
  /** Progress lines on stderr when the signal was sent. */
  linesBefore: number;
  ms: number;
}

/** Runs the program, sends `signal` once `afterLines` accounts are reported, and waits for it to end. */
function interruptAfter(args: string[], signal: NodeJS.Signals, afterLines: number): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        AWS_EC2_METADATA_DISABLED: "true",
        ...sandboxEnv(env, KEY),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let linesBefore = -1;
    const guard = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no exit within 60 s; stderr so far:\n${stderr}`));
    }, 60_000);
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
      const lines = stderr.match(PROGRESS)?.length ?? 0;
      if (linesBefore < 0 && lines >= afterLines) {
        linesBefore = lines;
        child.kill(signal);
      }
    });
    child.on("close", (code, sig) => {
      clearTimeout(guard);
      resolve({ code: code ?? -1, signal: sig, stdout, stderr, linesBefore, ms: Date.now() - started });
    });
  });
}

/** Neither stream holds the key or the tenant's external ID, nor a control character. */
function expectSafe(r: CliResult): void {
  for (const stream of ["stdout", "stderr"] as const) {
    expect({ stream, secret: containsSecret(r[stream], [KEY, env.sandbox.externalId]), control: hasControl(r[stream]) }).toEqual({
      stream,
      secret: false,
      control: false,
    });
  }
}

/** Exactly one connector per account (of these roles), each with its role. */
function expectOnePerAccount(roleArns: string[]): void {
  const connectors = env.sandbox.connectors;
  const wrong = roleArns
    .map((roleArn) => ({ roleArn, count: connectors.filter((c) => c.crossAccountRoleArn === roleArn).length }))
    .filter((x) => x.count !== 1);
  expect(wrong).toEqual([]);
  const accounts = new Set(roleArns.map((r) => r.split(":")[4]));
  const perAccount = connectors.filter((c) => accounts.has(c.accountId!));
  expect(perAccount).toHaveLength(ACCOUNTS);
}

/** The number of steps the interruption message reports, from "N of 30 step(s) done". */
function stepsDone(stderr: string): number {
  const m = /interrupted by SIG(?:INT|TERM): (\d+) of (\d+) step\(s\) done/.exec(stderr);
  expect(m).not.toBeNull();
  expect(Number(m![2])).toBe(ACCOUNTS);
  return Number(m![1]);
}

/** Runs the same command again to the end: exit 0, every account registered, one connector each. */
async function rerun(roleArns: string[], before: number, extra: string[] = []): Promise<void> {
  const again = await runCliProcess(registerArgs(roleArns, ["--output", "json", ...extra], 10), sandboxEnv(env, KEY), {
    timeoutMs: 60_000,
  });
  expect({ code: again.code, stderr: again.code === 0 ? "" : again.stderr }).toEqual({ code: 0, stderr: "" });
  const report = JSON.parse(again.stdout) as { ok: boolean; results: { accountId: string; status: string }[] };
  expect(report.ok).toBe(true);
  expect(report.results).toHaveLength(ACCOUNTS);
  const statuses = report.results.map((r) => r.status);
  expect(statuses.filter((s) => s !== "created" && s !== "unchanged")).toEqual([]);
  // What the interrupted run finished is not created again.
  expect(statuses.filter((s) => s === "unchanged").length).toBeGreaterThanOrEqual(before);
  expectSafe(again);
  expectOnePerAccount(roleArns);
}

describe("register interrupted by a signal, then run again", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} half-way: exit ${code}, says what was done and that a rerun continues; the rerun leaves one connector per account`, async () => {
      const roleArns = roles();
      const r = await interruptAfter(registerArgs(roleArns), signal, 4);
      expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
      expect(r.stdout).toBe("");
      const done = stepsDone(r.stderr);
      expect(done).toBeGreaterThanOrEqual(r.linesBefore);
      expect(done).toBeLessThan(ACCOUNTS);
      expect(r.stderr).toMatch(new RegExp(`interrupted by ${signal}`));
      expect(r.stderr).toMatch(/run the same command again/i);
      expect(r.stderr).toMatch(/continue/i);
      expect(r.stderr).toMatch(/not duplicate/i);
      expectSafe(r);
      await settle();
      expect(env.sandbox.connectors.filter((c) => roleArns.includes(c.crossAccountRoleArn!)).length).toBeLessThan(ACCOUNTS);
      await rerun(roleArns, done);
    }, 90_000);
  }

  it("SIGTERM with --output json: one JSON document on stdout with interrupted, the steps done and exit code 143", async () => {
    const roleArns = roles();
    const r = await interruptAfter(registerArgs(roleArns, ["--output", "json"]), "SIGTERM", 3);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 143, signal: null });
    let doc: { ok: boolean; interrupted: string; done: string[]; total: number; exitCode: number; message: string } | undefined;
    expect(() => {
      doc = JSON.parse(r.stdout);
    }).not.toThrow();
    expect(r.stdout.trim()).toBe(JSON.stringify(doc, null, 2));
    expect(doc).toMatchObject({ ok: false, interrupted: "SIGTERM", total: ACCOUNTS, exitCode: 143 });
    expect(doc!.done.length).toBeGreaterThanOrEqual(r.linesBefore);
    expect(doc!.done.length).toBeLessThan(ACCOUNTS);
    expect(doc!.message).toMatch(/run the same command again/i);
    expect(stepsDone(r.stderr)).toBe(doc!.done.length);
    expectSafe(r);
    await settle();
    await rerun(roleArns, doc!.done.length);
  }, 90_000);

  it("interrupted twice (SIGINT early, SIGTERM later), then run to the end: one connector per account", async () => {
    const roleArns = roles();
    const first = await interruptAfter(registerArgs(roleArns), "SIGINT", 1);
    expect(first.code).toBe(130);
    const second = await interruptAfter(registerArgs(roleArns), "SIGTERM", 12);
    expect(second.code).toBe(143);
    // The second run reports the accounts the first one finished as unchanged, and counts them as done.
    expect(stepsDone(second.stderr)).toBeGreaterThanOrEqual(12);
    expectSafe(first);
    expectSafe(second);
    await settle();
    await rerun(roleArns, stepsDone(first.stderr));
  }, 120_000);
});
