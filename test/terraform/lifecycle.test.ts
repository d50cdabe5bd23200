/**
 * The account lifecycle with real Terraform, in both layouts, the way a team runs it: synth,
 * terraform init and apply, onboard; a second plan is empty; an account leaves the config (synth
 * says so, offboard deregisters its connector, the next plan works and apply destroys its role,
 * the others still verify); an account joins and only its resources are created.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Sandbox } from "../../src/sandbox/start";
import { runCli } from "../helpers/cli";
import { pipelineEnv } from "../helpers/sandbox";
import { describeWithTerraform, planActions, type TerraformRunner, terraformOnSandbox } from "../helpers/terraform";
import { allowFrom, PIPELINE_ROOT } from "../helpers/world";

jest.setTimeout(300_000);
const ROLE = "DeepSecurityCrossAccountRole";

describeWithTerraform("the account lifecycle with real Terraform", () => {
  const shared = terraformOnSandbox("account lifecycle", "ds-lifecycle-");
  let sb: Sandbox;
  let tf: TerraformRunner;
  let verifyAs: string;
  let next = 730000000000;
  beforeAll(() => {
    ({ sb, tf } = shared);
    verifyAs = sb.aws.iam.createRole("147995105371", "VerifyAs", JSON.stringify(allowFrom(PIPELINE_ROOT))).arn;
  });

  const env = () => pipelineEnv(sb);
  const roleIn = (account: string) => sb.aws.iam.accounts.get(account)?.roles.get(ROLE);
  const connectorsOf = (account: string) => sb.manager.connectors.filter((c) => c.accountId === account);
  const stackDirs = (dir: string) => readdirSync(join(dir, "cdktf.out", "stacks")).map((s) => join(dir, "cdktf.out", "stacks", s));

  function writeConfig(config: string, accounts: string[], layout: string): void {
    writeFileSync(
      config,
      stringify({ externalId: "manager", deployment: { layout }, accounts: accounts.map((accountId) => ({ accountId })) }),
    );
  }

  async function synth(config: string) {
    const r = await runCli(["synth", "--config", config, "--output", "json"], env());
    expect({ code: r.code, stderr: r.code ? r.stderr : "" }).toEqual({ code: 0, stderr: "" });
    return { ...(JSON.parse(r.stdout) as { lifecycle: Record<string, string[]>; retiredStacks: { name: string }[] }), stderr: r.stderr };
  }

  async function applyAll(dir: string): Promise<void> {
    for (const stack of stackDirs(dir)) {
      await tf.init(stack);
      await tf.apply(stack);
    }
  }

  async function expectNoChanges(dir: string): Promise<void> {
    for (const stack of stackDirs(dir)) expect({ stack, code: (await tf.plan(stack)).code }).toEqual({ stack, code: 0 });
  }

  it.each(["single-stack", "stack-per-account"])("%s: deploy and onboard three accounts, remove one, add one", async (layout) => {
    const [a, b, c, d] = [next++, next++, next++, next++].map(String);
    sb.aws.addOrganization({ accounts: [a, b, c, d] });
    const dir = mkdtempSync(join(tmpdir(), `ds-lifecycle-${layout}-`));
    const config = join(dir, "ds-onboard.yaml");
    try {
      // Three accounts: synth, apply, onboard; a second plan is empty.
      writeConfig(config, [a, b, c], layout);
      const first = await synth(config);
      expect(first.lifecycle).toMatchObject({ added: [a, b, c], kept: [], removed: [] });
      expect(first.stderr).toMatch(/accounts: 3 to add .*, 0 kept, 0 removed/);
      await applyAll(dir);
      for (const account of [a, b, c]) expect(roleIn(account)).toBeDefined();
      const onboard = await runCli(["onboard", "--config", config, "--assume-as", verifyAs, "--output", "json"], env());
      expect(onboard.code).toBe(0);
      expect(JSON.parse(onboard.stdout).accounts.map((r: { status: string }) => r.status)).toEqual(["created", "created", "created"]);
      await expectNoChanges(dir);

      // c leaves: synth says so and keeps its provider; offboard deregisters its connector first;
      // then the plan works and apply destroys its role; a and b still verify.
      writeConfig(config, [a, b], layout);
      const removal = await synth(config);
      expect(removal.lifecycle).toMatchObject({ added: [], kept: [a, b], removed: [c], retired: [c] });
      expect(removal.stderr).toMatch(new RegExp(`account ${c} left the config or the organization: its AWS provider stays`));
      if (layout === "stack-per-account") expect(removal.retiredStacks.map((s) => s.name)).toEqual([`deep-security-roles-${c}`]);
      const offboard = await runCli(["offboard", "--config", config, "--output", "json"], env());
      expect(offboard.code).toBe(0);
      expect(JSON.parse(offboard.stdout).accounts).toEqual([expect.objectContaining({ accountId: c, connector: "deregistered" })]);
      expect(connectorsOf(c)).toEqual([]);
      for (const stack of stackDirs(dir)) expect((await tf.plan(stack)).code).not.toBe(1);
      await applyAll(dir);
      expect(roleIn(c)).toBeUndefined();
      expect(sb.aws.iam.accounts.get(c)?.policies.size ?? 0).toBe(0);
      for (const account of [a, b]) expect(connectorsOf(account)).toHaveLength(1);
      const verify = await runCli(["verify", "--config", config, "--assume-as", verifyAs], env());
      expect(verify.code).toBe(0);
      // With its resources gone from the state, the next synth forgets c (and its own stack).
      const after = await synth(config);
      expect(after.lifecycle.retired).toEqual([]);
      expect(after.stderr).toMatch(new RegExp(`account ${c} left earlier and its resources are gone from the state: it is forgotten`));
      expect(stackDirs(dir).some((s) => s.endsWith(c))).toBe(false);
      await expectNoChanges(dir);

      // d joins: only its resources are created.
      writeConfig(config, [a, b, d], layout);
      const joining = await synth(config);
      expect(joining.lifecycle).toMatchObject({ added: [d], kept: [a, b], removed: [] });
      for (const stack of stackDirs(dir)) {
        await tf.init(stack);
        const { json } = await tf.savedPlan(stack);
        const actions = planActions(json);
        const own = stack.endsWith(d) || layout === "single-stack";
        expect(actions.update).toEqual([]);
        expect(actions.delete).toEqual([]);
        if (own) {
          expect(actions.create.length).toBeGreaterThan(0);
          for (const address of actions.create) expect(address).toContain(`account-${d}`);
        } else expect(actions.create).toEqual([]);
      }
      await applyAll(dir);
      expect(roleIn(d)).toBeDefined();
      await expectNoChanges(dir);
      // The state and the record never hold the API key.
      for (const file of readdirSync(dir).filter((f) => f.endsWith(".tfstate") || f.endsWith(".json"))) {
        expect(readFileSync(join(dir, file), "utf8")).not.toContain(sb.manager.keys.admin);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
