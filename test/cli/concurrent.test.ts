/**
 * Several `ds-onboard register` programs at once (child processes of `bin/ds-onboard.js`; `npm
 * run build` first), as two pipeline jobs and a laptop would run them: two started together and
 * a third a moment later, each registering the same 20 roles with `--no-check-trust`, against one
 * sandbox manager that takes 300 ms per answer; then the same with 5xx answers and dropped
 * connections. The manager must end with exactly one connector per account, each program must
 * report that connector, and the duplicates the programs deleted must be the ones they report.
 */
import type { AWSConnector } from "../../src/manager/types";
import { containsSecret, hasControl } from "../../src/redact";
import { type FailureKnobs, SandboxManager } from "../../src/sandbox/manager";
import { type CliResult, runCliProcess } from "../helpers/cli";

const ACCOUNTS = 20;
const KEY = "7:CONCURRENT-CANARY-0123456789abcdefXYZ";

function roles(first: number): string[] {
  return Array.from({ length: ACCOUNTS }, (_, i) => `arn:aws:iam::${first + i}:role/DeepSecurityCrossAccountRole`);
}

interface Result {
  accountId: string;
  status: string;
  connectorId?: number;
  notes: string[];
  removedDuplicates?: number[];
  error?: string;
}

/** What one program reported: per account, its status and connector, and the duplicates it removed. */
interface Reported {
  code: number;
  byAccount: Map<string, { status: string; connectorId?: number }>;
  removed: number[];
  raw: CliResult;
}

/** Reads a program's report: the JSON document, or the text table (`<account>  <status>  connector <id>` and its notes). */
function parse(r: CliResult, json: boolean): Reported {
  const byAccount = new Map<string, { status: string; connectorId?: number }>();
  const removed: number[] = [];
  if (json) {
    const report = JSON.parse(r.stdout) as { ok: boolean; results?: Result[] };
    for (const x of report.results ?? []) {
      byAccount.set(x.accountId, { status: x.status, connectorId: x.connectorId });
      removed.push(...(x.removedDuplicates ?? []));
      // The notes say the same as the field.
      for (const id of x.removedDuplicates ?? []) expect(x.notes.join("\n")).toContain(`removed duplicate connector ${id}`);
    }
  } else {
    for (const m of r.stdout.matchAll(/^(\d{12})\s+(\w+)\s+(?:connector (\d+))?/gm)) {
      byAccount.set(m[1], { status: m[2], connectorId: m[3] === undefined ? undefined : Number(m[3]) });
    }
    for (const m of r.stdout.matchAll(/note: removed duplicate connector (\d+)/g)) removed.push(Number(m[1]));
  }
  return { code: r.code, byAccount, removed, raw: r };
}

function expectSafe(r: CliResult, sandbox: SandboxManager): void {
  for (const stream of ["stdout", "stderr"] as const) {
    expect({ stream, secret: containsSecret(r[stream], [KEY, sandbox.externalId]), control: hasControl(r[stream]) }).toEqual({
      stream,
      secret: false,
      control: false,
    });
  }
}

/** Two programs at once and a third 900 ms later; the first two write JSON, the third text. */
async function race(sandbox: SandboxManager, roleArns: string[]): Promise<{ runs: Reported[]; ms: number }> {
  const env = { DS_MANAGER_URL: sandbox.url, DS_API_KEY: KEY };
  // --timeout 5: a dropped create then waits 5 s (not the default 30) for what it may still make.
  const args = ["register", ...roleArns.flatMap((r) => ["--role-arn", r]), "--no-check-trust", "--timeout", "5"];
  const started = Date.now();
  const [a, b, c] = await Promise.all([
    runCliProcess([...args, "--output", "json"], env, { timeoutMs: 120_000 }),
    runCliProcess([...args, "--output", "json"], env, { timeoutMs: 120_000 }),
    new Promise((resolve) => setTimeout(resolve, 900)).then(() => runCliProcess(args, env, { timeoutMs: 120_000 })),
  ]);
  const ms = Date.now() - started;
  for (const r of [a, b, c]) expectSafe(r, sandbox);
  return { runs: [parse(a, true), parse(b, true), parse(c, false)], ms };
}

/** The connectors of these roles, by account. */
function connectorsByAccount(sandbox: SandboxManager, roleArns: string[]): Map<string, AWSConnector[]> {
  const byAccount = new Map<string, AWSConnector[]>();
  for (const c of sandbox.connectors.filter((x) => roleArns.includes(x.crossAccountRoleArn!))) {
    byAccount.set(c.accountId!, [...(byAccount.get(c.accountId!) ?? []), c]);
  }
  return byAccount;
}

/** The IDs the manager gave to creates it answered, and the connectors it deleted (200s only). */
function createdAndDeleted(sandbox: SandboxManager): { created: number[]; deleted: number[] } {
  const created = sandbox.exchanges
    .filter((e) => e.method === "POST" && e.path === "/awsconnectors" && e.status === 200)
    .map((e) => (e.responseBody as AWSConnector).ID!);
  const deleted = sandbox.exchanges.filter((e) => e.method === "DELETE" && e.status === 200).map((e) => Number(e.path.split("/").pop()));
  return { created, deleted };
}

