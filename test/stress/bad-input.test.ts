/**
 * The bad-input corpus: flags, external IDs, account IDs, ARNs, URLs, configs, manager answers
 * of the wrong shape, and output paths that cannot be written. Every case must give a clear
 * message (the fragment), the right exit code, no stack trace, and leave nothing half-written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { runCli } from "../helpers/cli";
import { useSandbox } from "../helpers/sandbox";

const sandbox = useSandbox();
const dir = mkdtempSync(join(tmpdir(), "ds-corpus-"));
const good = { externalId: "literal-tenant-id", accounts: [{ accountId: "111122223333" }] };
const goodConfig = join(dir, "good.yaml");
writeFileSync(goodConfig, stringify(good));
const aFile = join(dir, "a-file.txt");
writeFileSync(aFile, "not a folder\n");

// A manager that answers wrongly, in the way the first path segment names.
let server: Server;
let base = "";
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    const how = (req.url ?? "/").split("/")[1];
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    switch (how) {
      case "shape":
        return send(200, JSON.stringify({ externalID: "wrongly-cased" }));
      case "empty":
        return send(200, "");
      case "html":
        return send(200, "<html><body>Sign in to continue</body></html>", "text/html");
      case "html500":
        return send(500, "<html><h1>500 Internal Server Error</h1></html>", "text/html");
      case "array":
        return send(200, "[1, 2, 3]");
      case "badjson":
        return send(200, '{"externalId": ');
      case "h401":
        return send(401, "<html>Unauthorized</html>", "text/html");
      case "h403":
        return send(403, "");
      case "h404":
        return send(404, "<html>Not Found</html>", "text/html");
      case "h503":
        return send(503, '{"message": "Service Unavailable"}');
      case "huge":
        res.writeHead(200, { "content-type": "application/json", "content-length": String(40 * 1024 * 1024) });
        res.write("{");
        return void setTimeout(() => res.destroy(), 500);
      case "drip": {
        res.writeHead(200, { "content-type": "application/json" });
        res.write("{");
        const timer = setInterval(() => res.write(" "), 2500);
        return void res.on("close", () => clearInterval(timer));
      }
      default:
        return send(404, "{}");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const CONFIG_CASES: [string, string, RegExp][] = [
  ["an empty file", "", /\(file\): is empty/],
  ["invalid YAML", "accounts: [\n  - x", /line \d+, column \d+: is not valid YAML/],
  ["invalid JSON", '{"accounts": [', /is not valid/],
  ["a list at the top", "- 1\n- 2", /not a mapping of keys to values/],
  [
    "a numeric account ID",
    stringify({ ...good, accounts: [{ accountId: 111122223333 }] }),
    /accounts\[0\]\.accountId: expected string, got number\. Quote the value/,
  ],
  [
    "a short account ID",
    stringify({ ...good, accounts: [{ accountId: "1234" }] }),
    /accounts\[0\]\.accountId: "1234" is not an AWS account ID \(12 digits\)/,
  ],
  [
    "a duplicate account",
    stringify({ ...good, accounts: [{ accountId: "111122223333" }, { accountId: "111122223333" }] }),
    /accounts\[1\]\.accountId: 111122223333 is listed already at accounts\[0\]/,
  ],
  ["an unknown key", stringify({ ...good, acounts: [] }), /\(top level\): has unknown key "acounts"/],
  [
    "an unknown account key",
    stringify({ ...good, accounts: [{ accountId: "111122223333", name: "x" }] }),
    /accounts\[0\]: has unknown key "name"/,
  ],
  [
    "the API key in the config",
    stringify({ ...good, manager: { apiKey: "1:abc" } }),
    /manager: has "apiKey": the API key never goes in the config/,
  ],
  [
    "a bad deployment role ARN",
    stringify({ ...good, accounts: [{ accountId: "111122223333", deploymentRoleArn: "arn:aws:iam::111122223333:user/x" }] }),
    /accounts\[0\]\.deploymentRoleArn: .*names a user; expected a role/,
  ],
  [
    "a deployment role in another account",
    stringify({ ...good, accounts: [{ accountId: "111122223333", deploymentRoleArn: "arn:aws:iam::444455556666:role/x" }] }),
    /is a role in another account than 111122223333/,
  ],
  ["a bad external ID literal", stringify({ ...good, externalId: "has space" }), /externalId: is neither a source .* contains " "/],
  ["an empty ssm: location", stringify({ ...good, externalId: "ssm:" }), /externalId: names no ssm location/],
  [
    "a bad principal account",
    stringify({ ...good, manager: { principal: { type: "on-premises", accountId: "12" } } }),
    /manager\.principal(\.accountId)?: .*(is not an AWS account ID|does not match any accepted form)/,
  ],
  ["an unknown principal type", stringify({ ...good, manager: { principal: { type: "vendor" } } }), /manager\.principal/],
  [
    "an on-premises manager without a principal",
    stringify({ ...good, manager: { product: "deep-security-manager" } }),
    /manager\.principal: is required for an on-premises Deep Security Manager/,
  ],
  ["a bad manager URL", stringify({ ...good, manager: { url: "dsm:4119" } }), /manager\.url/],
  [
    "an unknown layout",
    stringify({ ...good, deployment: { layout: "per-region" } }),
    /deployment\.layout: is "per-region"\. Use one of "single-stack", "stack-per-account"/,
  ],
  [
    "a bad region",
    stringify({ ...good, deployment: { region: "Frankfurt" } }),
    /deployment\.region: "Frankfurt" is not an AWS region name/,
  ],
  ["a bad role path", stringify({ ...good, role: { path: "security" } }), /role\.path: .*is not a valid IAM path/],
  [
    "a session too long",
    stringify({ ...good, role: { maxSessionDurationSeconds: 99999 } }),
    /role\.maxSessionDurationSeconds: number 99999 is outside 3,600 to 43,200 seconds/,
  ],
  [
    "a wrong type for includeWorkspaces",
    stringify({ ...good, role: { includeWorkspaces: "no" } }),
    /role\.includeWorkspaces: expected boolean, got string/,
  ],
  [
    "roleName and roleNamePrefix",
    stringify({ ...good, role: { roleName: "a", roleNamePrefix: "b" } }),
    /role\.roleName: is set together with roleNamePrefix/,
  ],
  ["no accounts at all", stringify({ externalId: "literal-tenant-id" }), /accounts: no accounts: list them/],
  [
    "a bad OU ID",
    stringify({ externalId: "literal-tenant-id", organizations: { includeOus: ["Workloads"] } }),
    /organizations\.includeOus\[0\]: is not an organization root/,
  ],
];

interface Case {
  name: string;
  args: () => string[];
  env?: () => Record<string, string>;
  code: number;
  fragment: RegExp;
  /** Paths that must not exist afterwards (nothing half-written). */
  untouched?: () => string[];
}

