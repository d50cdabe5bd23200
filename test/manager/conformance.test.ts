import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ManagerClient } from "../../src/manager/client";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../../src/manager/types";
import { SandboxManager } from "../../src/sandbox/manager";
import { findOperation, requestSchemaRef, responseSchemaRef, SPEC_PATH, spec, validate } from "../helpers/openapi";

/** Statuses any endpoint may answer though the spec lists only the documented ones. */
const GENERIC_STATUSES = new Set([400, 401, 429, 500, 502, 503, 504]);

let sandbox: SandboxManager;
let client: ManagerClient;

beforeAll(async () => {
  sandbox = await SandboxManager.start({ record: true });
  client = ManagerClient.create({ baseUrl: sandbox.url, apiKey: sandbox.keys.admin, auth: "api-secret-key" });
  const restricted = ManagerClient.create({ baseUrl: sandbox.url, apiKey: sandbox.keys.restricted, auth: "apikey" });
  // Every client call, the successes and the documented failures.
  await client.getExternalId();
  await restricted.getExternalId().catch(() => undefined); // 403
  await client.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
  await client.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false");
  await client.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
  await client.getSetting("noSuchSetting").catch(() => undefined); // 404
  await restricted.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false").catch(() => undefined); // 403
  const a = await client.createConnector({
    displayName: "a",
    crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS",
    workspacesEnabled: true,
  });
  await client.createConnector({ crossAccountRoleArn: "arn:aws:iam::444455556666:role/DS", seedRegion: "eu-west-1" });
  await client.listConnectors();
  await client.findConnectorsByAccount("111122223333");
  await client.searchConnectors({
    maxItems: 10,
    sortByObjectID: true,
    searchCriteria: [{ fieldName: "displayName", stringTest: "equal", stringValue: "a%", stringWildcards: true }],
  });
  await client.describeConnector(a.ID!);
  await client.modifyConnector(a.ID!, { displayName: "renamed", crossAccountRoleArn: "arn:aws:iam::111122223333:role/DS" }, { sync: true });
  await client.modifyConnector(a.ID!, { displayName: "again" });
  await client.deleteConnector(a.ID!);
  await client.describeConnector(a.ID!).catch(() => undefined); // 404
  await client.modifyConnector(a.ID!, { displayName: "x" }).catch(() => undefined); // 404
  await client.currentApiKey();
  await restricted.close();
});

afterAll(async () => {
  await client.close();
  await sandbox.stop();
});

describe("conformance to the vendor's OpenAPI subset", () => {
  it("the spec copy in test/fixtures equals the shared reference (when present)", () => {
    const shared = join(__dirname, "..", "..", "..", "shared", "reference", "workload-security-openapi-subset.json");
    if (existsSync(shared)) expect(readFileSync(SPEC_PATH, "utf8")).toBe(readFileSync(shared, "utf8"));
    expect(spec.info.version).toBe("50.0.827");
  });

  it("the client exercised every operation in the spec except modifyCurrentApiKey", () => {
    const seen = new Set(sandbox.exchanges.map((x) => findOperation(x.method, x.path)?.op.operationId));
    const all = Object.values<Record<string, { operationId?: string }>>(spec.paths)
      .flatMap((item) => Object.values(item).map((op) => op.operationId))
      .filter(Boolean);
    expect(all.filter((id) => !seen.has(id))).toEqual(["modifyCurrentApiKey"]);
  });

  it("every request the client sent is a spec operation, with api-version v1, an auth header, declared query parameters and a valid body", () => {
    expect(sandbox.exchanges.length).toBeGreaterThan(15);
    for (const x of sandbox.exchanges) {
      const found = findOperation(x.method, x.path);
      expect({ call: `${x.method} ${x.path}`, known: !!found }).toEqual({ call: `${x.method} ${x.path}`, known: true });
      expect(x.apiVersion).toBe("v1");
      expect(x.authHeader).toBeDefined();
      const declared = (found!.op.parameters ?? []).filter((p: { in: string }) => p.in === "query").map((p: { name: string }) => p.name);
      expect(Object.keys(x.query).filter((q) => !declared.includes(q))).toEqual([]);
      const ref = requestSchemaRef(found!.op);
      if (ref)
        expect({ call: `${x.method} ${x.path}`, errors: validate(ref, x.requestBody) }).toEqual({
          call: `${x.method} ${x.path}`,
          errors: "",
        });
      else expect(x.requestBody).toBeUndefined();
    }
  });

  it("every sandbox answer has a documented status and a body that validates strictly", () => {
    for (const x of sandbox.exchanges) {
      const { op } = findOperation(x.method, x.path)!;
      const call = `${x.method} ${x.path} -> ${x.status}`;
      expect({ call, documented: String(x.status) in op.responses || GENERIC_STATUSES.has(x.status) }).toEqual({ call, documented: true });
      if (x.status === 200) {
        const ref = responseSchemaRef(op, 200);
        if (ref) expect({ call, errors: validate(ref, x.responseBody) }).toEqual({ call, errors: "" });
        else expect(x.responseBody).toBeUndefined();
      } else {
        // Error bodies: the spec documents only the status; the field shape is a JSON message.
        expect(x.responseBody).toEqual({ message: expect.any(String) });
        const documented = op.responses[String(x.status)]?.description;
        if (documented && x.status !== 200)
          expect({ call, message: (x.responseBody as { message: string }).message }).toEqual({ call, message: documented });
      }
    }
  });

  it("the strict validator does catch drift (a wrongly cased field fails)", () => {
    expect(validate("#/components/schemas/awsconnectorsettings", { externalID: "x" })).not.toBe("");
    expect(validate("#/components/schemas/AWSConnector", { id: 3 })).not.toBe("");
    expect(validate("#/components/schemas/AWSConnector", { ID: 3, accountId: "111122223333" })).toBe("");
  });

  it("the sandbox refuses a request without api-version, as the spec requires it", async () => {
    const res = await fetch(`${sandbox.url}/awsconnectors`, { headers: { "api-secret-key": sandbox.keys.admin } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: expect.stringContaining("api-version") });
  });

  it("every 200 carries X-DSM-Version", async () => {
    const res = await fetch(`${sandbox.url}/apikeys/current`, { headers: { "api-secret-key": sandbox.keys.admin, "api-version": "v1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-dsm-version")).toMatch(/Deep Security/);
  });
});
