import { mkdtempSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagerClient } from "../../src/manager/client";
import { SandboxManager, search } from "../../src/sandbox/manager";

const clients: ManagerClient[] = [];
const connect = (s: SandboxManager, retry = { maxAttempts: 1 }) => {
  const c = ManagerClient.create({ baseUrl: s.url, apiKey: s.keys.admin, auth: "api-secret-key", retry });
  clients.push(c);
  return c;
};
afterAll(() => Promise.all(clients.map((c) => c.close())));

async function call(s: SandboxManager, path: string, init: RequestInit = {}) {
  return fetch(`${s.url}${path}`, {
    ...init,
    headers: { "api-version": "v1", "api-secret-key": s.keys.admin, "content-type": "application/json", ...(init.headers ?? {}) },
  });
}

describe("sandbox manager", () => {
  it("listens on loopback only", async () => {
    await expect(SandboxManager.start({ host: "0.0.0.0" })).rejects.toThrow(/loopback addresses only/);
  });

  it("keeps tenant, settings and connectors in a state file across restarts", async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), "ds-sbx-")), "state.json");
    const first = await SandboxManager.start({ stateFile });
    const c = connect(first);
    await c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" });
    await c.setSetting("platformSettingAwsExternalIdRetrievalEnabled", "false");
    const id = first.externalId;
    await first.stop();
    const second = await SandboxManager.start({ stateFile });
    try {
      expect(second.externalId).toBe(id);
      expect(second.connectors.map((x) => x.accountId)).toEqual(["111122223333"]);
      expect(second.setting("platformSettingAwsExternalIdRetrievalEnabled")).toBe("false");
      expect((await connect(second).createConnector({ crossAccountRoleArn: "arn:aws:iam::444455556666:role/DS" })).ID).toBe(2);
    } finally {
      await second.stop();
    }
  });

  it("idle() waits for open connections, requests being worked on and creates still to be carried out late", async () => {
    const s = await SandboxManager.start({ latencyMs: 200, failures: { createLateRate: 1, createLateMs: 300 } });
    try {
      const events: string[] = [];
      const { port } = new URL(s.url);
      // A connection that has sent nothing yet (as a killed client's, before its bytes are read).
      const socket = connectTcp(Number(port), "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      // A create the manager carries out 300 ms after the client gave up on it (and closed).
      const create = new Promise<void>((resolve) => {
        const req = httpRequest(`${s.url}/awsconnectors`, {
          method: "POST",
          headers: { "api-version": "v1", "api-secret-key": s.keys.admin, "content-type": "application/json" },
        });
        req.on("error", () => {
          events.push("create given up");
          resolve();
        });
        req.end(JSON.stringify({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" }));
        setTimeout(() => req.destroy(), 100);
      });
      const idle = s.idle().then(() => events.push(`idle, ${s.connectors.length} connector(s)`));
      await new Promise((resolve) => setTimeout(resolve, 150));
      socket.end(() => events.push("socket closed"));
      await Promise.all([create, idle]);
      expect(events).toEqual(["create given up", "socket closed", "idle, 1 connector(s)"]);
      expect(s.madeLate.map((c) => c.ID)).toEqual([s.connectors[0].ID]);
      // An open connection alone keeps it from being idle.
      events.length = 0;
      const quiet = connectTcp(Number(port), "127.0.0.1");
      await new Promise((resolve) => quiet.once("connect", resolve));
      setTimeout(() => quiet.end(() => events.push("socket closed")), 200);
      await s.idle().then(() => events.push("idle"));
      expect(events).toEqual(["socket closed", "idle"]);
    } finally {
      await s.stop();
    }
  });

  it("rate-limits with 429 and Retry-After", async () => {
    const s = await SandboxManager.start({ rateLimit: 5 });
    try {
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: 12 }, () => call(s, "/apikeys/current").then((r) => [r.status, r.headers.get("retry-after")])),
      );
      const span = Date.now() - started;
      // A bucket of 5 tokens, refilled at 5/s while the 12 requests arrive: 5, and one more per
      // 200 ms they took to arrive (a loaded machine).
      expect(statuses.filter(([st]) => st === 200).length).toBeGreaterThanOrEqual(5);
      expect(statuses.filter(([st]) => st === 200).length).toBeLessThanOrEqual(5 + Math.ceil(span / 200));
      expect(statuses.filter(([st]) => st === 429).length).toBeGreaterThan(0);
      expect(statuses.filter(([st]) => st === 429).every(([, ra]) => Number(ra) >= 1)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it("adds latency", async () => {
    const s = await SandboxManager.start({ latencyMs: 150 });
    try {
      const started = Date.now();
      await call(s, "/apikeys/current");
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await s.stop();
    }
  });

  it("validates connectors as the manager does and runs the assume-role check", async () => {
    const refused = new Set(["arn:aws:iam::999999999999:role/Broken"]);
    const s = await SandboxManager.start({
      assumeRole: async (arn, externalId) =>
        refused.has(arn) ? { ok: false, message: "AccessDenied" } : externalId ? { ok: true } : { ok: false, message: "no ID" },
    });
    try {
      const bad = await call(s, "/awsconnectors", { method: "POST", body: JSON.stringify({ displayName: "x" }) });
      expect(bad.status).toBe(400);
      const wrongArn = await call(s, "/awsconnectors", {
        method: "POST",
        body: JSON.stringify({ crossAccountRoleArn: "arn:aws:iam::1:role/x" }),
      });
      expect(wrongArn.status).toBe(400);
      const mismatch = await call(s, "/awsconnectors", {
        method: "POST",
        body: JSON.stringify({ accountId: "111111111111", crossAccountRoleArn: "arn:aws:iam::222222222222:role/x" }),
      });
      expect(mismatch.status).toBe(400);
      const broken = await call(s, "/awsconnectors", {
        method: "POST",
        body: JSON.stringify({ crossAccountRoleArn: "arn:aws:iam::999999999999:role/Broken" }),
      });
      expect(broken.status).toBe(400);
      expect(((await broken.json()) as { message: string }).message).toMatch(/Unable to assume the cross account role .*AccessDenied/);
      expect(s.connectors).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it("searches as the manager does: equal, not-equal, wildcards, numbers, IDs, maxItems", () => {
    const all = [
      { ID: 1, accountId: "111111111111", displayName: "prod-eu", workspacesEnabled: true, lastSyncTime: 10 },
      { ID: 2, accountId: "222222222222", displayName: "prod-us", workspacesEnabled: false, lastSyncTime: 20 },
      { ID: 3, accountId: "333333333333", displayName: "dev", workspacesEnabled: false, lastSyncTime: 30 },
    ];
    const ids = (c: ReturnType<typeof search>) => c.map((x) => x.ID);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "accountId", stringValue: "222222222222" }] }))).toEqual([2]);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "displayName", stringTest: "not-equal", stringValue: "dev" }] }))).toEqual([
      1, 2,
    ]);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "displayName", stringValue: "prod-%", stringWildcards: true }] }))).toEqual([
      1, 2,
    ]);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "displayName", stringValue: "prod-%", stringWildcards: false }] }))).toEqual([]);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "lastSyncTime", numericTest: "greater-than", numericValue: 15 }] }))).toEqual([
      2, 3,
    ]);
    expect(ids(search(all, { searchCriteria: [{ fieldName: "workspacesEnabled", booleanTest: true }] }))).toEqual([1]);
    expect(ids(search(all, { searchCriteria: [{ idTest: "less-than-or-equal", idValue: 2 }] }))).toEqual([1, 2]);
    expect(ids(search(all, { maxItems: 1 }))).toEqual([1]);
  });
});
