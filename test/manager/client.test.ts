import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ManagerClient, suggestBaseUrl } from "../../src/manager/client";
import { ManagerError, networkError } from "../../src/manager/errors";
import type { TransportEvent } from "../../src/manager/http";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../../src/manager/types";
import { SandboxManager } from "../../src/sandbox/manager";

const opened: ManagerClient[] = [];
function client(sandbox: SandboxManager, overrides: Partial<Parameters<typeof ManagerClient.create>[0]> = {}): ManagerClient {
  const c = ManagerClient.create({
    baseUrl: sandbox.url,
    apiKey: sandbox.keys.admin,
    auth: "api-secret-key",
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  opened.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<ManagerError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ManagerError) return e;
    throw e;
  }
  throw new Error("expected a ManagerError");
}

/** A local server answering every request with the handler's status and body. */
async function rawServer(
  handler: (n: number) => { status: number; body: string; headers?: Record<string, string> } | "hang",
): Promise<{ url: string; server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    const answer = handler(n);
    if (answer === "hang") return;
    res.writeHead(answer.status, { "content-type": "text/html", ...answer.headers });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, server, requests: () => n };
}

let sandbox: SandboxManager;
beforeAll(async () => {
  sandbox = await SandboxManager.start();
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await sandbox.stop();
});

