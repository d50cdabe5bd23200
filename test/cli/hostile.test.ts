/**
 * The command line (in-process, `runCli`) against a manager that misbehaves: truncated JSON, HTML pages and error bodies that echo the API key and the external ID,
 * escape sequences, redirects to another host, a manager too slow for `--deadline`; and the
 * checks the command line makes before it sends anything (numbers, the key file, the store).
 * A trickled body is in trickle.test.ts (it waits 17 s, beside the others).
 *
 * Every run is checked the same way: its exit code, what is on stdout and stderr, that neither
 * holds the key or the ID in any form `redact` knows (`containsSecret`) nor any of the echo
 * forms the hostile server uses, and that neither holds a control character or an escape sequence.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasControl } from "../../src/redact";
import { SandboxManager } from "../../src/sandbox/manager";
import { type CliResult, runCli } from "../helpers/cli";
import { ECHO, ESC, expectJsonFailure, expectSafe, expectTextFailure, ID, KEY, ROLE, timed } from "../helpers/hostile-cli";
import { type Behaviour, HostileManager, serveDuringTests, wire } from "../helpers/hostile-manager";

const hostile = new HostileManager(() => ({ kind: "json", body: { externalId: ID } }));
const elsewhere = new HostileManager(() => ({ kind: "json", body: { externalId: ID, awsConnectors: [] } }));
serveDuringTests(hostile, elsewhere);
const dir = mkdtempSync(join(tmpdir(), "ds-cli-hostile-"));

/** The environment of a pipeline pointed at the hostile manager. */
function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { DS_MANAGER_URL: hostile.url, DS_API_KEY: KEY, ...extra };
}

describe("failure bodies echoing the API key and the external ID", () => {
  const cases: { name: string; behaviour: () => Behaviour; exitCode: number; kind: string }[] = [
    {
      name: "truncated JSON (the connection closes mid-body)",
      behaviour: () => ({ kind: "truncate", status: 200, body: `{"externalId":"${ID}","echo":"${ECHO}","more":`, declaredLength: 4000 }),
      exitCode: 1,
      kind: "connection",
    },
    {
      name: "truncated JSON (a whole answer holding a cut document)",
      behaviour: () => ({
        kind: "raw",
        status: 200,
        body: `{"externalId":"${ID}","apiKey":"${KEY}","echo":"${ECHO}`,
        headers: { "content-type": "application/json" },
      }),
      exitCode: 1,
      kind: "bad-response",
    },
    {
      name: "an HTML login page",
      behaviour: () => ({
        kind: "raw",
        status: 200,
        body: `<html><head><title>Sign in ${ESC}</title></head><body><form><input name="k" value="${KEY}"><input value="${ID}"></form><p>${ECHO}</p></body></html>`,
      }),
      exitCode: 1,
      kind: "bad-response",
    },
    {
      name: "a 400 JSON body",
      behaviour: () => ({ kind: "json", status: 400, body: { message: `Invalid request from ${ECHO}`, externalId: ID } }),
      exitCode: 1,
      kind: "http",
    },
    {
      name: "a 401 JSON body",
      behaviour: () => ({ kind: "json", status: 401, body: { message: `Invalid key ${ECHO}` } }),
      exitCode: 3,
      kind: "unauthorized",
    },
    {
      name: "a 403 HTML body",
      behaviour: () => ({ kind: "raw", status: 403, body: `<h1>Forbidden</h1><pre>${ECHO}</pre>` }),
      exitCode: 3,
      kind: "forbidden",
    },
    {
      name: "a 404 text body",
      behaviour: () => ({ kind: "raw", status: 404, body: `no such path for ${ECHO}`, headers: { "content-type": "text/plain" } }),
      exitCode: 1,
      kind: "not-found",
    },
    {
      name: "a 500 JSON body",
      behaviour: () => ({ kind: "json", status: 500, body: { message: `NullPointerException at tenant ${ECHO}` } }),
      exitCode: 1,
      kind: "http",
    },
    {
      name: "a 503 HTML body (retried, then given up)",
      behaviour: () => ({ kind: "raw", status: 503, body: `<html>maintenance ${ECHO}</html>` }),
      exitCode: 1,
      kind: "http",
    },
  ];

  for (const c of cases) {
    it(`external-id get, ${c.name}: exit ${c.exitCode}, nothing leaked, text and JSON`, async () => {
      hostile.use(c.behaviour);
      const text = await runCli(["external-id", "get"], env());
      expectTextFailure(text, c.exitCode);
      expectSafe(text);
      const json = await runCli(["external-id", "get", "--output", "json"], env());
      expectJsonFailure(json, c.exitCode, "ManagerError", c.kind);
      expectSafe(json);
      expect(hostile.errors).toEqual([]);
    }, 30_000);

    it(`register (the external ID given in DS_EXTERNAL_ID), ${c.name}: exit ${c.exitCode}, nothing leaked`, async () => {
      hostile.use(c.behaviour);
      const e = env({ DS_EXTERNAL_ID: ID });
      const text = await runCli(["register", "--role-arn", ROLE, "--no-check-trust"], e);
      expectTextFailure(text, c.exitCode);
      expectSafe(text);
      const json = await runCli(["register", "--role-arn", ROLE, "--no-check-trust", "--output", "json", "--verbose"], e);
      expectJsonFailure(json, c.exitCode, "ManagerError", c.kind);
      expectSafe(json);
      // Nothing but the list was asked for: no create after a failed list.
      expect(hostile.requests.filter((q) => q.method !== "GET")).toEqual([]);
    }, 30_000);
  }
});

