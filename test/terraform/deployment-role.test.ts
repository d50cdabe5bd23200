/**
 * The least-privilege deployment role with real Terraform against the sandbox's AWS, which
 * enforces a role session's identity policies on IAM calls by resource and condition keys:
 * `ds-onboard deployment-role --format cdktf` writes the bootstrap stack, applied through
 * OrganizationAccountAccessRole; then the Deep Security stacks (synthesized with
 * `deployment.deploymentRole`) are applied, planned and destroyed through the deployment role
 * alone, and that role may not touch anything else.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } from "@aws-sdk/client-iam";
import { stringify } from "yaml";
import { deploymentActions } from "../../src/policy/deployment-role";
import type { Sandbox } from "../../src/sandbox/start";
import { runCli } from "../helpers/cli";
import { pipelineEnv } from "../helpers/sandbox";
import { describeWithTerraform, type TerraformRunner, terraformOnSandbox } from "../helpers/terraform";
import { PIPELINE_ROOT } from "../helpers/world";

jest.setTimeout(300_000);
const DEPLOYER = "DeepSecurityDeployer";
const ROLE = "DeepSecurityCrossAccountRole";

describeWithTerraform("the least-privilege deployment role with real Terraform", () => {
  const shared = terraformOnSandbox("deployment role", "ds-deployer-");
  let sb: Sandbox;
  let tf: TerraformRunner;
  let dir: string;
  beforeAll(() => {
    ({ sb, tf, work: dir } = shared);
  });

  /** IAM calls counted by the endpoint since `before`, by action. */
  const iamCallsSince = (before: Map<string, number>) =>
    [...sb.aws.calls].filter(([k, n]) => k.startsWith("iam.") && n > (before.get(k) ?? 0)).map(([k]) => `iam:${k.slice(4)}`);

  it("bootstraps the role through OrganizationAccountAccessRole, then deploys, plans and destroys the Deep Security roles through it alone", async () => {
    const accounts = ["760000000001", "760000000002"];
    sb.aws.addOrganization({ accounts });
    const config = join(dir, "ds-onboard.yaml");
    writeFileSync(
      config,
      stringify({
        externalId: "manager",
        deployment: { layout: "stack-per-account", deploymentRole: { trustedPrincipals: [PIPELINE_ROOT] } },
        accounts: accounts.map((accountId) => ({ accountId })),
      }),
    );

    // The bootstrap stack: one apply creates the deployment role in each account.
    const boot = await runCli(["deployment-role", "--config", config, "--format", "cdktf", "--output", "json"], pipelineEnv(sb));
    expect({ code: boot.code, stderr: boot.code ? boot.stderr : "" }).toEqual({ code: 0, stderr: "" });
    const bootDir = (JSON.parse(boot.stdout) as { path: string }).path;
    await tf.init(bootDir);
    await tf.apply(bootDir);
    for (const account of accounts) {
      expect(sb.aws.iam.accounts.get(account)?.roles.get(DEPLOYER)?.arn).toBe(`arn:aws:iam::${account}:role/${DEPLOYER}`);
      expect(sb.aws.iam.accounts.get(account)?.inline.get(DEPLOYER)?.has("ManageDeepSecurityRoleOnly")).toBe(true);
    }

    // The Deep Security stacks assume the deployment role, not OrganizationAccountAccessRole.
    const synth = await runCli(["synth", "--config", config, "--output", "json"], pipelineEnv(sb));
    expect({ code: synth.code, stderr: synth.code ? synth.stderr : "" }).toEqual({ code: 0, stderr: "" });
    const stacks = readdirSync(join(dir, "cdktf.out", "stacks")).map((s) => join(dir, "cdktf.out", "stacks", s));
    for (const stack of stacks) {
      const json = readFileSync(join(stack, "cdk.tf.json"), "utf8");
      expect(json).toContain(`:role/${DEPLOYER}"`);
      expect(json).not.toContain("OrganizationAccountAccessRole");
    }
    // Take OrganizationAccountAccessRole out of the game: any use of it would now fail.
    for (const account of accounts) sb.aws.iam.accounts.get(account)!.roles.delete("OrganizationAccountAccessRole");

    const before = new Map(sb.aws.calls);
    for (const stack of stacks) {
      await tf.init(stack);
      await tf.apply(stack);
    }
    for (const account of accounts) expect(sb.aws.iam.accounts.get(account)?.roles.get(ROLE)).toBeDefined();
    for (const stack of stacks) expect({ stack, code: (await tf.plan(stack)).code }).toEqual({ stack, code: 0 });
    for (const stack of stacks) await tf.destroy(stack);
    for (const account of accounts) expect(sb.aws.iam.accounts.get(account)?.roles.get(ROLE)).toBeUndefined();
    // Every IAM call the provider made (apply, plan, destroy) is one the role grants.
    const used = iamCallsSince(before);
    console.log(`IAM calls of apply, plan and destroy through the deployment role: ${used.sort().join(", ")}`);
    expect(used.filter((a) => !deploymentActions({}).includes(a))).toEqual([]);
    expect(used).toEqual(
      expect.arrayContaining(["iam:CreateRole", "iam:CreatePolicy", "iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeletePolicy"]),
    );

    // The deployment role may do nothing else.
    const session = sb.aws.iam.assumeRole(
      `arn:aws:iam::000000000000:user/sandbox`,
      `arn:aws:iam::${accounts[0]}:role/${DEPLOYER}`,
      "probe",
      undefined,
    );
    const iam = new IAMClient({
      endpoint: sb.aws.url,
      region: "us-east-1",
      credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken },
    });
    const trust = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: PIPELINE_ROOT }, Action: "sts:AssumeRole" }],
    });
    try {
      await expect(iam.send(new CreateRoleCommand({ RoleName: "Backdoor", AssumeRolePolicyDocument: trust }))).rejects.toThrow(
        /not authorized/,
      );
      await expect(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: DEPLOYER, PolicyDocument: trust }))).rejects.toThrow(
        /not authorized/,
      );
      await iam.send(new CreateRoleCommand({ RoleName: ROLE, AssumeRolePolicyDocument: trust }));
      await expect(
        iam.send(new AttachRolePolicyCommand({ RoleName: ROLE, PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })),
      ).rejects.toThrow(/not authorized/);
    } finally {
      iam.destroy();
    }
  });
});
