/**
 * registerConnectors against the sandbox manager, in process: WorkSpaces setting, existing
 * duplicates (reported; removed only when asked), connectors of other roles left alone,
 * convergence when another party creates or deletes at the same time.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ManagerClient } from "../../src/manager/client";
import { Registrar, registerConnectors } from "../../src/onboard/register";
import type { RoleTarget } from "../../src/onboard/targets";
import { SandboxManager } from "../../src/sandbox/manager";
import { HostileManager } from "../helpers/hostile-manager";

let sandbox: SandboxManager;
const opened: ManagerClient[] = [];
beforeAll(async () => {
  sandbox = await SandboxManager.start();
});
const proxies: Server[] = [];
/** Errors thrown by a proxy's handler (a test's script, or the sandbox behind it): each test ends with none. */
const proxyErrors: unknown[] = [];
afterEach(() => {
  expect(proxyErrors.splice(0)).toEqual([]);
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  for (const p of proxies) p.closeAllConnections();
  await Promise.all(proxies.map((p) => new Promise((r) => p.close(r))));
  await sandbox.stop();
});

function client(): ManagerClient {
  const c = ManagerClient.create({ baseUrl: sandbox.url, apiKey: sandbox.keys.admin, auth: "api-secret-key", retry: { baseDelayMs: 5 } });
  opened.push(c);
  return c;
}

type Answer = { status: number; text: string };

/**
 * A client whose requests go through a proxy in front of the sandbox. `handle` sees each
 * request and calls `forward` to pass it on (or not), and returns the answer to give, or
 * "drop" to close the connection without one.
 */
