/**
 * The deployment role construct, its bootstrap stack, and the CloudFormation template: the same
 * documents in all three.
 */
import { TerraformStack, Testing } from "cdktf";
import { addDeploymentRoleStack, DeepSecurityDeploymentRole, deploymentRoleTemplate, ValidationError } from "../../constructs";
import { buildDeploymentPolicy, buildDeploymentTrustPolicy } from "../../src/policy/deployment-role";
import { resolveTemplatePolicy } from "../../src/policy/deployment-role-template";
import { resources, synthJson } from "../helpers/synth";

const PIPELINE = "arn:aws:iam::999988887777:role/ci-pipeline";
const ACCOUNT = "111122223333";

describe("DeepSecurityDeploymentRole", () => {
  it("creates the role, trusted by the pipeline, with an inline policy scoped to the account's Deep Security role", () => {
    const stack = new TerraformStack(Testing.app(), "deployer");
    new DeepSecurityDeploymentRole(stack, "deployer", { trustedPrincipals: [PIPELINE], accountId: ACCOUNT, tags: { team: "security" } });
    const json = synthJson(stack);
    const [role] = resources(json, "aws_iam_role");
    expect(role).toMatchObject({ name: "DeepSecurityDeployer", tags: { team: "security" } });
    expect(JSON.parse(role.assume_role_policy)).toEqual(buildDeploymentTrustPolicy({ trustedPrincipals: [PIPELINE] }));
    const [policy] = resources(json, "aws_iam_role_policy");
    expect(policy.name).toBe("ManageDeepSecurityRoleOnly");
    expect(policy.role).toMatch(/^\$\{aws_iam_role\.deployer_role_[A-F0-9]+\.name\}$/);
    expect(JSON.parse(policy.policy)).toEqual(buildDeploymentPolicy({}, ACCOUNT));
    expect(JSON.stringify(json)).toContain(`arn:aws:iam::${ACCOUNT}:role/DeepSecurityCrossAccountRole`);
    expect(Object.keys(json.output ?? {})).toEqual([expect.stringContaining("deployment_role_arn")]);
    expect(json.terraform.required_providers.aws.source).toBe("hashicorp/aws");
  });

  it("without an account ID, reads the provider's account from aws_caller_identity", () => {
    const stack = new TerraformStack(Testing.app(), "deployer");
    new DeepSecurityDeploymentRole(stack, "deployer", {
      trustedPrincipals: [PIPELINE],
      deepSecurityRole: { roleName: "Ds", path: "/sec/" },
    });
    const json = synthJson(stack) as { data?: Record<string, unknown> } & ReturnType<typeof synthJson>;
    expect(Object.keys(json.data?.aws_caller_identity as object)).toHaveLength(1);
    const policy = JSON.parse(resources(json, "aws_iam_role_policy")[0].policy);
    const token = /arn:aws:iam::(\$\{data\.aws_caller_identity\.[^}]+\.account_id\}):role\/sec\/Ds/.exec(JSON.stringify(policy));
    expect(token).not.toBeNull();
    expect(policy).toEqual(buildDeploymentPolicy({ roleName: "Ds", path: "/sec/" }, token![1]));
  });

  it("refuses bad options with their paths, before anything is synthesized", () => {
    const stack = new TerraformStack(Testing.app(), "deployer");
    expect(
      () => new DeepSecurityDeploymentRole(stack, "deployer", { trustedPrincipals: ["nope"], name: "DeepSecurityCrossAccountRole" }),
    ).toThrow(ValidationError);
    try {
      new DeepSecurityDeploymentRole(stack, "again", { trustedPrincipals: ["nope"], name: "DeepSecurityCrossAccountRole" });
    } catch (error) {
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(["trustedPrincipals[0]", "name"]);
    }
  });
});