describe("escape sequences in what the server says", () => {
  const payloads: { name: string; behaviour: Behaviour; exitCode: number }[] = [
    { name: "a 400 JSON message", behaviour: { kind: "json", status: 400, body: { message: `bad request ${ESC} done` } }, exitCode: 1 },
    {
      name: "an HTML page",
      behaviour: { kind: "raw", status: 200, body: `<html>\x1b[?1049h\x1b[8m hidden ${ESC}\x07\x00 page</html>` },
      exitCode: 1,
    },
    { name: "a 403 message", behaviour: { kind: "json", status: 403, body: { message: `\x1b[1mno right\x1b[0m ${ESC}` } }, exitCode: 3 },
    {
      name: "a redirect's Location header (raw bytes on the wire)",
      behaviour: { kind: "wire", data: wire(302, { location: `http://127.0.0.1:1/\x1b]0;owned\x07x\x1b[2J` }) },
      exitCode: 1,
    },
  ];
  for (const p of payloads) {
    it(`${p.name} reaches neither stdout nor stderr, text, JSON and --verbose`, async () => {
      hostile.use(() => p.behaviour);
      for (const mode of [[], ["--output", "json"], ["--verbose"]]) {
        const r = await runCli(["external-id", "get", ...mode], env());
        expect(r.code).toBe(p.exitCode);
        expect(hasControl(r.stdout)).toBe(false);
        expect(hasControl(r.stderr)).toBe(false);
        for (const ch of ["\x1b", "\x9b", "\x07", "\u202e", "\x00"]) expect(`${r.stdout}${r.stderr}`).not.toContain(ch);
        expectSafe(r);
      }
    }, 30_000);
  }
});

