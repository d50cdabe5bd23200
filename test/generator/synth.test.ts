import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { configJsonSchema } from "../../src/config/schema";
import { ManagerClient } from "../../src/manager/client";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../../src/manager/types";
import { checkTrustPolicy } from "../../src/policy/trust";
import { SandboxManager } from "../../src/sandbox/manager";
import { runCli } from "../helpers/cli";
import { buildOrganization } from "../helpers/org";
import { sandboxEnv, useSandbox } from "../helpers/sandbox";

const REPO = join(__dirname, "..", "..");
const EXAMPLES = join(REPO, "examples");
const KEY = "9:SYNTH-LEAK-CANARY-abcdef0123456789";
const env = useSandbox({ adminKey: KEY });
const work = mkdtempSync(join(tmpdir(), "ds-synth-"));

/** Every cdk.tf.json under an output folder, by stack name. */
function stacksIn(outdir: string): Record<string, any> {
  const dir = join(outdir, "stacks");
  return Object.fromEntries(readdirSync(dir).map((s) => [s, JSON.parse(readFileSync(join(dir, s, "cdk.tf.json"), "utf8"))]));
}

function allText(outdir: string): string {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : [readFileSync(join(d, e.name), "utf8")],
    );
  return walk(outdir).join("\n");
}

function trustPolicies(stacks: Record<string, any>): string[] {
  return Object.values(stacks).flatMap((json) =>
    Object.values<{ assume_role_policy: string }>(json.resource.aws_iam_role).map((r) => r.assume_role_policy),
  );
}

