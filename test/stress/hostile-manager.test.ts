/**
 * The client against a manager that misbehaves in every way we could think of. Each case checks
 * the error's class and kind, that its message holds neither the API key nor the external ID in
 * any form, that it holds no control character or escape sequence, and that it came within the
 * client's own worst-case time.
 */
import { ManagerClient } from "../../src/manager/client";
import { ManagerError, type ManagerErrorKind } from "../../src/manager/errors";
import type { TransportOptions } from "../../src/manager/http";
import { containsSecret, hasControl } from "../../src/redact";
import {
  type Behaviour,
  echoForms,
  HostileManager,
  type HostileRequest,
  type Script,
  serveDuringTests,
  wire,
} from "../helpers/hostile-manager";

const KEY = "7:Kx9/zQ+Vb=Tw_Lm-Np.Rs@Yu:Hi,Gf";
const ID = "3f6c1a9e-5b2d-4e8f-9a7c-0d1e2f3a4b5c";
const ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m\x9b1m\u202e";

const hostile = new HostileManager(() => ({ kind: "json", body: {} }));
const elsewhere = new HostileManager(() => ({ kind: "json", status: 200, body: { awsConnectors: [] } }));
serveDuringTests(hostile, elsewhere);
const opened: ManagerClient[] = [];
afterAll(() => Promise.all(opened.map((c) => c.close())));

function client(overrides: Partial<TransportOptions> = {}): ManagerClient {
  const c = ManagerClient.create({
    baseUrl: hostile.url,
    apiKey: KEY,
    auth: "api-secret-key",
    timeoutMs: 1500,
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 200 },
    ...overrides,
  });
  opened.push(c);
  return c;
}

/** A client that has read the external ID (so it knows it), then meets `script`. */
async function informedClient(script: Script, overrides: Partial<TransportOptions> = {}): Promise<ManagerClient> {
  hostile.use(() => ({ kind: "json", body: { externalId: ID } }));
  const c = client(overrides);
  expect(await c.getExternalId()).toBe(ID);
  hostile.use(script);
  return c;
}

/** Runs `call`, expects a ManagerError of `kind`, and checks it is safe to print. */
async function expectSafeFailure(c: ManagerClient, call: () => Promise<unknown>, kind: ManagerErrorKind): Promise<ManagerError> {
  const started = Date.now();
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  const elapsed = Date.now() - started;
  expect(error).toBeInstanceOf(ManagerError);
  const e = error as ManagerError;
  expect({ kind: e.kind, message: e.message }).toEqual({ kind, message: expect.any(String) });
  const everything = `${e.message} ${JSON.stringify(e.details)}`;
  expect(containsSecret(everything, [KEY, ID])).toBe(false);
  for (const form of [...Object.values(echoForms(KEY)), ...Object.values(echoForms(ID))]) expect(everything).not.toContain(form);
  expect(everything.toLowerCase()).not.toContain(ID.slice(0, 8));
  expect(hasControl(everything)).toBe(false);
  expect(everything).not.toMatch(/--[a-z]|DS_[A-Z]/); // the library names no CLI flag or variable
  // Bounded by the formula the CLI prints, with room for a loaded machine's late timers (the
  // number of attempts, which an extra one would change, is checked exactly where it matters).
  expect(elapsed).toBeLessThanOrEqual(c.worstCaseMs() + 2000);
  return e;
}

const echo = (secret: string, form: string) => echoForms(secret)[form];