// A 1 s deadline for the slow drip (its subject); 10 s for the others, whose answers are immediate
// and whose messages a loaded machine's slow attempt must not turn into a timeout's.
const manager =
  (how: string, ...args: string[]): Case["args"] =>
  () => ["external-id", "get", "--manager-url", `${base}/${how}/api`, "--timeout", how === "drip" ? "1" : "10", ...args];
const key = () => ({ DS_API_KEY: "corpus-key-0000" });
const sb = () => ({ DS_MANAGER_URL: sandbox.sandbox.url, DS_API_KEY: sandbox.sandbox.keys.admin });
const out = (name: string) => join(dir, `out-${name}`);

const CASES: Case[] = [
  // flags
  { name: "a misspelt command", args: () => ["onbaord"], code: 2, fragment: /Did you mean onboard\?[\s\S]*--help/ },
  { name: "an unknown option", args: () => ["external-id", "get", "--stor", "file:x"], code: 2, fragment: /Unknown argument/ },
  { name: "a bad --output", args: () => ["doctor", "--output", "yaml"], code: 2, fragment: /Invalid values:[\s\S]*output/ },
  { name: "a bad --auth", args: () => ["doctor", "--auth", "basic"], code: 2, fragment: /Invalid values:[\s\S]*auth/ },
  {
    name: "a bad retrieval action",
    args: () => ["external-id", "retrieval", "toggle"],
    code: 2,
    fragment: /Choices: "status", "enable", "disable", "reset"/,
  },
  { name: "synth without --config", args: () => ["synth"], code: 2, fragment: /Missing required argument: config/ },
  {
    name: "verify without roles",
    args: () => ["verify"],
    env: sb,
    code: 2,
    fragment: /Name the roles: --config <file> or --role-arn <arn>/,
  },
  {
    name: "--config with --role-arn",
    args: () => ["register", "--config", goodConfig, "--role-arn", "arn:aws:iam::111122223333:role/x"],
    env: sb,
    code: 2,
    fragment: /Give --config or --role-arn, not both/,
  },
  {
    name: "init without accounts (no terminal)",
    args: () => ["init", join(dir, "init-none")],
    code: 2,
    fragment: /Name the accounts: --account <id>/,
    untouched: () => [join(dir, "init-none")],
  },
  {
    name: "a bad migration phase",
    args: () => ["migrate-external-id", "shrink"],
    code: 2,
    fragment: /Choices: "discover", "plan", "widen", "switch", "narrow"/,
  },
  {
    name: "a migration phase out of order",
    args: () => ["migrate-external-id", "switch", "--config", goodConfig, "--state", join(dir, "none.json")],
    env: sb,
    code: 2,
    fragment: /no migration state yet\. Run `ds-onboard migrate-external-id discover` first/,
  },
  {
    name: "a sandbox failure share over 1",
    args: () => ["sandbox", "--fail-5xx", "2"],
    code: 2,
    fragment: /--fail-5xx: 2 is not a share between 0 and 1/,
  },
  // external IDs
  {
    name: "an external ID of one character",
    args: () => ["external-id", "get", "--external-id", "x"],
    code: 2,
    fragment: /is 1 characters long; AWS accepts 2 to 1,224/,
  },
  {
    name: "an external ID of 1,225 characters",
    args: () => ["external-id", "get", "--external-id", "a".repeat(1225)],
    code: 2,
    fragment: /is 1225 characters long/,
  },
  {
    name: "an external ID with a space",
    args: () => ["external-id", "get", "--external-id", "ab cd"],
    code: 2,
    fragment: /contains " " at position 3/,
  },
  {
    name: "an external ID with a quote",
    args: () => ["external-id", "get"],
    env: () => ({ DS_EXTERNAL_ID: 'ab"cd' }),
    code: 2,
    fragment: /DS_EXTERNAL_ID contains "\\"" at position 3/,
  },
  {
    name: "an external ID with a line break",
    args: () => ["external-id", "get", "--external-id", "ab\ncd"],
    code: 2,
    fragment: /contains "\\n" at position 3/,
  },
  {
    name: "an unknown storage location",
    args: () => ["external-id", "get", "--external-id-from", "vault:secret/ds"],
    code: 2,
    fragment: /is not a storage location\. Use ssm:<parameter-name>/,
  },
  {
    name: "a stored file that is missing",
    args: () => ["external-id", "get", "--external-id-from", `file:${join(dir, "missing.txt")}`],
    code: 2,
    fragment: /does not exist\. Store the ID first/,
  },
  {
    name: "an env: source that is not set",
    args: () => ["external-id", "get", "--external-id-from", "env:NOT_SET_ANYWHERE"],
    code: 2,
    fragment: /NOT_SET_ANYWHERE named as the external ID source is not set/,
  },
  {
    name: "a bad SSM parameter name",
    args: () => ["external-id", "get", "--external-id-from", "ssm:has space"],
    code: 2,
    fragment: /is not a valid SSM parameter name/,
  },
  // account IDs and ARNs
  {
    name: "a role ARN that is not an ARN",
    args: () => ["verify", "--role-arn", "DeepSecurityRole"],
    env: sb,
    code: 2,
    fragment: /--role-arn DeepSecurityRole: "DeepSecurityRole" is not an ARN/,
  },
  {
    name: "a role ARN in an unknown partition",
    args: () => ["register", "--role-arn", "arn:aws-mars:iam::111122223333:role/x"],
    env: sb,
    code: 2,
    fragment: /not a known AWS partition/,
  },
  {
    name: "a user ARN where a role is needed",
    args: () => ["register", "--role-arn", "arn:aws:iam::111122223333:user/x"],
    env: sb,
    code: 2,
    fragment: /names a user; expected a role/,
  },
  {
    name: "an 11-digit account in an ARN",
    args: () => ["verify", "--role-arn", "arn:aws:iam::11112222333:role/x"],
    env: sb,
    code: 2,
    fragment: /not a well-formed IAM ARN/,
  },
  {
    name: "the same account twice",
    args: () => ["register", "--role-arn", "arn:aws:iam::111122223333:role/a", "--role-arn", "arn:aws:iam::111122223333:role/b"],
    env: sb,
    code: 2,
    fragment: /account 111122223333 is given twice/,
  },
  {
    name: "a bad on-premises principal account",
    args: () => ["verify", "--role-arn", "arn:aws:iam::111122223333:role/x", "--principal-account", "12"],
    env: sb,
    code: 2,
    fragment: /principal: .*not an AWS account ID/,
  },
  {
    name: "a policy ARN as on-premises principal",
    args: () => ["verify", "--role-arn", "arn:aws:iam::111122223333:role/x", "--principal-arn", "arn:aws:iam::444455556666:policy/p"],
    env: sb,
    code: 2,
    fragment: /names a policy; expected a role or a user or a root/,
  },
  {
    name: "init with a bad account",
    args: () => ["init", join(dir, "init-bad"), "--account", "1234"],
    code: 2,
    fragment: /accounts\[0\]\.accountId: "1234" is not an AWS account ID \(12 digits\)/,
    untouched: () => [join(dir, "init-bad")],
  },
  // URLs
  {
    name: "a manager URL that is not a URL",
    args: () => ["external-id", "get", "--manager-url", "dsm.example.com"],
    env: key,
    code: 2,
    fragment: /is not a URL\. Use e\.g\. https:\/\/dsm\.example\.com:4119\/api/,
  },
  {
    name: "an ftp manager URL",
    args: () => ["external-id", "get", "--manager-url", "ftp://dsm.example.com/api"],
    env: key,
    code: 2,
    fragment: /the scheme must be https, not ftp/,
  },
  {
    name: "plain http to a remote manager",
    args: () => ["external-id", "get", "--manager-url", "http://dsm.example.com:4119/api"],
    env: key,
    code: 2,
    fragment: /plain http would send the API key unencrypted/,
  },
  {
    name: "credentials in the manager URL",
    args: () => ["external-id", "get", "--manager-url", "https://admin:pw@dsm.example.com/api"],
    env: key,
    code: 2,
    fragment: /remove the user name and password from the URL/,
  },
  {
    name: "a query string in the manager URL",
    args: () => ["external-id", "get", "--manager-url", "https://dsm.example.com/api?x=1"],
    env: key,
    code: 2,
    fragment: /remove the query string/,
  },
  {
    name: "a manager URL without /api",
    args: () => ["external-id", "get", "--manager-url", sandbox.sandbox.url.replace(/\/api$/, "")],
    env: key,
    code: 1,
    fragment: /The base URL must end in \/api: try http:\/\/127\.0\.0\.1:\d+\/api/,
  },
  {
    name: "no API key",
    args: () => ["external-id", "get", "--manager-url", "https://dsm.example.com:4119/api"],
    code: 2,
    fragment: /No API key\..*Set DS_API_KEY or pass --api-key-file/,
  },
  {
    name: "an API key file that is missing",
    args: () => ["external-id", "get", "--manager-url", "https://dsm.example.com:4119/api", "--api-key-file", join(dir, "nokey")],
    code: 2,
    fragment: /--api-key-file: .*nokey does not exist\.\n/,
  },
  {
    name: "an API key with a line break inside",
    args: () => ["external-id", "get", "--manager-url", "https://dsm.example.com:4119/api"],
    env: () => ({ DS_API_KEY: "abc\ndef" }),
    code: 2,
    fragment: /contains white space/,
  },
  {
    name: "a CA bundle that is not PEM",
    args: () => ["external-id", "get", "--manager-url", "https://dsm.example.com:4119/api", "--ca-bundle", aFile],
    env: key,
    code: 2,
    fragment: /holds no PEM certificate/,
  },
  // manager answers of the wrong shape
  {
    name: "an answer without externalId",
    args: manager("shape"),
    env: key,
    code: 1,
    fragment: /not an object with an "externalId" string/,
  },
  { name: "an empty body", args: manager("empty"), env: key, code: 1, fragment: /it sent an empty body/ },
  {
    name: "an HTML page with 200",
    args: manager("html"),
    env: key,
    code: 1,
    fragment: /HTTP 200 but the body is not JSON: "<html><body>Sign in to continue/,
  },
  {
    name: "an HTML error page with 500",
    args: manager("html500"),
    env: key,
    code: 1,
    fragment: /HTTP 500 when asked to read the AWS connector settings .*500 Internal Server Error/,
  },
  {
    name: "a JSON list instead of an object",
    args: manager("array"),
    env: key,
    code: 1,
    fragment: /not an object with an "externalId" string/,
  },
  { name: "broken JSON", args: manager("badjson"), env: key, code: 1, fragment: /the body is not JSON/ },
  { name: "an HTML 401", args: manager("h401"), env: key, code: 3, fragment: /refused the API key \(HTTP 401\)/ },
  {
    name: "a bare 403",
    args: manager("h403"),
    env: key,
    code: 3,
    fragment: /refused to return the external ID \(HTTP 403\): either retrieval is disabled .* or the API key's role lacks the right/,
  },
  { name: "a 404 page", args: manager("h404"), env: key, code: 1, fragment: /The manager's API is not at .*\(HTTP 404 for GET\)/ },
  { name: "a manager that keeps answering 503", args: manager("h503"), env: key, code: 1, fragment: /HTTP 503 after 5 attempts/ },
  { name: "a huge body", args: manager("huge"), env: key, code: 1, fragment: /is 41943040 bytes, more than the 33554432 read at most/ },
  {
    name: "a slow drip",
    args: manager("drip"),
    env: key,
    code: 1,
    fragment: /did not answer GET \/drip\/api\/awsconnectorsettings within 1 s/,
  },
  // outputs that cannot be written
  {
    name: "synth --out is a file",
    args: () => ["synth", "--config", goodConfig, "--out", aFile],
    code: 2,
    fragment: /is a file, not a folder; nothing was written/,
  },
  {
    name: "synth --out under a file",
    args: () => ["synth", "--config", goodConfig, "--out", join(aFile, "sub")],
    code: 2,
    fragment: /a-file\.txt is a file, not a folder; nothing was written/,
  },
  {
    name: "--store into a missing folder",
    args: () => ["external-id", "get", "--external-id", "abcdef1234", "--store", `file:${join(dir, "no-such-dir", "id.txt")}`],
    code: 1,
    fragment: /Could not write .*id\.txt: .*Check that the folder exists/,
    untouched: () => [join(dir, "no-such-dir")],
  },
  {
    name: "--store onto a folder",
    args: () => ["external-id", "get", "--external-id", "abcdef1234", "--store", `file:${dir}`],
    code: 2,
    fragment: /Nothing was written: .* is not a regular file/,
  },
  {
    name: "init over existing files",
    args: () => {
      const project = join(dir, "existing-project");
      mkdirSync(project, { recursive: true });
      writeFileSync(join(project, "main.ts"), "// mine\n");
      return ["init", project, "--account", "111122223333"];
    },
    code: 2,
    fragment: /already has main\.ts; nothing was written\. Use --force/,
    untouched: () => [join(dir, "existing-project", "ds-onboard.yaml")],
  },
];

describe("the bad-input corpus", () => {
  it("has at least 60 cases", () => expect(CASES.length + CONFIG_CASES.length).toBeGreaterThanOrEqual(60));

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const r = await runCli(c.args(), c.env?.() ?? {});
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: c.code, stderr: expect.stringMatching(c.fragment) });
    expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace without --verbose
    expect(r.stderr).not.toMatch(/internal error/);
    for (const path of c.untouched?.() ?? []) expect(existsSync(path)).toBe(false);
  });

  it.each(CONFIG_CASES)("config: %s", async (name, text, message) => {
    const caseDir = mkdtempSync(join(dir, "bad-"));
    const config = join(caseDir, name.includes("JSON") ? "config.json" : "ds-onboard.yaml");
    writeFileSync(config, text);
    const r = await runCli(["synth", "--config", config, "--out", out(name.replace(/\W+/g, "-"))], { DS_EXTERNAL_ID: "unused-id-1234" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out(name.replace(/\W+/g, "-")))).toBe(false);
    expect(readdirSync(caseDir)).toEqual([config.split("/").pop()]);
  });

  it("lists every error in a config, not just the first", async () => {
    const config = join(dir, "many-errors.yaml");
    writeFileSync(
      config,
      stringify({ externalId: "x", accounts: [{ accountId: "1" }, { accountId: 2 }], role: { path: "p" }, extra: true }),
    );
    const r = await runCli(["synth", "--config", config], {});
    expect(r.code).toBe(2);
    for (const path of ["externalId", "accounts[0].accountId", "accounts[1].accountId", "role.path", "(top level)"])
      expect(r.stderr).toContain(`  - ${path}: `);
  });

  it("with --verbose, a failure does show its stack trace (on stderr)", async () => {
    mkdirSync(join(dir, "verbose"), { recursive: true });
    const r = await runCli(manager("html", "--verbose")(), key());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
