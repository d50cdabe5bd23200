/**
 * Migrating 10 accounts from user-defined external IDs to the tenant's, in the sandbox, with a
 * check after every step that the manager can still assume every role.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { buildPermissionsPolicy } from "../../src/policy/permissions";
import { buildTrustPolicy } from "../../src/policy/trust";
import { seedFromTerraform } from "../../src/sandbox/seed";
import { SANDBOX_MANAGER_IDENTITY, type Sandbox, startSandbox } from "../../src/sandbox/start";
import { runCli } from "../helpers/cli";
import { pipelineEnv } from "../helpers/sandbox";

const WS_ROOT = "arn:aws:iam::147995105371:root";
const N = 10;
const accounts = Array.from({ length: N }, (_, i) => String(810000000000 + i));
const legacyId = (i: number) => `user-defined-legacy-${i}-abc`;
let sb: Sandbox;
let dir: string;
let config: string;

beforeAll(async () => {
  sb = await startSandbox();
  dir = mkdtempSync(join(tmpdir(), "ds-migrate-"));
  config = join(dir, "ds-onboard.yaml");
  writeFileSync(
    config,
    stringify({
      manager: { product: "workload-security" },
      externalId: "manager",
      deployment: { layout: "stack-per-account" },
      accounts: accounts.map((accountId) => ({ accountId })),
    }),
  );
  accounts.forEach((accountId, i) => {
    const iam = sb.aws.iam;
    iam.createRole(
      accountId,
      "OrganizationAccountAccessRole",
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }],
      }),
    );
    iam.putInline(
      accountId,
      "OrganizationAccountAccessRole",
      "admin",
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }),
    );
    // An older deployment: the same role name ds-onboard uses, trusting a user-defined ID.
    const role = iam.createRole(
      accountId,
      "DeepSecurityCrossAccountRole",
      JSON.stringify(buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [legacyId(i)] })),
    );
    const policy = iam.createPolicy(accountId, "DeepSecurityCrossAccountRolePolicy", JSON.stringify(buildPermissionsPolicy()));
    iam.attach(accountId, role.name, policy.arn);
    sb.manager.addLegacyConnector({ crossAccountRoleArn: role.arn, externalId: legacyId(i), displayName: `legacy-${i}` });
  });
});
afterAll(() => sb.stop());

const env = () => pipelineEnv(sb);
const migrate = (phase: string, ...extra: string[]) =>
  runCli(["migrate-external-id", phase, "--config", config, "--output", "json", ...extra], env());

/** No moment of lost access: the manager, with each connector's current ID, can assume every role. */
async function expectManagerCanAssumeEveryRole(): Promise<void> {
  const results = await Promise.all(sb.manager.connectors.map(async (c) => [c.accountId, await sb.manager.canAssume(c.ID!)] as const));
  expect(results.filter(([, ok]) => !ok)).toEqual([]);
  expect(results).toHaveLength(N);
}

/** Stands in for `cdktf deploy` of the written output. */
function deploy(): void {
  const stacks = join(dir, "cdktf.out", "stacks");
  for (const s of readdirSync(stacks)) seedFromTerraform(sb.aws.iam, JSON.parse(readFileSync(join(stacks, s, "cdk.tf.json"), "utf8")));
}