describe("redirects", () => {
  for (const status of [302, 307] as const) {
    it(`a ${status} to another host is not followed, and the error names the manager URL`, async () => {
      hostile.use((q) => ({ kind: "redirect", status, location: `${elsewhere.origin}${q.path}` }));
      const r = await runCli(["external-id", "get"], env());
      expectTextFailure(r, 1);
      expect(elsewhere.requests).toEqual([]);
      expect(r.stderr).toMatch(/redirect/i);
      expect(r.stderr).toContain(hostile.origin.replace(/^http:\/\//, ""));
      expectSafe(r);
      const reg = await runCli(["register", "--role-arn", ROLE, "--no-check-trust", "--output", "json"], env());
      expectJsonFailure(reg, 1, "ManagerError", "redirect");
      expect(elsewhere.requests).toEqual([]);
      expectSafe(reg);
    });
  }
});

describe("every failure class with --output json: one JSON document, nothing else on stdout", () => {
  const classes: {
    name: string;
    args: string[];
    env?: Record<string, string | undefined>;
    exitCode: number;
    cls: string;
    kind?: string;
  }[] = [
    { name: "an unknown flag", args: ["external-id", "get", "--no-such-flag"], exitCode: 2, cls: "UsageError" },
    { name: "a bad number", args: ["register", "--role-arn", ROLE, "--concurrency", "0"], exitCode: 2, cls: "UsageError" },
    { name: "no manager URL", args: ["external-id", "get"], env: { DS_MANAGER_URL: undefined }, exitCode: 2, cls: "SettingError" },
    { name: "no API key", args: ["external-id", "get"], env: { DS_API_KEY: undefined }, exitCode: 2, cls: "SettingError" },
    { name: "a malformed role ARN", args: ["register", "--role-arn", "arn:aws:iam::12:role/x", "--no-check-trust"], exitCode: 2, cls: "" },
  ];
  for (const c of classes) {
    it(`${c.name}: exit ${c.exitCode}`, async () => {
      const r = await runCli([...c.args, "--output", "json"], env(c.env));
      const doc = expectJsonFailure(r, c.exitCode, c.cls || expect.any(String));
      expect(doc.error.message.length).toBeGreaterThan(0);
      expect(hostile.requests).toEqual([]);
      expectSafe(r);
    });
  }

  it("a timeout (headers, then nothing): exit 1, kind timeout", async () => {
    hostile.use(() => ({ kind: "headers-then-hang" }));
    const r = await timed(runCli(["external-id", "get", "--timeout", "0.2", "--output", "json"], env()));
    expectJsonFailure(r, 1, "ManagerError", "timeout");
    expect(r.ms).toBeLessThan(20_000);
    expectSafe(r);
  }, 30_000);

  it("a dropped connection: exit 1, kind connection", async () => {
    hostile.use(() => ({ kind: "drop" }));
    const r = await runCli(["external-id", "get", "--output", "json"], env());
    expectJsonFailure(r, 1, "ManagerError", "connection");
    expectSafe(r);
  }, 30_000);

  it("a refused connection: exit 1, kind refused", async () => {
    // A port that was just free (port 1 would be refused by fetch itself as a "bad port").
    const closed = await HostileManager.start(() => ({ kind: "drop" }));
    const url = closed.url;
    await closed.stop();
    const r = await runCli(["external-id", "get", "--output", "json"], env({ DS_MANAGER_URL: url }));
    expectJsonFailure(r, 1, "ManagerError", "refused");
    expectSafe(r);
  }, 30_000);

  it("a store that would replace another value: exit 2, StoredFileConflictError", async () => {
    hostile.use(() => ({ kind: "json", body: { externalId: ID } }));
    const file = join(dir, "json-conflict.txt");
    writeFileSync(file, "something-else\n");
    const r = await runCli(["external-id", "get", "--store", `file:${file}`, "--output", "json"], env());
    expectJsonFailure(r, 2, "StoredFileConflictError");
    expectSafe(r);
  });
});

describe("numbers are checked before anything is sent", () => {
  const bad: { flag: string; value: string; command: string[] }[] = [
    { flag: "timeout", value: "0", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
    { flag: "timeout", value: "-1", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
    { flag: "timeout", value: "abc", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
    { flag: "concurrency", value: "0", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
    { flag: "concurrency", value: "1.5", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
    { flag: "propagation-timeout", value: "99999", command: ["verify", "--role-arn", ROLE] },
    { flag: "deadline", value: "0", command: ["register", "--role-arn", ROLE, "--no-check-trust"] },
  ];
  for (const b of bad) {
    it(`--${b.flag} ${b.value}: exit 2, one line naming the flag and the value, nothing sent`, async () => {
      hostile.use(() => ({ kind: "json", body: { awsConnectors: [], externalId: ID } }));
      const r = await runCli([...b.command, `--${b.flag}`, b.value], env());
      expectTextFailure(r, 2);
      const lines = r.stderr.trimEnd().split("\n");
      // The error is one line; at most a pointer to --help follows it.
      expect(lines[0]).toMatch(new RegExp(`^error: .*--${b.flag}\\b`));
      expect(lines[0]).toContain(b.value);
      expect(lines[0]).not.toMatch(/unknown argument/i);
      expect(lines.slice(1).every((l) => /--help/.test(l))).toBe(true);
      expect(lines.length).toBeLessThanOrEqual(2);
      expect(hostile.requests).toEqual([]);
      expectSafe(r);
    });
  }
});

describe("--deadline bounds the whole command", () => {
  let slow: SandboxManager;
  beforeAll(async () => {
    slow = await SandboxManager.start({ latencyMs: 10_000, externalId: ID, adminKey: KEY });
  });
  afterAll(async () => {
    await slow.stop();
  });

  // The deadline (0.5 s) is far below one answer (10 s): the run can only end this early by it.
  it("register --deadline 0.5 against a manager that answers after 10 s: exit 1 before any answer, says the deadline and that a rerun continues", async () => {
    const r = await timed(
      runCli(["register", "--role-arn", ROLE, "--no-check-trust", "--deadline", "0.5"], env({ DS_MANAGER_URL: slow.url })),
    );
    expectTextFailure(r, 1);
    expect(r.ms).toBeLessThan(6_000);
    expect(r.stderr).toMatch(/deadline/i);
    expect(r.stderr).toMatch(/\b0\.5 ?s\b/);
    expect(r.stderr).toMatch(/again|rerun|re-run/i);
    expect(r.stderr).toMatch(/continue/i);
    expectSafe(r);
  }, 30_000);

  it("external-id get --deadline 0.5 --output json: one JSON failure document, exit 1", async () => {
    const r = await timed(runCli(["external-id", "get", "--deadline", "0.5", "--output", "json"], env({ DS_MANAGER_URL: slow.url })));
    const doc = expectJsonFailure(r, 1, expect.any(String));
    expect(doc.error.message).toMatch(/deadline/i);
    expect(r.ms).toBeLessThan(6_000);
    expectSafe(r);
  }, 30_000);
});

describe("the API key file", () => {
  const noKeyEnv = () => env({ DS_API_KEY: undefined });

  /** `external-id get` with the key in a file of this mode: it succeeds, and the key stays out of the output. */
  async function getWithKeyFile(mode: number): Promise<{ r: CliResult; file: string }> {
    hostile.use(() => ({ kind: "json", body: { externalId: ID } }));
    const file = join(dir, `key-0${mode.toString(8)}.txt`);
    writeFileSync(file, `${KEY}\n`);
    chmodSync(file, mode);
    const r = await runCli(["external-id", "get", "--api-key-file", file], noKeyEnv());
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${ID}\n` });
    expectSafe(r, [KEY]);
    return { r, file };
  }

  it("readable by others (0644): works, with a warning naming the file and chmod 600", async () => {
    const { r, file } = await getWithKeyFile(0o644);
    expect(r.stderr).toMatch(/^warning: /m);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain(`chmod 600 ${file}`);
    expect(hostile.requests[0]?.headers["api-secret-key"]).toBe(KEY);
  });

  it("mode 0600: no warning", async () => {
    const { r } = await getWithKeyFile(0o600);
    expect(r.stderr).not.toMatch(/warning/);
  });

  const broken: { name: string; make: () => string }[] = [
    {
      name: "a directory",
      make: () => {
        const d = join(dir, "key-dir");
        mkdirSync(d, { recursive: true });
        return d;
      },
    },
    { name: "missing", make: () => join(dir, "no-such-key.txt") },
    {
      name: "empty",
      make: () => {
        const f = join(dir, "key-empty.txt");
        writeFileSync(f, "", { mode: 0o600 });
        return f;
      },
    },
    {
      name: "white space only",
      make: () => {
        const f = join(dir, "key-blank.txt");
        writeFileSync(f, " \n\n", { mode: 0o600 });
        return f;
      },
    },
  ];
  for (const b of broken) {
    for (const how of ["--api-key-file", "DS_API_KEY_FILE"]) {
      it(`${b.name} (${how}): exit 2 naming the file, nothing sent`, async () => {
        const file = b.make();
        const args = how === "--api-key-file" ? ["external-id", "get", "--api-key-file", file] : ["external-id", "get"];
        const r = await runCli(args, how === "--api-key-file" ? noKeyEnv() : env({ DS_API_KEY: undefined, DS_API_KEY_FILE: file }));
        expectTextFailure(r, 2);
        expect(r.stderr).toContain(file);
        expect(hostile.requests).toEqual([]);
        expectSafe(r);
        const json = await runCli(
          [...args, "--output", "json"],
          how === "--api-key-file" ? noKeyEnv() : env({ DS_API_KEY: undefined, DS_API_KEY_FILE: file }),
        );
        expect(expectJsonFailure(json, 2, expect.any(String)).error.message).toContain(file);
      });
    }
  }
});

describe("external-id get --store file:", () => {
  beforeEach(() => hostile.use(() => ({ kind: "json", body: { externalId: ID } })));
  const mode = (f: string) => statSync(f).mode & 0o777;

  /** `external-id get --store file:<file>` succeeds: the ID printed (the key nowhere), and the file holds just the ID, mode 0600. */
  async function expectStored(file: string, ...flags: string[]): Promise<void> {
    const r = await runCli(["external-id", "get", "--store", `file:${file}`, ...flags], env());
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${ID}\n` });
    expect(readFileSync(file, "utf8")).toBe(`${ID}\n`);
    expect(mode(file)).toBe(0o600);
    expectSafe(r, [KEY]);
  }

  it("writes a new file with mode 0600; a second store of the same ID is fine", async () => {
    const file = join(dir, "stored-new.txt");
    await expectStored(file);
    await expectStored(file);
  });

  it("refuses a file that holds something else (exit 2, Nothing was written, the file unchanged); --force replaces it, mode 0600", async () => {
    const file = join(dir, "stored-other.txt");
    const other = "other-tenant-id-0000\nsecond line\n";
    writeFileSync(file, other);
    chmodSync(file, 0o640);
    const before = statSync(file);
    const refused = await runCli(["external-id", "get", "--store", `file:${file}`], env());
    expectTextFailure(refused, 2);
    expect(refused.stderr).toContain("Nothing was written");
    expect(refused.stderr).toContain(file);
    expect(refused.stderr).toContain("--force");
    expectSafe(refused);
    expect(readFileSync(file, "utf8")).toBe(other);
    expect(mode(file)).toBe(0o640);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(file).ino).toBe(before.ino);

    await expectStored(file, "--force");
  });

  it("an existing copy of the same ID with loose permissions is rewritten 0600", async () => {
    const file = join(dir, "stored-loose.txt");
    writeFileSync(file, `${ID}\n`);
    chmodSync(file, 0o644);
    await expectStored(file);
  });
});