/** Checks that the programs that succeeded report the kept connector, and that the removed duplicates are reported, each once. */
function expectReported(sandbox: SandboxManager, roleArns: string[], runs: Reported[]): void {
  const kept = connectorsByAccount(sandbox, roleArns);
  for (const run of runs) {
    if (run.code !== 0) continue;
    expect(run.byAccount.size).toBe(ACCOUNTS);
    const wrong = [...run.byAccount].filter(
      ([account, r]) => !["created", "unchanged"].includes(r.status) || r.connectorId !== kept.get(account)?.[0]?.ID,
    );
    expect(wrong).toEqual([]);
  }
  const { created, deleted } = createdAndDeleted(sandbox);
  const keptIds = new Set([...kept.values()].flat().map((c) => c.ID!));
  // Every connector created and not kept was deleted, and every deletion was reported by the program that made it, once.
  expect(created.filter((id) => !keptIds.has(id) && !deleted.includes(id))).toEqual([]);
  const reported = runs.flatMap((r) => r.removed);
  expect([...reported].sort((x, y) => x - y)).toEqual([...deleted].sort((x, y) => x - y));
  expect(new Set(reported).size).toBe(reported.length);
}

describe("concurrent register programs leave exactly one connector per account", () => {
  it("two at once and a third a moment later, 300 ms per answer", async () => {
    const sandbox = await SandboxManager.start({ latencyMs: 300, adminKey: KEY, record: true });
    try {
      const roleArns = roles(720000000000);
      const { runs, ms } = await race(sandbox, roleArns);
      expect(runs.map((r) => ({ code: r.code, stderr: r.code === 0 ? "" : r.raw.stderr }))).toEqual(
        runs.map(() => ({ code: 0, stderr: "" })),
      );
      const byAccount = connectorsByAccount(sandbox, roleArns);
      expect([...byAccount.values()].filter((cs) => cs.length !== 1)).toEqual([]);
      expect(byAccount.size).toBe(ACCOUNTS);
      expectReported(sandbox, roleArns, runs);
      const { created, deleted } = createdAndDeleted(sandbox);
      expect(created.length - deleted.length).toBe(ACCOUNTS);
      expect(sandbox.calls.get("GET /awsconnectors")).toBe(3); // one list per program
      console.log(`3 programs x ${ACCOUNTS} accounts, 300 ms latency: ${ms} ms, ${created.length} creates, ${deleted.length} deletes`);
    } finally {
      await sandbox.stop();
    }
  }, 150_000);

  const faulty: { name: string; failures: FailureKnobs }[] = [
    { name: "20% 5xx answers and 5% dropped connections", failures: { rate5xx: 0.2, dropRate: 0.05 } },
    {
      name: "20% 5xx answers, 5% dropped connections, and 20% of creates carried out but answered 5xx or dropped",
      failures: { rate5xx: 0.2, dropRate: 0.05, createThenFailRate: 0.2 },
    },
  ];
  for (const { name, failures } of faulty)
    it(`the same with ${name}; a rerun finishes whatever an exhausted retry left`, async () => {
      const sandbox = await SandboxManager.start({ latencyMs: 300, adminKey: KEY, record: true, failures, seed: 7 });
      try {
        const roleArns = roles(730000000000);
        const { runs, ms } = await race(sandbox, roleArns);
        // A program may fail an account whose every retry met a failure (exit 1, the report says which);
        // none may leave two connectors for one account.
        for (const r of runs) {
          expect([0, 1]).toContain(r.code);
          if (r.code === 1) expect(r.raw.stderr + r.raw.stdout).toMatch(/fail/i);
        }
        const byAccount = connectorsByAccount(sandbox, roleArns);
        expect([...byAccount.values()].filter((cs) => cs.length > 1)).toEqual([]);
        expectReported(sandbox, roleArns, runs);
        // Every account some program reported as registered has its one connector.
        for (const run of runs) {
          for (const [account, r] of run.byAccount) {
            if (r.status === "created" || r.status === "unchanged")
              expect(byAccount.get(account)?.map((c) => c.ID)).toEqual([r.connectorId]);
          }
        }
        // Run again (still failing now and then) until a run succeeds: then every account has exactly one.
        let reruns = 0;
        let last: CliResult | undefined;
        const args = ["register", ...roleArns.flatMap((r) => ["--role-arn", r]), "--no-check-trust", "--timeout", "5", "--output", "json"];
        while (reruns < 3 && last?.code !== 0) {
          last = await runCliProcess(args, { DS_MANAGER_URL: sandbox.url, DS_API_KEY: KEY }, { timeoutMs: 120_000 });
          expectSafe(last, sandbox);
          reruns++;
        }
        expect(last?.code).toBe(0);
        const after = connectorsByAccount(sandbox, roleArns);
        expect([...after.values()].filter((cs) => cs.length !== 1)).toEqual([]);
        expect(after.size).toBe(ACCOUNTS);
        const { created, deleted } = createdAndDeleted(sandbox);
        console.log(
          `3 programs x ${ACCOUNTS} accounts, 300 ms latency, ${JSON.stringify(failures)}: ${ms} ms, exit codes ${runs.map((r) => r.code).join(",")}, ${created.length} creates, ${deleted.length} deletes, ${reruns} rerun(s)`,
        );
      } finally {
        await sandbox.stop();
      }
    }, 300_000);
});
