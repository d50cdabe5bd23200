/**
 * Real Terraform (init, apply, plan, destroy) of the synthesized stacks against the local AWS
 * endpoint: the roles land in the right accounts of a sandbox organization, a second plan is
 * empty, a new account adds only its own resources, and destroy removes everything.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { App, LocalBackend, type TerraformStack } from "cdktf";
import { type AccountStacksProps, addAccountStacks, type StackLayout } from "../../constructs";
import { parsePolicy } from "../../src/policy/document";
import { WORKLOAD_SECURITY_ACCOUNT_ID } from "../../src/policy/principal";
import { describeWithTerraform, eachLimit, planActions, terraformOnLocalAws } from "../helpers/terraform";

const EXTERNAL_ID = "tenant-external-id-terraform-1";
const ROLE = "DeepSecurityCrossAccountRole";
const POLICY = "DeepSecurityCrossAccountRolePolicy";
const MANAGER = `arn:aws:iam::${WORKLOAD_SECURITY_ACCOUNT_ID}:root`;

jest.setTimeout(180_000);

/** Synthesizes the account stacks into `dir/cdktf.out`, state under `dir/state`; returns each stack's folder. */
function synth(dir: string, props: AccountStacksProps): string[] {
  const app = new App({ outdir: join(dir, "cdktf.out"), skipValidation: false });
  const stacks: TerraformStack[] = addAccountStacks(app, props);
  for (const stack of stacks) new LocalBackend(stack, { path: join(dir, "state", `${stack.node.id}.tfstate`) });
  app.synth();
  return stacks.map((s) => join(app.outdir, "stacks", s.node.id));
}

describeWithTerraform("real Terraform applies the account stacks to the local AWS endpoint", () => {
  const local = terraformOnLocalAws("account stacks", "ds-onboard-apply-");

  /** The role, its trust policy and its attached policy in one account of the sandbox. */
  function roleIn(account: string) {
    const iam = local.aws.iam.accounts.get(account);
    const role = iam?.roles.get(ROLE);
    const policyArn = `arn:aws:iam::${account}:policy/${POLICY}`;
    return { role, policy: iam?.policies.get(policyArn), attached: iam?.attached.get(ROLE) ?? [], policyArn };
  }

  function expectOnboarded(account: string) {
    const { role, policy, attached, policyArn } = roleIn(account);
    expect(role?.arn).toBe(`arn:aws:iam::${account}:role/${ROLE}`);
    const trust = parsePolicy(role!.trustPolicy);
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Principal: { AWS: MANAGER },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID } },
      }),
    ]);
    expect(policy).toBeDefined();
    expect(JSON.stringify(parsePolicy(policy!.document))).toContain("ec2:DescribeInstances");
    expect(attached).toEqual([policyArn]);
    // The manager can assume it with the external ID only.
    expect(local.aws.iam.assumeRole(MANAGER, role!.arn, "check", EXTERNAL_ID).roleArn).toBe(role!.arn);
    expect(() => local.aws.iam.assumeRole(MANAGER, role!.arn, "check", "another-tenant-id")).toThrow(/not authorized/);
  }

  describe.each<[StackLayout, string]>([
    ["single-stack", "1111"],
    ["stack-per-account", "2222"],
  ])("%s", (layout, prefix) => {
    const ids = [1, 2, 3, 4].map((n) => `${prefix}0000000${n}`.padEnd(12, "0").slice(0, 12));
    const [a1, a2, a3, a4] = ids;
    let dir: string;
    const props = (accounts: string[]): AccountStacksProps => ({
      layout,
      externalIds: [EXTERNAL_ID],
      accounts: accounts.map((accountId) => ({ accountId })),
      stackName: `roles-${layout}`,
    });

    beforeAll(() => {
      dir = mkdtempSync(join(local.work, `${layout}-`));
      local.aws.addOrganization({ accounts: [a1, a2, a3] });
    });

    it("applies three accounts; the roles are in their accounts; a second plan has no changes", async () => {
      const stacks = synth(dir, props([a1, a2, a3]));
      expect(stacks).toHaveLength(layout === "single-stack" ? 1 : 3);
      await eachLimit(stacks, async (stack) => {
        await local.tf.init(stack);
        await local.tf.apply(stack);
      });
      for (const account of [a1, a2, a3]) expectOnboarded(account);
      for (const plan of await eachLimit(stacks, (stack) => local.tf.plan(stack))) expect(noChanges(plan)).toEqual(NO_CHANGES);
    });

    it("adds a fourth account: the plan creates only its three resources, and the apply onboards it", async () => {
      local.aws.addOrganization({ accounts: [a4] });
      const stacks = synth(dir, props([a1, a2, a3, a4]));
      // Single stack: the one stack's plan. A stack per account: a new stack, the others unchanged.
      const changed = layout === "single-stack" ? stacks[0] : stacks.find((s) => s.endsWith(a4))!;
      const [plan, unchanged] = await Promise.all([
        (async () => {
          if (layout === "stack-per-account") await local.tf.init(changed);
          return local.tf.savedPlan(changed);
        })(),
        eachLimit(
          stacks.filter((s) => s !== changed),
          (stack) => local.tf.plan(stack),
          1,
        ),
      ]);
      for (const other of unchanged) expect(noChanges(other)).toEqual(NO_CHANGES);
      const actions = planActions(plan.json);
      expect({ update: actions.update, delete: actions.delete }).toEqual({ update: [], delete: [] });
      expect(actions.create.map((a) => a.replace(/_[0-9A-F]{8}$/, "")).sort()).toEqual([
        `aws_iam_policy.accounts_account-${a4}_policy`,
        `aws_iam_role.accounts_account-${a4}_role`,
        `aws_iam_role_policy_attachment.accounts_account-${a4}_policy-attachment`,
      ]);
      expect(roleIn(a4).role).toBeUndefined();
      await local.tf.apply(changed, [plan.file]);
      for (const account of ids) expectOnboarded(account);
      expect(noChanges(await local.tf.plan(changed))).toEqual(NO_CHANGES);
    });

    it("destroys: the roles and policies are gone from every account, the deployment roles stay", async () => {
      const stacks = synth(dir, props(ids));
      await eachLimit(stacks, (stack) => local.tf.destroy(stack));
      for (const account of ids) {
        const { role, policy } = roleIn(account);
        expect(role).toBeUndefined();
        expect(policy).toBeUndefined();
        expect(local.aws.iam.accounts.get(account)?.roles.has("OrganizationAccountAccessRole")).toBe(true);
      }
    });
  });
});

const NO_CHANGES = { code: 0, summary: "No changes. Your infrastructure matches the configuration.", stderr: "" };

/** What a plan said, shortened to compare with {@link NO_CHANGES} (and the output when it differs). */
function noChanges(plan: { code: number; stdout: string; stderr: string; changes: { summary: string } }) {
  const same = plan.code === 0 && plan.stderr === "";
  return { code: plan.code, summary: plan.changes.summary, stderr: plan.stderr, ...(same ? {} : { stdout: plan.stdout }) };
}