async function throughProxy(
  handle: (forward: () => Promise<Answer>, req: IncomingMessage) => Promise<Answer | "drop">,
  options: { timeoutMs: number },
): Promise<ManagerClient> {
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    const forward = async (): Promise<Answer> => {
      const upstream = await fetch(sandbox.url.replace(/\/api$/, "") + req.url, {
        method: req.method,
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)),
        ) as Record<string, string>,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      return { status: upstream.status, text: await upstream.text() };
    };
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const answer = await handle(forward, req);
      if (answer === "drop") req.socket.destroy();
      else res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.text);
    } catch (error) {
      proxyErrors.push(error);
      req.socket.destroy();
    }
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxies.push(proxy);
  const c = ManagerClient.create({
    baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api`,
    apiKey: sandbox.keys.admin,
    auth: "api-secret-key",
    timeoutMs: options.timeoutMs,
    retry: { baseDelayMs: 5 },
  });
  opened.push(c);
  return c;
}

/** A promise with its resolve. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A proxy script that does `first` to the first connector create and forwards everything else. */
function firstCreate(first: (forward: () => Promise<Answer>) => Promise<Answer | "drop">) {
  let done = false;
  return (forward: () => Promise<Answer>, req: IncomingMessage): Promise<Answer | "drop"> => {
    if (req.method !== "POST" || req.url !== "/api/awsconnectors" || done) return forward();
    done = true;
    return first(forward);
  };
}

let next = 510000000000;
function target(role = "DeepSecurityCrossAccountRole", accountId = String(next++)): RoleTarget {
  return { accountId, roleArn: `arn:aws:iam::${accountId}:role/${role}`, displayName: `acct ${accountId}` };
}
const connectorsOf = (accountId: string) => sandbox.connectors.filter((c) => c.accountId === accountId);

/** A new account with two connectors for its role, as runs before the duplicate check left them: a (lowest ID) and b. */
async function accountWithDuplicate() {
  const t = target();
  const admin = client();
  const a = await admin.createConnector({ crossAccountRoleArn: t.roleArn, workspacesEnabled: true });
  const b = await admin.createConnector({ crossAccountRoleArn: t.roleArn, workspacesEnabled: true });
  return { t, admin, a, b };
}

/** Another party acts on a connector just before `c` calls `method` on it. */
function otherPartyFirst(c: ManagerClient, method: "describeConnector" | "deleteConnector", act: (id: number) => Promise<unknown>): void {
  const call = c[method].bind(c) as (id: number) => Promise<never>;
  c[method] = async (id: number) => {
    await act(id);
    return call(id);
  };
}

describe("the WorkSpaces setting follows the role", () => {
  it("creates connectors with WorkSpaces enabled by default, and leaves them unchanged after", async () => {
    const t = target();
    const [r] = await registerConnectors(client(), [t]);
    expect(r).toMatchObject({ status: "created" });
    expect(connectorsOf(t.accountId)).toEqual([expect.objectContaining({ ID: r.connectorId, workspacesEnabled: true })]);
    expect((await registerConnectors(client(), [t]))[0]).toMatchObject({ status: "unchanged", connectorId: r.connectorId });
  });

  it("creates with WorkSpaces disabled when the role leaves them out", async () => {
    const t = target();
    await registerConnectors(client(), [t], { workspacesEnabled: false });
    expect(connectorsOf(t.accountId)[0].workspacesEnabled).toBe(false);
  });

  it("updates an existing connector whose setting differs (the manager's default, false)", async () => {
    const t = target();
    const old = await client().createConnector({ displayName: "old", crossAccountRoleArn: t.roleArn });
    expect(old.workspacesEnabled).toBe(false);
    const [r] = await registerConnectors(client(), [t]);
    expect(r).toMatchObject({ status: "updated", connectorId: old.ID, notes: ["WorkSpaces enabled (was disabled)"] });
    expect(connectorsOf(t.accountId)).toEqual([expect.objectContaining({ ID: old.ID, workspacesEnabled: true })]);
    const [off] = await registerConnectors(client(), [t], { workspacesEnabled: false });
    expect(off).toMatchObject({ status: "updated", notes: ["WorkSpaces disabled (was enabled)"] });
    expect(connectorsOf(t.accountId)[0].workspacesEnabled).toBe(false);
  });

  it("changes the role and the setting in one modify", async () => {
    const t = target();
    const old = await client().createConnector({ crossAccountRoleArn: `arn:aws:iam::${t.accountId}:role/Old` });
    const c = client();
    const before = c.transport.stats.requests;
    const [r] = await registerConnectors(c, [t]);
    expect(r.status).toBe("updated");
    expect(c.transport.stats.requests - before).toBe(2); // the list and one modify
    expect(connectorsOf(t.accountId)).toEqual([
      expect.objectContaining({ ID: old.ID, crossAccountRoleArn: t.roleArn, workspacesEnabled: true }),
    ]);
  });
});

describe("existing duplicates", () => {
  it("are reported, not removed, by default; removed with removeDuplicates", async () => {
    const t = target();
    const admin = client();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await admin.createConnector({ crossAccountRoleArn: t.roleArn, workspacesEnabled: true })).ID!);
    const other = await admin.createConnector({ crossAccountRoleArn: `arn:aws:iam::${t.accountId}:role/Other` });

    const [reported] = await registerConnectors(client(), [t]);
    expect(reported).toMatchObject({ status: "unchanged", connectorId: ids[0], duplicates: [ids[1], ids[2]], otherConnectors: [other.ID] });
    expect(reported.removedDuplicates).toBeUndefined();
    expect(reported.notes.join("\n")).toMatch(/2 duplicate connectors for this role .*not removed/);
    expect(connectorsOf(t.accountId)).toHaveLength(4);

    const [removed] = await registerConnectors(client(), [t], { removeDuplicates: true });
    expect(removed).toMatchObject({ status: "unchanged", connectorId: ids[0], removedDuplicates: [ids[1], ids[2]] });
    expect(
      connectorsOf(t.accountId)
        .map((c) => c.ID)
        .sort(),
    ).toEqual([ids[0], other.ID].sort());
  });

  it("keeps the one with the target role when another role's connector has a lower ID", async () => {
    const t = target();
    const admin = client();
    const other = await admin.createConnector({ crossAccountRoleArn: `arn:aws:iam::${t.accountId}:role/Other`, workspacesEnabled: true });
    const mine = await admin.createConnector({ crossAccountRoleArn: t.roleArn, workspacesEnabled: true });
    const [r] = await registerConnectors(client(), [t], { removeDuplicates: true });
    expect(r).toMatchObject({ status: "unchanged", connectorId: mine.ID, otherConnectors: [other.ID] });
    expect(connectorsOf(t.accountId)).toHaveLength(2);
  });
});

describe("values from the manager in notes", () => {
  it("a role ARN with escape sequences is shown without them", async () => {
    const t = target();
    const odd = `arn:aws:iam::${t.accountId}:role/\x1b]0;pwned\x07Old\x1b[2J`;
    const m = await HostileManager.start((r) =>
      r.method === "GET"
        ? { kind: "json", body: { awsConnectors: [{ ID: 7, accountId: t.accountId, crossAccountRoleArn: odd, workspacesEnabled: true }] } }
        : { kind: "json", body: { ID: 7, accountId: t.accountId, crossAccountRoleArn: t.roleArn, workspacesEnabled: true } },
    );
    const c = ManagerClient.create({ baseUrl: m.url, apiKey: "k-12345678", auth: "api-secret-key" });
    try {
      const [r] = await registerConnectors(c, [t]);
      expect(r).toMatchObject({ status: "updated", notes: [`role changed from arn:aws:iam::${t.accountId}:role/Old to ${t.roleArn}`] });
    } finally {
      await c.close();
      await m.stop();
    }
  });
});

describe("manager calls", () => {
  it("one list, then per new account one create and one search (the check for a racing run); N + 1 without the check", async () => {
    const c = client();
    const ts = Array.from({ length: 5 }, () => target());
    const before = sandbox.totalCalls;
    const results = await registerConnectors(c, ts);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill("created"));
    expect(sandbox.totalCalls - before).toBe(1 + 2 * 5);
    const unchecked = Array.from({ length: 5 }, () => target());
    const start = sandbox.totalCalls;
    await registerConnectors(c, unchecked, { checkConcurrentCreates: false });
    expect(sandbox.totalCalls - start).toBe(1 + 5);
    const again = sandbox.totalCalls;
    await registerConnectors(c, [...ts, ...unchecked]);
    expect(sandbox.totalCalls - again).toBe(1); // nothing to do: the list alone
  });
});

describe("convergence with another party", () => {
  it("a create racing another run's create: both runs end on the lower ID, one connector left", async () => {
    const t = target();
    // Both runs list before either creates: each finds the account missing and creates.
    const [a, b] = await Promise.all([Registrar.open(client()), Registrar.open(client())]);
    const creates = () => sandbox.calls.get("POST /awsconnectors") ?? 0;
    const before = creates();
    const [ra, rb] = await Promise.all([a.register(t), b.register(t)]);
    expect(creates() - before).toBe(2);
    const left = connectorsOf(t.accountId);
    expect(left).toHaveLength(1);
    expect([ra.connectorId, rb.connectorId]).toEqual([left[0].ID, left[0].ID]);
    expect([ra.status, rb.status].sort()).toEqual(["created", "unchanged"]);
    const loser = ra.status === "unchanged" ? ra : rb;
    expect(loser.notes.join("\n")).toContain(`another run registered this account at the same time; using its connector ${left[0].ID}`);
    expect([...(ra.removedDuplicates ?? []), ...(rb.removedDuplicates ?? [])].length).toBeGreaterThanOrEqual(1);
  });

  it("a lost create that the search shows only later: one connector left; which run made it cannot be told, and the report says so", async () => {
    // The first create is carried out but its connection drops before the answer, and that
    // connector stays out of searches until the retry has been answered (a search index
    // lagging behind writes).
    let hidden: number | undefined;
    let lost: number | undefined;
    const c = await throughProxy(
      async (forward, req) => {
        const answer = await forward();
        if (req.method === "POST" && req.url === "/api/awsconnectors") {
          if (lost === undefined) {
            hidden = lost = (JSON.parse(answer.text) as { ID: number }).ID;
            return "drop";
          }
          hidden = undefined;
        }
        if (req.url === "/api/awsconnectors/search" && hidden !== undefined) {
          const found = JSON.parse(answer.text) as { awsConnectors: { ID: number }[] };
          return { ...answer, text: JSON.stringify({ awsConnectors: found.awsConnectors.filter((x) => x.ID !== hidden) }) };
        }
        return answer;
      },
      { timeoutMs: 5000 },
    );
    const t = target();
    const [r] = await registerConnectors(c, [t], { settleMs: 100, landingWindowMs: 100 });
    expect(connectorsOf(t.accountId).map((x) => x.ID)).toEqual([r.connectorId]);
    expect(r).toMatchObject({ status: "unchanged", connectorId: lost });
    expect(r.notes.join("\n")).toContain(
      `kept connector ${r.connectorId}, which appeared after this run's create (made by a create of this run whose answer was lost, or by another run at the same time)`,
    );
    expect(r.removedDuplicates).toHaveLength(1);
  });

  it("a create the manager carries out after the client gave up, and after the retry: removed once its landing window has passed", async () => {
    // The first create's connection drops unanswered; the proxy passes it on to the manager
    // only once the retry has been carried out.
    const retried = deferred();
    let creates = 0;
    const c = await throughProxy(
      async (forward, req) => {
        if (req.method !== "POST" || req.url !== "/api/awsconnectors") return forward();
        if (++creates === 1) {
          retried.promise.then(forward).catch((error) => proxyErrors.push(error));
          return "drop";
        }
        const answer = await forward();
        retried.resolve();
        return answer;
      },
      { timeoutMs: 5000 },
    );
    const t = target();
    const started = Date.now();
    const [r] = await registerConnectors(c, [t], { settleMs: 100, landingWindowMs: 3000 });
    expect(connectorsOf(t.accountId).map((x) => x.ID)).toEqual([r.connectorId]);
    expect(r).toMatchObject({ status: "created", removedDuplicates: [expect.any(Number)] });
    expect(r.removedDuplicates![0]).toBeGreaterThan(r.connectorId!); // the late one: every run keeps the lowest ID
    // Removed when it showed up: right after the retry, or once the window had passed.
    expect(r.notes.join("\n")).toContain(`removed duplicate connector ${r.removedDuplicates![0]} (kept ${r.connectorId})`);
    // It may be this run's own lost create: the note does not blame another run.
    expect(r.notes.join("\n")).toContain(
      `connectors that appeared after this run's create (IDs ${r.removedDuplicates![0]}: made by a create`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000); // the window was waited out: nothing tells a late create from another run's
  });

  it("the same while another run registers the account: one connector left, both runs report it", async () => {
    // Run b starts once a's first create is held, and that create reaches the manager only
    // when b is done: only a can find what it makes.
    const t = target();
    const held = deferred();
    const b = held.promise.then(() => registerConnectors(client(), [t], { settleMs: 100 }));
    const slow = await throughProxy(
      firstCreate(async (forward) => {
        held.resolve();
        b.then(forward).catch((error) => proxyErrors.push(error));
        return "drop";
      }),
      { timeoutMs: 5000 },
    );
    const [[ra], [rb]] = await Promise.all([registerConnectors(slow, [t], { settleMs: 100, landingWindowMs: 2500 }), b]);
    const left = connectorsOf(t.accountId);
    expect(left).toHaveLength(1);
    expect([ra.connectorId, rb.connectorId]).toEqual([left[0].ID, left[0].ID]);
    expect(ra.notes.join("\n")).toMatch(/removed duplicate connector \d+/);
  });

  it("a create that got no answer and never lands: looked for once its window has passed, and the report says so", async () => {
    const c = await throughProxy(
      firstCreate(async () => "drop" as const), // never forwarded
      { timeoutMs: 5000 },
    );
    const t = target();
    const started = Date.now();
    const waits: string[] = [];
    const [r] = await registerConnectors(c, [t], { settleMs: 100, landingWindowMs: 3000, onWait: (m) => waits.push(m) });
    expect(waits).toEqual([expect.stringMatching(/^waiting [1-3] s for 1 create\(s\) that got no answer/)]);
    expect(r).toMatchObject({ status: "created" });
    expect(r.removedDuplicates).toBeUndefined();
    expect(connectorsOf(t.accountId).map((x) => x.ID)).toEqual([r.connectorId]);
    expect(r.notes.join("\n")).toContain("no connector from the create that got no answer appeared within its landing window");
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  });

  it("a create that timed out once sent gets the same landing window, counted from when it was given up", async () => {
    const held: (() => void)[] = [];
    const c = await throughProxy(
      firstCreate(() => new Promise<"drop">((resolve) => held.push(() => resolve("drop")))), // no answer until the end
      { timeoutMs: 1000 },
    );
    const t = target();
    const started = Date.now();
    const [r] = await registerConnectors(c, [t], { settleMs: 100, landingWindowMs: 1500 });
    for (const release of held) release();
    expect(r.notes.join("\n")).toMatch(/^create answer lost \(.*\); searched before retrying$/m);
    expect(r.notes.join("\n")).toContain("no connector from the create that got no answer appeared within its landing window");
    expect(connectorsOf(t.accountId).map((x) => x.ID)).toEqual([r.connectorId]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
  });

  it("a create answered 503 (the manager is done with it) is looked at once after the pause, with no landing window", async () => {
    const c = await throughProxy(
      firstCreate(async () => ({ status: 503, text: JSON.stringify({ message: "Service unavailable." }) })),
      { timeoutMs: 5000 },
    );
    const t = target();
    const started = Date.now();
    const [r] = await registerConnectors(c, [t], { settleMs: 100, landingWindowMs: 60_000 });
    expect(r).toMatchObject({ status: "created" });
    expect(r.notes.join("\n")).not.toMatch(/landing window/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("never deletes a connector that now has another role ARN", async () => {
    const { t, admin, a, b } = await accountWithDuplicate();
    // Between the list and the delete, someone points b at another role.
    const c = client();
    otherPartyFirst(c, "describeConnector", async (id) => {
      if (id === b.ID) await admin.modifyConnector(b.ID!, { crossAccountRoleArn: `arn:aws:iam::${t.accountId}:role/Moved` });
    });
    const [r] = await registerConnectors(c, [t], { removeDuplicates: true });
    expect(r).toMatchObject({ status: "unchanged", connectorId: a.ID, duplicates: [b.ID] });
    expect(r.removedDuplicates).toBeUndefined();
    expect(r.notes.join("\n")).toContain(`connector ${b.ID} now uses arn:aws:iam::${t.accountId}:role/Moved; not deleted`);
    expect(connectorsOf(t.accountId)).toHaveLength(2);
  });

  it("if the connector kept is deleted by someone else right after the create, it is created again", async () => {
    const t = target();
    const admin = client();
    const c = client();
    const create = c.createConnector.bind(c);
    let deletions = 0;
    c.createConnector = async (body) => {
      const made = await create(body);
      if (deletions++ === 0) await admin.deleteConnector(made.ID!); // someone deregisters at that moment
      return made;
    };
    const [r] = await registerConnectors(c, [t]);
    expect(r.status).toBe("created");
    expect(r.notes.join("\n")).toMatch(/was deleted by someone else right after it was created; creating it again/);
    expect(connectorsOf(t.accountId)).toEqual([expect.objectContaining({ ID: r.connectorId })]);
  });

  it("a 404 on deleting a duplicate (another run deleted it first) is fine", async () => {
    const { t, admin, a, b } = await accountWithDuplicate();
    const c = client();
    otherPartyFirst(c, "deleteConnector", (id) => admin.deleteConnector(id)); // the other run was faster
    const [r] = await registerConnectors(c, [t], { removeDuplicates: true });
    expect(r).toMatchObject({ status: "unchanged", connectorId: a.ID, duplicates: [b.ID] });
    expect(r.removedDuplicates).toBeUndefined();
    expect(r.notes).toContain(
      `duplicate connector ${b.ID} was gone when deleted (removed by another run, or by a try of this delete whose answer was lost)`,
    );
    expect(connectorsOf(t.accountId).map((x) => x.ID)).toEqual([a.ID]);
  });
});