describe("error bodies echoing the API key", () => {
  for (const form of Object.keys(echoForms(KEY))) {
    it(`500 JSON message with the key ${form}`, async () => {
      hostile.use(() => ({ kind: "json", status: 500, body: { message: `bad key ${echo(KEY, form)} rejected ${ESC}` } }));
      const c = client();
      const e = await expectSafeFailure(c, () => c.listConnectors(), "http");
      expect(e.reason).toBe("server-error");
      expect(e.message).toContain("[REDACTED]");
      expect(e.message).toContain("rejected");
    });
  }

  it("400 HTML page dumping the request headers", async () => {
    hostile.use((r) => ({ kind: "raw", status: 400, body: `<pre>${JSON.stringify(r.headers)}</pre>${ESC}` }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/R" }), "http");
    expect(e.reason).toBe("client-error");
    expect(e.message).toContain("api-secret-key");
  });

  it("401 echoing the Authorization header (ApiKey scheme)", async () => {
    hostile.use((r) => ({ kind: "json", status: 401, body: { message: `Invalid credentials: ${r.headers.authorization}` } }));
    const c = client({ auth: "apikey" });
    const e = await expectSafeFailure(c, () => c.currentApiKey(), "unauthorized");
    expect(e.exitCode).toBe(3);
  });

  it("403 whose message is the key upper-cased inside escape sequences", async () => {
    hostile.use(() => ({ kind: "json", status: 403, body: { message: `\x1b[1m${KEY.toUpperCase()}\x1b[0m not allowed` } }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.setSetting("x", "true"), "forbidden");
    expect(e.message).toContain("not allowed");
  });

  it("404 HTML page with the key split by control characters", async () => {
    const split = `${KEY.slice(0, 6)}\x00${KEY.slice(6, 12)}\x1b[0m${KEY.slice(12)}`;
    hostile.use(() => ({ kind: "raw", status: 404, body: `<h1>Not found</h1><!-- ${split} -->` }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "not-found");
    expect(e.reason).toBe("wrong-base-url");
  });

  it("200 HTML login page holding the key, to a list", async () => {
    hostile.use(() => ({ kind: "raw", status: 200, body: `<html><form><input value="${encodeURIComponent(KEY)}"></form></html>` }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
    expect(e.reason).toBe("not-json");
    expect(e.message).toContain("<html><form>");
  });
});

describe("answers holding the external ID", () => {
  for (const form of Object.keys(echoForms(ID))) {
    it(`400 on a create with the external ID ${form}, once the client knows it`, async () => {
      const c = await informedClient(() => ({
        kind: "json",
        status: 400,
        body: { message: `Unable to assume the role with external ID ${echo(ID, form)}.` },
      }));
      const e = await expectSafeFailure(c, () => c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/R" }), "http");
      expect(e.message).toContain("Unable to assume the role");
    });
  }

  it("an ID added by the caller (read from a store) is redacted too", async () => {
    hostile.use(() => ({ kind: "json", status: 502, body: { message: `tenant ${Buffer.from(ID).toString("base64")}` } }));
    const c = client();
    c.addSecret(ID);
    await expectSafeFailure(c, () => c.listConnectors(), "http");
  });

  for (const form of Object.keys(echoForms(ID))) {
    it(`a non-JSON answer to /awsconnectorsettings with the ID ${form} (not known yet): quoted with ID-like tokens masked`, async () => {
      hostile.use(() => ({ kind: "raw", status: 200, body: `<html><p>Sign in</p> externalId=${echo(ID, form)} </html>` }));
      const c = client();
      const e = await expectSafeFailure(c, () => c.getExternalId(), "bad-response");
      expect(e.reason).toBe("not-json");
      expect(e.message).toMatch(/"<html><p>Sign in<\/p> (externalId=Basic )?\[ID\?\] <\/html>"/);
    });
  }

  it("a 500 from /awsconnectorsettings with the ID in its message: the message kept, the ID masked", async () => {
    hostile.use(() => ({ kind: "json", status: 500, body: { message: `could not return ${encodeURIComponent(ID)} now` } }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.getExternalId(), "http");
    expect(e.message).toContain('("could not return [ID?] now")');
  });

  it("an ID AWS would refuse is reported without showing it", async () => {
    const bad = `${ID} with spaces`;
    hostile.use(() => ({ kind: "json", body: { externalId: bad } }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.getExternalId(), "bad-response");
    expect(e.message).not.toContain("spaces");
    expect(e.reason).toBe("wrong-shape");
  });

  it("a wrongly cased field is reported by type only", async () => {
    hostile.use(() => ({ kind: "json", body: { externalID: ID } }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.getExternalId(), "bad-response");
    expect(e.message).toContain("it sent a object");
  });

  /** The ID is refused (403 with `message`); the settings call, which says why, meets `settings`. */
  async function forbiddenId(message: string, settings: Behaviour): Promise<ManagerError> {
    hostile.use((r) => (r.path.includes("systemsettings") ? settings : { kind: "json", status: 403, body: { message } }));
    const c = client();
    return expectSafeFailure(c, () => c.getExternalId(), "forbidden");
  }

  it("a 403 on the ID, then escape sequences from the settings call, gives the undetermined reason", async () => {
    const e = await forbiddenId(`no ${ID}`, { kind: "raw", status: 500, body: `${ESC}${ID}` });
    expect(e.reason).toBe("undetermined");
  });

  it("a 403 on the ID with retrieval off gives the retrieval-disabled reason", async () => {
    const e = await forbiddenId("Not authorized to retrieve connector settings.", { kind: "json", body: { value: "false" } });
    expect(e.details).toMatchObject({ reason: "retrieval-disabled", retrievalSetting: "false" });
  });
});

describe("slow, stalled and cut-off answers", () => {
  // A byte comes every 200 ms, well inside the 600 ms timeout: a timer on the gap between chunks
  // would never fire; the deadline covers the whole body (18 bytes: 3.6 s).
  it("a body trickled one byte every 200 ms fails on the 600 ms deadline, within attempts × (timeout + backoff)", async () => {
    hostile.use(() => ({ kind: "trickle", body: JSON.stringify({ awsConnectors: [] }), intervalMs: 200 }));
    const c = client({ timeoutMs: 600, retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 400, maxRetryAfterMs: 0 } });
    const started = Date.now();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "timeout");
    const elapsed = Date.now() - started;
    expect(e.details).toMatchObject({ reason: "deadline", code: "ATTEMPT_DEADLINE", attempts: 3, timeoutMs: 600 });
    expect(e.message).toMatch(/within 600 ms per attempt \(3 attempts\), headers and body included/);
    expect(hostile.requests.length).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 600 - 50);
    // attempts × timeout + the backoffs (100 + 200): the formula the CLI prints.
    expect(c.worstCaseMs()).toBe(3 * 600 + 100 + 200);
    expect(elapsed).toBeLessThan(c.worstCaseMs() + 2000);
    expect(elapsed).toBeLessThan(60_000);
  }, 30_000);

  it("a trickled create is not retried (the manager may have acted on it)", async () => {
    hostile.use(() => ({ kind: "trickle", body: JSON.stringify({ ID: 1 }), intervalMs: 300 }));
    const c = client({ timeoutMs: 1000 });
    await expectSafeFailure(c, () => c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/R" }), "timeout");
    expect(hostile.requests.length).toBe(1);
  });

  it("headers, then nothing", async () => {
    hostile.use(() => ({ kind: "headers-then-hang" }));
    const c = client({ timeoutMs: 800 });
    const e = await expectSafeFailure(c, () => c.listConnectors(), "timeout");
    expect(e.details.attempts).toBe(2);
  });

  it("no answer at all", async () => {
    hostile.use(() => ({ kind: "hang" }));
    const c = client({ timeoutMs: 800 });
    await expectSafeFailure(c, () => c.describeConnector(1), "timeout");
  });

  it("a body cut off before its declared length", async () => {
    hostile.use(() => ({ kind: "truncate", body: '{"awsConnectors": [{"ID": 1, "accou', declaredLength: 500 }));
    const c = client();
    await expectSafeFailure(c, () => c.listConnectors(), "connection");
    expect(hostile.requests.length).toBe(2);
  });

  it("truncated JSON with a matching length", async () => {
    hostile.use(() => ({ kind: "raw", status: 200, body: '{"awsConnectors": [{"ID": 1, "accountId": "1111', headers: {} }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
    expect(e.reason).toBe("not-json");
  });

  it("the connection dropped every time", async () => {
    hostile.use(() => ({ kind: "drop" }));
    const c = client();
    await expectSafeFailure(c, () => c.listConnectors(), "connection");
    expect(hostile.requests.length).toBe(2);
  });

  it("429 forever with a Retry-After of an hour is capped, and fails in time", async () => {
    hostile.use(() => ({ kind: "json", status: 429, body: { message: "slow down" }, headers: { "retry-after": "3600" } }));
    const c = client({ retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 300 } });
    const e = await expectSafeFailure(c, () => c.listConnectors(), "http");
    expect(e.details).toMatchObject({ reason: "rate-limited", attempts: 3 });
  });

  it("503 with an escape sequence in its Retry-After header", async () => {
    hostile.use(() => ({
      kind: "wire",
      data: wire(503, { "content-type": "application/json", "retry-after": "soon\x1b[2J" }, JSON.stringify({ message: `down ${ESC}` })),
    }));
    const c = client();
    // The HTTP parser refuses a control character in a header: a broken answer, reported, not retried.
    const e = await expectSafeFailure(c, () => c.listConnectors(), "connection");
    expect(e.message).toMatch(/Invalid header value char/);
    expect(e.code).toBe("HTTP_PARSER_ERROR");
    expect(hostile.requests.length).toBe(1);
    expect(hostile.errors).toEqual([]);
  });
});

describe("redirects are never followed", () => {
  for (const status of [301, 302, 303, 307, 308] as const) {
    it(`${status} to another server: not followed, the key not sent there`, async () => {
      hostile.use(() => ({ kind: "redirect", status, location: `${elsewhere.url}/awsconnectors?key=${encodeURIComponent(KEY)}` }));
      const c = client();
      const e = await expectSafeFailure(c, () => c.listConnectors(), "redirect");
      expect(elsewhere.requests).toEqual([]);
      expect(hostile.requests.length).toBe(1);
      expect(e.details.location).toContain(elsewhere.origin);
      expect(e.message).toContain("not followed");
    });
  }

  it("a redirect of a create, with 8-bit escape sequences and the key in the Location", async () => {
    // Header bytes are read as Latin-1: 0x9b is the 8-bit CSI, 0x9d the 8-bit OSC.
    const location = `${elsewhere.url}/\x9b2J\x9d0;title\x9c${KEY}`;
    hostile.use(() => ({ kind: "wire", data: Buffer.from(wire(307, { location }), "latin1") }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.createConnector({ crossAccountRoleArn: "arn:aws:iam::111122223333:role/R" }), "redirect");
    expect(e.details.location).toContain("[REDACTED]");
    expect(elsewhere.requests).toEqual([]);
    expect(hostile.errors).toEqual([]);
  });
});

describe("huge and strange bodies", () => {
  it("a declared body larger than the limit is not read", async () => {
    hostile.use(() => ({ kind: "huge", bytes: 5 * 1024 * 1024, declare: true }));
    const c = client({ maxBodyBytes: 1024 * 1024 });
    const e = await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
    expect(e.reason).toBe("too-large");
  });

  it("a chunked body growing past the limit is cut off", async () => {
    hostile.use(() => ({ kind: "huge", bytes: 5 * 1024 * 1024, declare: false, fill: KEY }));
    const c = client({ maxBodyBytes: 1024 * 1024 });
    const e = await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
    expect(e.reason).toBe("too-large");
  });

  it("a 1 MB error message is cut to a short excerpt, with no part of the key at the cut", async () => {
    hostile.use(() => ({ kind: "json", status: 500, body: { message: `${"k".repeat(190)}${KEY}`.repeat(5000) } }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "http");
    expect(e.message.length).toBeLessThan(1500);
    expect(e.message).not.toContain(KEY.slice(0, 4));
  });

  it("bytes that are not UTF-8", async () => {
    hostile.use(() => ({ kind: "raw", status: 200, body: Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x80, 0x9b]) }));
    const c = client();
    await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
  });

  it("deeply nested JSON", async () => {
    hostile.use(() => ({ kind: "raw", status: 200, body: `${"[".repeat(100_000)}${"]".repeat(100_000)}` }));
    const c = client();
    await expectSafeFailure(c, () => c.listConnectors(), "bad-response");
  });

  it("an empty 500", async () => {
    hostile.use(() => ({ kind: "raw", status: 500, body: "" }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.listConnectors(), "http");
    expect(e.message).toContain("an empty body");
  });

  it("a body of escape sequences only, with 8-bit controls and the key in its content type: described, not quoted", async () => {
    const type = `text/plain\x9b2J\x85; x=${KEY}`;
    hostile.use(() => ({ kind: "wire", data: Buffer.from(wire(500, { "content-type": type }, "\x1b[2J\x1b[H \x07 "), "latin1") }));
    const c = client();
    const e = await expectSafeFailure(c, () => c.getExternalId(), "http");
    expect(e.message).toContain("(a 10-byte text/plain body)");
    expect(hostile.errors).toEqual([]);
  });
});

describe("wrong shapes", () => {
  const shapes: [string, (c: ManagerClient) => Promise<unknown>, unknown][] = [
    ["a list that is not a list", (c) => c.listConnectors(), { awsConnectors: { ID: 1 } }],
    ["connectors without IDs", (c) => c.listConnectors(), { awsConnectors: [{ accountId: KEY }] }],
    ["connectors with string IDs", (c) => c.findConnectorsByAccount("111122223333"), { awsConnectors: [{ ID: "1" }] }],
    ["a setting value that is a number", (c) => c.getSetting("platformSettingAwsExternalIdRetrievalEnabled"), { value: 1 }],
    ["a created connector that is a list", (c) => c.createConnector({ crossAccountRoleArn: "arn:aws:iam::1:role/R" }), [{ ID: 1 }]],
    ["a modified connector that is null", (c) => c.modifyConnector(1, {}), null],
    ["an API key answer that is a string", (c) => c.currentApiKey(), `key ${KEY}`],
    ["an external ID that is a number", (c) => c.getExternalId(), { externalId: 12345 }],
  ];
  for (const [name, call, body] of shapes) {
    it(name, async () => {
      hostile.use(() => ({ kind: "json", body }));
      const c = client();
      const e = await expectSafeFailure(c, () => call(c), "bad-response");
      expect(e.reason).toBe("wrong-shape");
    });
  }
});

describe("what the client sends", () => {
  it("sends the key only to the manager's own address, and only in the header chosen", async () => {
    hostile.use((r: HostileRequest): Behaviour => ({ kind: "json", body: r.path.endsWith("/awsconnectors") ? { awsConnectors: [] } : {} }));
    const c = client({ auth: "apikey" });
    await c.listConnectors();
    expect(hostile.requests[0].headers.authorization).toBe(`ApiKey ${KEY}`);
    expect(hostile.requests[0].headers["api-secret-key"]).toBeUndefined();
    expect(hostile.requests[0].path).toBe("/api/awsconnectors");
  });
});