describe("ds-onboard synth: the examples", () => {
  it("single account: the external ID from the manager, the API key nowhere in the output", async () => {
    const out = join(work, "single");
    const r = await runCli(
      ["synth", "--config", join(EXAMPLES, "config-single-account", "ds-onboard.yaml"), "--out", out],
      sandboxEnv(env, KEY),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 1 stack\(s\) for 1 account\(s\)/);
    expect(r.stdout).toMatch(/terraform -chdir=.*stacks\/deep-security-roles init/);
    expect(r.stdout).toMatch(/tofu -chdir=/);
    const stacks = stacksIn(out);
    for (const policy of trustPolicies(stacks))
      expect(checkTrustPolicy(policy, { principalArn: "arn:aws:iam::147995105371:root", externalIds: [env.sandbox.externalId] }).ok).toBe(
        true,
      );
    expect(allText(out)).not.toContain(KEY);
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(r.stdout).not.toContain(env.sandbox.externalId);
  });

  it("multi-account from SSM with retrieval disabled: no manager call for the ID, one stack per account", async () => {
    const admin = ManagerClient.create({ baseUrl: env.sandbox.url, apiKey: KEY, auth: "api-secret-key" });
    try {
      expect((await runCli(["external-id", "get", "--store", "ssm:/deep-security/external-id"], sandboxEnv(env, KEY))).code).toBe(0);
      await admin.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false");
      const before = env.sandbox.totalCalls;
      const out = join(work, "multi");
      const r = await runCli(
        ["synth", "--config", join(EXAMPLES, "config-multi-account", "ds-onboard.yaml"), "--out", out, "--output", "json"],
        sandboxEnv(env, KEY),
      );
      expect(r.code).toBe(0);
      expect(env.sandbox.totalCalls).toBe(before);
      const report = JSON.parse(r.stdout);
      expect(report.externalIdSource).toBe("ssm:/deep-security/external-id");
      expect(report.stacks.map((s: { name: string }) => s.name)).toEqual([
        "deep-security-roles-111111111111",
        "deep-security-roles-222222222222",
        "deep-security-roles-333333333333",
      ]);
      const stacks = stacksIn(out);
      expect(stacks["deep-security-roles-222222222222"].provider.aws[0].region).toBe("eu-central-1");
      expect(stacks["deep-security-roles-333333333333"].provider.aws[0].assume_role[0].role_arn).toBe(
        "arn:aws:iam::333333333333:role/AWSControlTowerExecution",
      );
      const permissions = JSON.parse(
        Object.values<{ policy: string }>(stacks["deep-security-roles-111111111111"].resource.aws_iam_policy)[0].policy,
      );
      expect(permissions.Statement[0].Action.some((a: string) => a.startsWith("workspaces:"))).toBe(false);
      // State lives beside the config, by a relative path.
      expect(stacks["deep-security-roles-111111111111"].terraform.backend.local.path).toMatch(
        /^\.\.\/.*config-multi-account\/terraform\.deep-security-roles-111111111111\.tfstate$/,
      );
      expect(allText(out)).not.toContain(KEY);
    } finally {
      await admin.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
      await admin.close();
    }
  });

  it("organizations discovery: includes, excludes, nested OUs, the management account on request", async () => {
    env.aws.organization = {
      managementAccountId: "000000000001",
      rootId: "r-root",
      units: [
        { Id: "ou-root-workloads1", Name: "Workloads", ParentId: "r-root" },
        { Id: "ou-root-platform1", Name: "Platform", ParentId: "r-root" },
        { Id: "ou-root-sandboxes", Name: "Sandboxes", ParentId: "r-root" },
        { Id: "ou-work-prodxxxx1", Name: "Prod", ParentId: "ou-root-workloads1" },
        { Id: "ou-work-suspended1", Name: "Suspended", ParentId: "ou-root-workloads1" },
      ],
      accounts: [
        { Id: "000000000001", Name: "management", State: "ACTIVE", ParentId: "r-root" },
        { Id: "111111111111", Name: "prod-a", State: "ACTIVE", ParentId: "ou-work-prodxxxx1" },
        { Id: "222222222222", Name: "shared", State: "ACTIVE", ParentId: "ou-root-platform1" },
        { Id: "333333333333", Name: "old", State: "ACTIVE", ParentId: "ou-work-suspended1" },
        { Id: "444444444444", Name: "closing", State: "PENDING_CLOSURE", ParentId: "ou-root-workloads1" },
        { Id: "555555555555", Name: "play", State: "ACTIVE", ParentId: "ou-root-sandboxes" },
        { Id: "999999999999", Name: "excluded", State: "ACTIVE", ParentId: "ou-root-platform1" },
      ],
    };
    const e = { ...sandboxEnv(env, KEY), DS_TENANT_EXTERNAL_ID: "org-tenant-id-4321" };
    const config = join(EXAMPLES, "config-organizations", "ds-onboard.yaml");
    const listed = await runCli(["synth", "--config", config, "--list-accounts"], e);
    expect(listed.code).toBe(0);
    const line = (id: string) => listed.stdout.split("\n").find((l) => l.includes(id)) ?? "";
    expect(line("111111111111")).toMatch(/^include .*Root\/Workloads\/Prod .*under Workloads \(ou-root-workloads1\)/);
    expect(line("222222222222")).toMatch(/^include .*under Platform/);
    expect(line("333333333333")).toMatch(/^exclude .*under excluded OU Suspended/);
    expect(line("444444444444")).toMatch(/^exclude .*account is pending closure/);
    expect(line("555555555555")).toMatch(/^exclude .*not under any OU in includeOus/);
    expect(line("999999999999")).toMatch(/^exclude .*listed in excludeAccounts/);
    expect(listed.stdout).toMatch(/2 account\(s\) to onboard/);
    expect(line("000000000001")).toMatch(/^exclude .*not under any OU in includeOus/); // the root is not in includeOus

    const out = join(work, "org");
    const r = await runCli(["synth", "--config", config, "--out", out], e);
    expect(r.code).toBe(0);
    expect(Object.keys(stacksIn(out)).sort()).toEqual(["deep-security-roles-111111111111", "deep-security-roles-222222222222"]);
    expect(allText(out)).toContain("org-tenant-id-4321");
  });

  it("includes the management account when asked and it is in scope", async () => {
    env.aws.organization = buildOrganization({ depth: 1, fanout: 1, perOu: 3 });
    const config = join(work, "mgmt.yaml");
    writeFileSync(config, stringify({ externalId: "literal-tenant-id", organizations: { includeManagementAccount: true } }));
    const r = await runCli(["synth", "--config", config, "--list-accounts", "--output", "json"], sandboxEnv(env));
    const decisions = JSON.parse(r.stdout).discovery;
    expect(decisions.find((d: { accountId: string }) => d.accountId === "000000000001")).toMatchObject({
      included: true,
      reason: expect.stringMatching(/management account included on request/),
    });
  });

  it("on-premises manager: custom principal, HTTPS with --ca-bundle, Deny guard", async () => {
    const https = await SandboxManager.start({ https: true, adminKey: KEY });
    try {
      const ca = join(work, "ca.pem");
      writeFileSync(ca, https.caCertificate!);
      const out = join(work, "onprem");
      const config = join(EXAMPLES, "config-on-premises", "ds-onboard.yaml");
      const e = { DS_MANAGER_URL: https.url, DS_API_KEY: KEY };
      const failed = await runCli(["synth", "--config", config, "--out", out], e);
      expect(failed.code).toBe(2); // the config's caBundle file is not there: the error names it
      expect(failed.stderr).toMatch(/manager-ca\.pem does not exist/);
      const r = await runCli(["synth", "--config", config, "--out", out, "--ca-bundle", ca], e);
      expect(r.code).toBe(0);
      for (const policy of trustPolicies(stacksIn(out))) {
        const check = checkTrustPolicy(policy, {
          principalArn: "arn:aws:iam::444455556666:role/DeepSecurityManager",
          externalIds: [https.externalId],
          requireDenyGuard: true,
        });
        expect(check.findings).toEqual([]);
      }
      expect(allText(out)).not.toContain(KEY);
    } finally {
      await https.stop();
    }
  });
});