describe("addDeploymentRoleStack (bootstrap)", () => {
  it("one stack, a provider per account assuming OrganizationAccountAccessRole, the role in each with that account's ARNs", () => {
    const app = Testing.app();
    const stack = addDeploymentRoleStack(app, {
      trustedPrincipals: [PIPELINE],
      organizationId: "o-abcdef1234",
      accounts: [{ accountId: "111111111111" }, { accountId: "222222222222", region: "eu-west-1" }],
      region: "us-east-2",
    });
    const json = synthJson(stack);
    expect(json.provider!.aws).toEqual([
      expect.objectContaining({
        alias: "account_111111111111",
        region: "us-east-2",
        allowed_account_ids: ["111111111111"],
        assume_role: [{ role_arn: "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", session_name: "ds-onboard" }],
      }),
      expect.objectContaining({ alias: "account_222222222222", region: "eu-west-1" }),
    ]);
    const policies = resources(json, "aws_iam_role_policy").map((p) => JSON.parse(p.policy));
    expect(policies).toEqual([buildDeploymentPolicy({}, "111111111111"), buildDeploymentPolicy({}, "222222222222")]);
    const roles = resources(json, "aws_iam_role");
    expect(roles.map((r) => r.provider)).toEqual(["aws.account_111111111111", "aws.account_222222222222"]);
    expect(JSON.parse(roles[0].assume_role_policy).Statement[0].Condition).toEqual({
      StringEquals: { "aws:PrincipalOrgID": "o-abcdef1234" },
    });
    expect((json as { data?: unknown }).data).toBeUndefined(); // the account IDs are known: no caller-identity lookups
  });

  it("another bootstrap role", () => {
    const stack = addDeploymentRoleStack(Testing.app(), {
      trustedPrincipals: [PIPELINE],
      bootstrapRoleName: "AWSControlTowerExecution",
      accounts: [{ accountId: "111111111111" }],
    });
    expect(synthJson(stack).provider!.aws[0].assume_role[0].role_arn).toBe("arn:aws:iam::111111111111:role/AWSControlTowerExecution");
  });

  it("refuses a bad account list", () => {
    expect(() => addDeploymentRoleStack(Testing.app(), { trustedPrincipals: [PIPELINE], accounts: [{ accountId: "12" }] })).toThrow(
      /accounts\[0\]\.accountId/,
    );
  });
});

describe("the CloudFormation template (StackSets)", () => {
  const options = {
    trustedPrincipals: [PIPELINE],
    deepSecurityRole: { roleName: "DsRole", path: "/security/", managedPolicyArns: ["arn:aws:iam::aws:policy/SecurityAudit"] },
    maxSessionDurationSeconds: 7200,
    tags: { owner: "security" },
  };
  const template = deploymentRoleTemplate(options);

  it("holds one IAM role with the trust policy, an inline policy and an output", () => {
    const role = (template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>).DeploymentRole;
    expect(role.Type).toBe("AWS::IAM::Role");
    expect(role.Properties).toMatchObject({
      RoleName: "DeepSecurityDeployer",
      MaxSessionDuration: 7200,
      AssumeRolePolicyDocument: buildDeploymentTrustPolicy(options),
      Tags: [{ Key: "owner", Value: "security" }],
    });
    expect(JSON.stringify(role.Properties.Policies)).toContain('{"Fn::Sub":"arn:aws:iam::${AWS::AccountId}:role/security/DsRole"}');
    expect(template.Outputs).toEqual({
      DeploymentRoleArn: expect.objectContaining({ Value: { "Fn::GetAtt": ["DeploymentRole", "Arn"] } }),
    });
  });

  it("resolves, in an account, to exactly the construct's policy", () => {
    const stack = new TerraformStack(Testing.app(), "deployer");
    new DeepSecurityDeploymentRole(stack, "deployer", { ...options, accountId: ACCOUNT });
    const construct = JSON.parse(resources(synthJson(stack), "aws_iam_role_policy")[0].policy);
    expect(resolveTemplatePolicy(template, ACCOUNT)).toEqual(construct);
  });

  it("is plain JSON CloudFormation accepts (no undefined, one resource)", () => {
    expect(JSON.parse(JSON.stringify(template))).toEqual(template);
    expect(Object.keys(template.Resources as object)).toEqual(["DeploymentRole"]);
  });
});