describe("ManagerClient against the sandbox", () => {
  it("reads the external ID", async () => {
    expect(await client(sandbox).getExternalId()).toBe(sandbox.externalId);
  });

  it("authenticates with Authorization: ApiKey too", async () => {
    expect(await client(sandbox, { auth: "apikey" }).getExternalId()).toBe(sandbox.externalId);
  });

  it("reads, changes and resets the retrieval setting", async () => {
    const c = client(sandbox);
    expect(await c.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("true");
    expect(await c.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false")).toBe("false");
    expect(await c.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("false");
    expect(await c.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("true");
  });

  it("lists, searches, describes, creates, modifies (with sync) and deletes connectors", async () => {
    const c = client(sandbox);
    const created = await c.createConnector({ displayName: "prod", crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" });
    expect(created).toMatchObject({ ID: expect.any(Number), accountId: "111122223333", displayName: "prod" });
    await c.createConnector({ crossAccountRoleArn: "arn:aws:iam::444455556666:role/DS" });
    expect((await c.listConnectors()).map((x) => x.accountId).sort()).toEqual(["111122223333", "444455556666"]);
    expect((await c.findConnectorsByAccount("111122223333")).map((x) => x.ID)).toEqual([created.ID]);
    expect(await c.findConnectorsByAccount("999999999999")).toEqual([]);
    expect(await c.describeConnector(created.ID!)).toMatchObject({ displayName: "prod" });

    const before = (await c.describeConnector(created.ID!)).lastSyncTime!;
    await new Promise((r) => setTimeout(r, 5));
    const modified = await c.modifyConnector(created.ID!, { crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS2" }, { sync: true });
    expect(modified.crossAccountRoleArn).toBe("arn:aws:iam::111122223333:role/DS2");
    expect(modified.lastSyncTime).toBeGreaterThan(before);
    expect(modified.syncedRegions?.[0]).toMatchObject({ region: "us-east-1" });

    await c.deleteConnector(created.ID!);
    const gone = await failure(c.describeConnector(created.ID!));
    expect(gone.kind).toBe("not-found");
    expect(gone.message).toMatch(/AWS connector \d+ does not exist/);
  });

  it("keeps and returns workspacesEnabled (default false, as the vendor's), and refuses a non-boolean", async () => {
    const c = client(sandbox);
    const off = await c.createConnector({ crossAccountRoleArn: "arn:aws:iam::121212121212:role/DS" });
    expect(off.workspacesEnabled).toBe(false);
    const on = await c.createConnector({ crossAccountRoleArn: "arn:aws:iam::131313131313:role/DS", workspacesEnabled: true });
    expect((await c.describeConnector(on.ID!)).workspacesEnabled).toBe(true);
    expect((await c.modifyConnector(off.ID!, { workspacesEnabled: true })).workspacesEnabled).toBe(true);
    expect((await c.describeConnector(off.ID!)).workspacesEnabled).toBe(true);
    const e = await failure(c.modifyConnector(off.ID!, { workspacesEnabled: "yes" as unknown as boolean }));
    expect(e).toMatchObject({ kind: "http", details: { status: 400, reason: "client-error" } });
    expect(e.message).toContain("workspacesEnabled must be true or false");
    await c.deleteConnector(off.ID!);
    await c.deleteConnector(on.ID!);
  });

  it("describes the current API key", async () => {
    expect(await client(sandbox).currentApiKey()).toMatchObject({ keyName: "sandbox administrator", active: true });
  });
});

describe("errors users can act on", () => {
  it("401: a bad key, and how to fix it", async () => {
    const e = await failure(client(sandbox, { apiKey: "1:wrong" }).getExternalId());
    expect(e.kind).toBe("unauthorized");
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(
      /refused the API key \(HTTP 401.*wrong, expired or locked out.*Check the API key, and the authentication scheme/,
    );
    expect(e.message).not.toMatch(/--|DS_/);
  });

  it("403 on the external ID with retrieval disabled names the setting and the fallbacks", async () => {
    const admin = client(sandbox);
    await admin.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false");
    try {
      const e = await failure(admin.getExternalId());
      expect(e.exitCode).toBe(3);
      expect(e.message).toMatch(/retrieval is disabled by an administrator/);
      expect(e.message).toContain("platformSettingAwsExternalIdRetrievalEnabled");
      expect(e.message).toContain("use a copy of the external ID stored earlier");
      expect(e.message).not.toMatch(/--|DS_/);
      expect(e.details).toMatchObject({ reason: "retrieval-disabled", retrievalSetting: "false", status: 403 });
    } finally {
      await admin.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
    }
  });

  it("403 on the external ID for a key whose role lacks the right says so", async () => {
    const e = await failure(client(sandbox, { apiKey: sandbox.keys.restricted }).getExternalId());
    expect(e.kind).toBe("forbidden");
    expect(e.message).toMatch(/retrieval is enabled .* so the API key's role lacks the right to view the AWS external ID/);
    expect(e.message).toContain("use a copy of the external ID stored earlier");
    expect(e.reason).toBe("missing-right");
  });

  it("403 elsewhere names the missing right", async () => {
    const e = await failure(client(sandbox, { apiKey: sandbox.keys.restricted }).setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false"));
    expect(e.kind).toBe("forbidden");
    expect(e.message).toMatch(/lacks the right to modify system settings \(HTTP 403: "Not authorized to modify settings/);
  });

  it("404: a base URL without /api gets a suggestion", async () => {
    const base = sandbox.url.replace(/\/api$/, "");
    const e = await failure(client(sandbox, { baseUrl: base }).getExternalId());
    expect(e.kind).toBe("not-found");
    expect(e.message).toContain(`try ${base}/api`);
  });

  it("404: an https URL without a port suggests 4119", () => {
    expect(suggestBaseUrl(new URL("https://dsm.example.com/api"))).toContain("https://dsm.example.com:4119/api");
    expect(suggestBaseUrl(new URL("https://workload.us-1.cloudone.trendmicro.com"))).not.toContain("4119");
  });

  it("connection refused says to check the manager and port", async () => {
    const probe = await rawServer(() => ({ status: 200, body: "" }));
    await new Promise((r) => probe.server.close(r));
    const e = await failure(client(sandbox, { baseUrl: probe.url }).getExternalId());
    expect(e.kind).toBe("refused");
    expect(e.message).toMatch(/Connection refused .* port are right/);
  });

  it("a DNS failure names the host and says to check the URL", () => {
    const cause = Object.assign(new Error("getaddrinfo ENOTFOUND dsm.example.invalid"), { code: "ENOTFOUND" });
    const e = networkError(Object.assign(new TypeError("fetch failed"), { cause }), {
      url: new URL("https://dsm.example.invalid:4119/api"),
      method: "GET",
      path: "/api/awsconnectorsettings",
      timeoutMs: 30_000,
    });
    expect(e.kind).toBe("dns");
    expect(e.message).toMatch(/Cannot resolve .*dsm\.example\.invalid.*Check the manager URL/);
  });

  it("a non-JSON body reports the status and an excerpt, and does not crash", async () => {
    const html = await rawServer(() => ({ status: 200, body: "<html><body>Welcome to the login page</body></html>" }));
    try {
      const e = await failure(client(sandbox, { baseUrl: html.url }).listConnectors());
      expect(e.kind).toBe("bad-response");
      expect(e.message).toMatch(/HTTP 200 but the body is not JSON: "<html><body>Welcome to the login page/);
      // The external ID's call is quoted with ID-like tokens masked: the body may hold the ID, not known yet.
      const sensitive = await failure(client(sandbox, { baseUrl: html.url }).getExternalId());
      expect(sensitive.reason).toBe("not-json");
      expect(sensitive.message).toMatch(/HTTP 200 but the body is not JSON: "<html><body>Welcome to the login page/);
    } finally {
      html.server.close();
    }
  });

  it("a wrongly shaped body is reported, not crashed on (and never echoes a would-be ID)", async () => {
    const odd = await rawServer(() => ({ status: 200, body: JSON.stringify({ externalID: "secret-looking-value" }) }));
    try {
      const e = await failure(client(sandbox, { baseUrl: odd.url }).getExternalId());
      expect(e.kind).toBe("bad-response");
      expect(e.message).toMatch(/not an object with an "externalId" string/);
      expect(e.message).not.toContain("secret-looking-value");
      const list = await failure(client(sandbox, { baseUrl: odd.url }).listConnectors());
      expect(list.message).toMatch(/not an object with an "awsConnectors" list/);
    } finally {
      odd.server.close();
    }
  });

  it("an HTML error page with a 500 is reported with its excerpt", async () => {
    const broken = await rawServer(() => ({ status: 500, body: "<h1>Internal Server Error</h1>" }));
    try {
      const e = await failure(client(sandbox, { baseUrl: broken.url }).listConnectors());
      expect(e.kind).toBe("http");
      expect(e.message).toMatch(/HTTP 500 when asked to view AWS connectors \("<h1>Internal Server Error<\/h1>"\)/);
    } finally {
      broken.server.close();
    }
  });

  it("a read timeout is reported as such", async () => {
    const silent = await rawServer(() => "hang");
    try {
      const e = await failure(
        client(sandbox, { baseUrl: silent.url, readTimeoutMs: 200, retry: { maxAttempts: 2, baseDelayMs: 5 } }).getExternalId(),
      );
      expect(e.kind).toBe("timeout");
      expect(e.message).toMatch(/did not answer GET \/api\/awsconnectorsettings/);
      expect(silent.requests()).toBe(2);
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });
});

describe("retries", () => {
  it("retries 429/502/503/504 and dropped connections on reads, and logs each attempt", async () => {
    const flaky = await SandboxManager.start({ failures: { rate5xx: 0.15, rate429: 0.1, dropRate: 0.05 }, seed: 7 });
    try {
      const events: TransportEvent[] = [];
      const c = client(flaky, { log: (e) => events.push(e), retry: { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 10 } });
      for (let i = 0; i < 30; i++) expect(await c.getExternalId()).toBe(flaky.externalId);
      expect(c.transport.stats.requests).toBe(30);
      expect(c.transport.stats.attempts).toBeGreaterThan(30);
      const retried = events.filter((e) => e.type === "retry").map((e) => (e as { reason: string }).reason);
      expect(retried.some((r) => /^HTTP (502|503|504)$/.test(r))).toBe(true);
      expect(retried).toContain("HTTP 429");
      expect(retried.some((r) => !r.startsWith("HTTP"))).toBe(true); // a dropped connection
    } finally {
      await flaky.stop();
    }
  });

  it("honours Retry-After", async () => {
    const limited = await rawServer((n) =>
      n === 1
        ? { status: 429, body: "", headers: { "retry-after": "1" } }
        : { status: 200, body: JSON.stringify({ externalId: "abcdef1234" }) },
    );
    try {
      const started = Date.now();
      expect(await client(sandbox, { baseUrl: limited.url }).getExternalId()).toBe("abcdef1234");
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    } finally {
      limited.server.close();
    }
  });

  it("never retries a create that the manager may have acted on", async () => {
    const failing = await SandboxManager.start({ failures: { rate5xx: 1 } });
    try {
      const c = client(failing);
      const e = await failure(c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" }));
      expect(e.kind).toBe("http");
      expect(c.transport.stats.attempts).toBe(1);
    } finally {
      await failing.stop();
    }
  });

  it("does retry a create answered 429 (not acted on)", async () => {
    const limited = await rawServer((n) =>
      n === 1
        ? { status: 429, body: "", headers: { "retry-after": "0" } }
        : { status: 200, body: JSON.stringify({ ID: 9, accountId: "111122223333" }) },
    );
    try {
      const c = client(sandbox, { baseUrl: limited.url });
      expect((await c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" })).ID).toBe(9);
      expect(limited.requests()).toBe(2);
    } finally {
      limited.server.close();
    }
  });
});

describe("TLS", () => {
  let https: SandboxManager;
  beforeAll(async () => {
    https = await SandboxManager.start({ https: true });
  });
  afterAll(() => https.stop());

  it("fails verification of a self-signed certificate and says to pass the CA certificate", async () => {
    const e = await failure(client(https).getExternalId());
    expect(e.kind).toBe("tls");
    expect(e.reason).toBe("untrusted-certificate");
    expect(e.message).toContain("pass that CA's certificate");
  });

  it("trusts the manager's own CA with a CA bundle", async () => {
    expect(await client(https, { caBundle: https.caCertificate }).getExternalId()).toBe(https.externalId);
  });

  it("connects with --insecure", async () => {
    expect(await client(https, { insecure: true }).getExternalId()).toBe(https.externalId);
  });
});
