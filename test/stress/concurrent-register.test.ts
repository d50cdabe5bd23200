/**
 * Several registration runs at once, as two pipelines on two machines would do: each run has
 * its own ManagerClient (no shared memory, no shared files), against a sandbox manager with
 * 300 ms of latency per call. However they interleave, and with failures injected, every
 * account must end with exactly one connector, and every run must report that connector.
 */
import { ManagerClient } from "../../src/manager/client";
import { type RegisterResult, registerConnectors } from "../../src/onboard/register";
import type { RoleTarget } from "../../src/onboard/targets";
import { type FailureKnobs, SandboxManager } from "../../src/sandbox/manager";

const ACCOUNTS = 20;

function targets(first: number): RoleTarget[] {
  return Array.from({ length: ACCOUNTS }, (_, i) => {
    const accountId = String(first + i);
    return { accountId, roleArn: `arn:aws:iam::${accountId}:role/DeepSecurityCrossAccountRole`, displayName: `acct ${accountId}` };
  });
}

async function race(
  failures: FailureKnobs | undefined,
  first: number,
): Promise<{ sandbox: SandboxManager; runs: RegisterResult[][]; ms: number }> {
  const sandbox = await SandboxManager.start({ latencyMs: 300, failures, seed: first % 1000 });
  const clients: ManagerClient[] = [];
  const run = async (delayMs: number) => {
    await new Promise((r) => setTimeout(r, delayMs));
    const client = ManagerClient.create({
      baseUrl: sandbox.url,
      apiKey: sandbox.keys.admin,
      auth: "api-secret-key",
      timeoutMs: 10_000, // no hangs here: a loaded machine's slow answer must not count as lost
      retry: { maxAttempts: 8, baseDelayMs: 50, maxDelayMs: 400, maxRetryAfterMs: 200 },
    });
    clients.push(client);
    // The sandbox carries a create out before it drops the answer: 2 s of landing window is plenty.
    return registerConnectors(client, targets(first), { concurrency: 8, settleMs: 300, assumeRetryDelayMs: 100, landingWindowMs: 2000 });
  };
  const started = Date.now();
  try {
    // Two runs at once, and a third that starts while they are half-way.
    const runs = await Promise.all([run(0), run(0), run(900)]);
    return { sandbox, runs, ms: Date.now() - started };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function expectExactlyOne(sandbox: SandboxManager, runs: RegisterResult[][], first: number): void {
  const byAccount = new Map<string, number[]>();
  for (const c of sandbox.connectors) byAccount.set(c.accountId!, [...(byAccount.get(c.accountId!) ?? []), c.ID!]);
  const wrong = targets(first)
    .map((t) => ({ account: t.accountId, ids: byAccount.get(t.accountId) ?? [] }))
    .filter((x) => x.ids.length !== 1);
  expect(wrong).toEqual([]);
  expect(byAccount.size).toBe(ACCOUNTS);
  for (const results of runs) {
    expect(results.filter((r) => r.status === "failed").map((r) => r.error)).toEqual([]);
    const mismatched = results.filter((r) => r.connectorId !== byAccount.get(r.accountId)?.[0]);
    expect(mismatched.map((r) => ({ account: r.accountId, reported: r.connectorId, notes: r.notes }))).toEqual([]);
  }
  for (const c of sandbox.connectors) expect(c.workspacesEnabled).toBe(true);
}

describe("concurrent registration runs converge to one connector per account", () => {
  it("three runs, 300 ms latency, no failures", async () => {
    const first = 610000000000;
    const { sandbox, runs, ms } = await race(undefined, first);
    try {
      expectExactlyOne(sandbox, runs, first);
      const creates = sandbox.calls.get("POST /awsconnectors") ?? 0;
      const deletes = sandbox.calls.get("DELETE /awsconnectors/{awsConnectorID}") ?? 0;
      // The two first runs raced on every account: duplicates were made, and removed.
      expect(creates).toBeGreaterThan(ACCOUNTS);
      expect(deletes).toBeGreaterThanOrEqual(creates - ACCOUNTS); // both runs may delete the same duplicate (one gets a 404)
      expect(sandbox.calls.get("GET /awsconnectors")).toBe(3); // one list per run
      console.log(`3 runs x ${ACCOUNTS} accounts, 300 ms latency: ${ms} ms, ${creates} creates, ${deletes} deletes`);
    } finally {
      await sandbox.stop();
    }
  }, 120_000);

  it("three runs, 300 ms latency, 20% of calls failing (5xx, 429, dropped) and creates lost after they happened", async () => {
    const first = 620000000000;
    const failures = { rate5xx: 0.12, rate429: 0.05, dropRate: 0.03, createThenFailRate: 0.2 };
    const { sandbox, runs, ms } = await race(failures, first);
    try {
      expectExactlyOne(sandbox, runs, first);
      const notes = runs.flat().flatMap((r) => r.notes);
      expect(notes.some((n) => /created by the lost request/.test(n))).toBe(true);
      console.log(
        `3 runs x ${ACCOUNTS} accounts, 300 ms latency, 20% failures: ${ms} ms, ${sandbox.totalCalls} calls, ${sandbox.calls.get("POST /awsconnectors")} creates`,
      );
    } finally {
      await sandbox.stop();
    }
  }, 180_000);
});
