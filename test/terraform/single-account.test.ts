/**
 * Real Terraform of the single-account stack: the external ID as a sensitive variable given
 * with `-var`; every optional role attribute set, and an update (a new external ID, other
 * tags, a smaller policy) through IAM's update calls with no drift afterwards; destroy.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { DeepSecurityCrossAccountRole, type DeepSecurityCrossAccountRoleProps } from "../../constructs";
import { parsePolicy } from "../../src/policy/document";
import { WORKLOAD_SECURITY_ACCOUNT_ID } from "../../src/policy/principal";
import { SANDBOX_PIPELINE_ACCOUNT } from "../../src/sandbox/seed";
import { describeWithTerraform, terraformOnLocalAws } from "../helpers/terraform";

jest.setTimeout(180_000);

const MANAGER = `arn:aws:iam::${WORKLOAD_SECURITY_ACCOUNT_ID}:root`;
const BOUNDARY = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const OLD_ID = "tenant-id-before-rotation-01";
const NEW_ID = "tenant-id-after-rotation-002";

/**
 * The single-account stack in `dir`; its external ID a literal, or (`"variable"`) a sensitive
 * variable `ds_external_id`. Returns the stack folder.
 */
function synth(dir: string, externalId: string, props: Omit<DeepSecurityCrossAccountRoleProps, "externalIds">): string {
  const app = new App({ outdir: join(dir, "cdktf.out"), skipValidation: false });
  const stack = new TerraformStack(app, "deep-security");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  new LocalBackend(stack, { path: join(dir, "terraform.tfstate") });
  const id =
    externalId === "variable"
      ? new TerraformVariable(stack, "ds_external_id", { type: "string", sensitive: true }).stringValue
      : externalId;
  new DeepSecurityCrossAccountRole(stack, "deep-security", { ...props, externalIds: [id] });
  app.synth();
  return join(app.outdir, "stacks", stack.node.id);
}

describeWithTerraform("real Terraform applies the single-account stack", () => {
  const local = terraformOnLocalAws("single account", "ds-onboard-single-");
  let stack: string;
  const account = () => local.aws.iam.accounts.get(SANDBOX_PIPELINE_ACCOUNT);
  const role = () => account()?.roles.get("DsRole");
  const policy = () => account()?.policies.get("arn:aws:iam::000000000000:policy/ds/DsRolePolicy");

  // Terraform's regex engine (RE2) refuses repeat counts above 1000, so the precondition checks
  // the characters by regex and the length with length(): this apply proves it.
  it("applies with the external ID as a sensitive variable given with -var, and plans no changes after", async () => {
    const tokenDir = mkdtempSync(join(local.work, "token-"));
    const tokenStack = synth(tokenDir, "variable", { roleName: "DsTokenRole" });
    await local.tf.init(tokenStack);
    const missing = await local.tf.plan(tokenStack);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No value for required variable/);
    const vars = [`-var=ds_external_id=${OLD_ID}`];
    await local.tf.apply(tokenStack, vars);
    const r = account()?.roles.get("DsTokenRole");
    expect(r && local.aws.iam.assumeRole(MANAGER, r.arn, "check", OLD_ID).roleArn).toBe(r?.arn);
    const plan = await local.tf.plan(tokenStack, vars);
    expect({ code: plan.code, summary: plan.changes.summary }).toEqual({
      code: 0,
      summary: "No changes. Your infrastructure matches the configuration.",
    });
    expect(plan.stdout).not.toContain(OLD_ID); // sensitive
    await local.tf.destroy(tokenStack, vars);
    expect(account()?.roles.has("DsTokenRole")).toBe(false);
  });

  it("applies every optional role attribute; each reads back without drift", async () => {
    stack = synth(local.work, OLD_ID, {
      roleName: "DsRole",
      path: "/ds/",
      tags: { team: "security", "cost-center": "42" },
      maxSessionDurationSeconds: 7200,
      permissionsBoundaryArn: BOUNDARY,
    });
    await local.tf.init(stack);
    await local.tf.apply(stack);
    const r = role()!;
    expect(r.arn).toBe(`arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:role/ds/DsRole`);
    expect(r).toMatchObject({ path: "/ds/", maxSessionDuration: 7200, permissionsBoundary: BOUNDARY });
    expect(r.tags).toEqual({ team: "security", "cost-center": "42" });
    expect(r.description).toMatch(/Deep Security manager/);
    expect(parsePolicy(r.trustPolicy).Statement).toEqual([
      expect.objectContaining({ Principal: { AWS: MANAGER }, Condition: { StringEquals: { "sts:ExternalId": OLD_ID } } }),
    ]);
    expect(policy()).toMatchObject({ path: "/ds/", defaultVersionId: "v1", tags: { team: "security", "cost-center": "42" } });
    expect(policy()!.description).toMatch(/Read-only access/);
    expect(account()!.attached.get("DsRole")).toEqual([policy()!.arn]);

    const plan = await local.tf.plan(stack);
    expect({ code: plan.code, summary: plan.changes.summary }).toEqual({
      code: 0,
      summary: "No changes. Your infrastructure matches the configuration.",
    });
  });

  it("updates in place: a new external ID, other tags and a smaller policy (a new default version), then no drift", async () => {
    const created = role()!.createdAt;
    stack = synth(local.work, NEW_ID, {
      roleName: "DsRole",
      path: "/ds/",
      tags: { team: "platform" },
      maxSessionDurationSeconds: 3600,
      permissionsBoundaryArn: BOUNDARY,
      includeWorkspaces: false,
    });
    const plan = await local.tf.plan(stack);
    expect(plan.code).toBe(2);
    expect(plan.changes.replace).toEqual([]);
    expect(plan.changes.update.sort()).toEqual([
      expect.stringMatching(/^aws_iam_policy\.deep-security_policy_/),
      expect.stringMatching(/^aws_iam_role\.deep-security_role_/),
    ]);
    await local.tf.apply(stack);

    const r = role()!;
    expect(r.createdAt).toBe(created); // updated, not replaced
    expect(r).toMatchObject({ maxSessionDuration: 3600, tags: { team: "platform" } });
    expect(local.aws.iam.assumeRole(MANAGER, r.arn, "check", NEW_ID).roleArn).toBe(r.arn);
    expect(() => local.aws.iam.assumeRole(MANAGER, r.arn, "check", OLD_ID)).toThrow(/not authorized/);
    const p = policy()!;
    expect(p.versions.map((v) => v.versionId)).toEqual(["v1", "v2"]);
    expect(p.defaultVersionId).toBe("v2");
    expect(p.document).not.toContain("workspaces:");
    expect(p.tags).toEqual({ team: "platform" });
    expect((await local.tf.plan(stack)).code).toBe(0);
  });

  it("destroys the role, the policy with its old versions, and the attachment", async () => {
    await local.tf.destroy(stack);
    expect(role()).toBeUndefined();
    expect(policy()).toBeUndefined();
    expect(account()!.attached.get("DsRole")).toBeUndefined();
    expect(local.aws.calls.get("iam.DeletePolicyVersion")).toBe(1);
  });
});