describe("Organizations discovery at scale", () => {
  it("several hundred accounts across nested OUs, paginated and throttled", async () => {
    env.aws.organization = buildOrganization({ depth: 3, fanout: 3, perOu: 12 }); // 39 OUs, 468 + 3 accounts
    env.aws.organizationsThrottleRate = 0.15;
    env.aws.organizationsLatencyMs = 10;
    try {
      const config = join(work, "org-scale.yaml");
      writeFileSync(config, stringify({ externalId: "scale-tenant-id", organizations: {} }));
      const r = await runCli(["synth", "--config", config, "--list-accounts", "--output", "json"], sandboxEnv(env));
      expect(r.code).toBe(0);
      const { accounts, discovery } = JSON.parse(r.stdout);
      expect(discovery).toHaveLength(env.aws.organization.accounts.length);
      expect(accounts).toHaveLength(env.aws.organization.accounts.length - 3); // suspended, closed, management
      expect(new Set(accounts.map((a: { accountId: string }) => a.accountId)).size).toBe(accounts.length);
      expect(env.aws.calls.get("organizations.ListAccountsForParent") ?? 0).toBeGreaterThan(40); // pages and throttled retries
      // The tree is read a few parents at a time, never more than 4 (Organizations throttles early).
      expect(env.aws.organizationsPeakInFlight).toBe(4);
    } finally {
      env.aws.organizationsThrottleRate = 0;
      env.aws.organizationsLatencyMs = 0;
    }
  });
});

describe("registration during cdktf deploy, from the config", () => {
  it("adds a register step per account, named after the account, with no API key in the output", async () => {
    const config = join(work, "register-on-deploy.yaml");
    writeFileSync(
      config,
      stringify({
        manager: { url: "https://dsm.example.com:4119/api", principal: { type: "on-premises", accountId: "444455556666" } },
        externalId: "literal-tenant-id",
        deployment: { registration: { onDestroy: "deregister" } },
        accounts: [{ accountId: "111122223333", displayName: "prod" }, { accountId: "444455556666" }],
      }),
    );
    const out = join(work, "register-on-deploy");
    const r = await runCli(["synth", "--config", config, "--out", out], { DS_API_KEY: KEY });
    expect(r.code).toBe(0);
    const json = stacksIn(out)["deep-security-roles"];
    const steps = Object.values<{ provisioner: { "local-exec": { command: string; environment?: Record<string, string> } }[] }>(
      json.resource.terraform_data,
    );
    expect(steps.map((s) => s.provisioner[0]["local-exec"].command.replace(/\$\{[^}]+\}/, "ARN")).sort()).toEqual([
      "npx --no-install ds-onboard register --role-arn ARN --display-name '111122223333'".replace("111122223333", "444455556666"),
      "npx --no-install ds-onboard register --role-arn ARN --display-name 'prod'",
    ]);
    expect(steps[0].provisioner[0]["local-exec"].environment).toEqual({ DS_MANAGER_URL: "https://dsm.example.com:4119/api" });
    expect(allText(out)).not.toContain(KEY);
  });
});

describe("a 1,000-account config", () => {
  it("synthesizes", async () => {
    const config = join(work, "thousand.yaml");
    writeFileSync(
      config,
      stringify({
        externalId: "literal-tenant-id",
        accounts: Array.from({ length: 1000 }, (_, i) => ({ accountId: String(200000000000 + i) })),
      }),
    );
    const out = join(work, "thousand");
    const r = await runCli(["synth", "--config", config, "--out", out], {});
    expect(r.code).toBe(0);
    const json = stacksIn(out)["deep-security-roles"];
    expect(Object.keys(json.resource.aws_iam_role)).toHaveLength(1000);
  });
});

describe("the JSON Schema for editors", () => {
  it("is committed as generated from the config definition", () => {
    const committed = JSON.parse(readFileSync(join(REPO, "schema", "onboarding-config.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});

describe("ds-onboard init", () => {
  it("refuses to overwrite, and needs accounts when not on a terminal", async () => {
    const dir = join(work, "init-refuse");
    mkdirSync(dir);
    writeFileSync(join(dir, "main.ts"), "// mine\n");
    const r = await runCli(["init", dir, "--account", "111122223333"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already has main\.ts; nothing was written\. Use --force/);
    expect(readFileSync(join(dir, "main.ts"), "utf8")).toBe("// mine\n");
    expect(existsSync(join(dir, "ds-onboard.yaml"))).toBe(false);
    const none = await runCli(["init", join(work, "init-none")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Name the accounts: --account <id>/);
    const bad = await runCli(["init", join(work, "init-bad"), "--account", "12"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/accounts\[0\]\.accountId: "12" is not an AWS account ID \(12 digits\)/);
  });
});