describe("migrate-external-id, end to end", () => {
  it("discover classifies every account as user-defined, and changes nothing", async () => {
    await expectManagerCanAssumeEveryRole();
    const r = await migrate("discover");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.accounts.map((a: { classification: string }) => a.classification)).toEqual(Array(N).fill("user-defined"));
    expect(r.stdout + r.stderr).not.toMatch(/user-defined-legacy-\d/); // old IDs are never printed
    expect(readFileSync(report.statePath, "utf8")).not.toMatch(/user-defined-legacy-\d/);
    await expectManagerCanAssumeEveryRole();
  });

  it("plan prints the steps and changes nothing", async () => {
    const r = await runCli(["migrate-external-id", "plan", "--config", config], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /widen the trust policy to accept the old and the tenant's ID; then switch connector \d+ to the tenant's ID; then narrow the trust policy/,
    );
  });

  it("refuses phases out of order, naming the phase that comes first", async () => {
    const narrow = await migrate("narrow");
    expect(narrow.code).toBe(2);
    expect(narrow.stderr).toMatch(/narrow refuses to start: .* Run `ds-onboard migrate-external-id switch` first/);
    const sw = await migrate("switch");
    expect(sw.code).toBe(2);
    expect(sw.stderr).toMatch(/switch refuses to start: .* Run `ds-onboard migrate-external-id widen` first/);
    await expectManagerCanAssumeEveryRole();
  });

  it("widen writes roles accepting both IDs; after the deploy it verifies them", async () => {
    const dry = await migrate("widen", "--dry-run");
    expect(JSON.parse(dry.stdout).messages[0]).toMatch(/^would write /);
    const first = await migrate("widen");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).accounts.every((a: { widened: boolean }) => !a.widened)).toBe(true);
    await expectManagerCanAssumeEveryRole();
    deploy();
    await expectManagerCanAssumeEveryRole();
    const second = await migrate("widen");
    expect(JSON.parse(second.stdout).accounts.every((a: { widened: boolean }) => a.widened)).toBe(true);
  });

  it("switch moves the connectors, and an interrupted switch resumes and finishes", async () => {
    const args = [join(__dirname, "..", "..", "bin", "ds-onboard.js"), "migrate-external-id", "switch", "--config", config];
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env() }, stdio: "ignore" });
    const switchedNow = () => sb.manager.connectors.filter((c) => sb.manager.externalIdFor(c.ID!) === sb.manager.externalId).length;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (switchedNow() >= 3) {
          clearInterval(poll);
          child.kill("SIGKILL");
          resolve();
        }
      }, 2);
    });
    await new Promise((r) => child.once("close", r));
    const killedAfter = switchedNow();
    expect(killedAfter).toBeLessThan(N);
    await expectManagerCanAssumeEveryRole();

    const rerun = await migrate("switch");
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).accounts.every((a: { switched: boolean }) => a.switched)).toBe(true);
    expect(switchedNow()).toBe(N);
    await expectManagerCanAssumeEveryRole();
  });

  it("narrow writes roles with the tenant's ID alone; after the deploy the old IDs are refused", async () => {
    const first = await migrate("narrow");
    expect(first.code).toBe(0);
    await expectManagerCanAssumeEveryRole();
    deploy();
    await expectManagerCanAssumeEveryRole();
    const second = await migrate("narrow");
    const report = JSON.parse(second.stdout);
    expect(report.accounts.every((a: { narrowed: boolean }) => a.narrowed)).toBe(true);
    // The old IDs no longer open any role; the tenant's does.
    accounts.forEach((accountId, i) => {
      const roleArn = `arn:aws:iam::${accountId}:role/DeepSecurityCrossAccountRole`;
      expect(() => sb.aws.iam.assumeRole(SANDBOX_MANAGER_IDENTITY, roleArn, "check", legacyId(i))).toThrow(/not authorized/);
      expect(() => sb.aws.iam.assumeRole(SANDBOX_MANAGER_IDENTITY, roleArn, "check", sb.manager.externalId)).not.toThrow();
    });
    const discover = await migrate("discover");
    expect(JSON.parse(discover.stdout).accounts.map((a: { classification: string }) => a.classification)).toEqual(
      Array(N).fill("migrated"),
    );
  });

  it("without a config, takes the accounts from the manager's connectors and writes one trust policy per account", async () => {
    const state = join(dir, "from-connectors.json");
    const out = join(dir, "policies");
    const discover = await runCli(["migrate-external-id", "discover", "--state", state, "--output", "json"], env());
    expect(discover.code).toBe(0);
    expect(JSON.parse(discover.stdout).accounts).toHaveLength(N);
    const widen = await runCli(["migrate-external-id", "widen", "--state", state, "--out", out], env());
    expect(widen.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(accounts.map((a) => `${a}.trust-policy.json`).sort());
    const policy = JSON.parse(readFileSync(join(out, files[0]), "utf8"));
    expect(policy.Statement[0].Condition.StringEquals["sts:ExternalId"]).toBe(sb.manager.externalId);
    expect(statSync(join(out, files[0])).mode & 0o777).toBe(0o600);
  });
});
