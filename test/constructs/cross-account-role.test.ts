import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { DeepSecurityCrossAccountRole, type DeepSecurityCrossAccountRoleProps, ManagerPrincipals, ValidationError } from "../../constructs";
import { requiredActions } from "../../src/policy/permissions";
import { checkTrustPolicy } from "../../src/policy/trust";
import { resources, synthJson } from "../helpers/synth";

const ID = "tenant-external-id-1234";

function synthRole(props: Partial<DeepSecurityCrossAccountRoleProps> = {}) {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", {});
  const construct = new DeepSecurityCrossAccountRole(stack, "ds", { externalIds: [ID], ...props });
  return { stack, construct, json: synthJson(stack), raw: Testing.synth(stack) };
}

function errorOf(props: Partial<DeepSecurityCrossAccountRoleProps>): ValidationError {
  try {
    synthRole(props);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error("expected a ValidationError");
}

describe("DeepSecurityCrossAccountRole: synthesized resources", () => {
  it("creates the role, its read-only policy and the attachment", () => {
    const { raw } = synthRole();
    expect(raw).toHaveResourceWithProperties(IamRole, { name: "DeepSecurityCrossAccountRole" });
    expect(raw).toHaveResourceWithProperties(IamPolicy, { name: "DeepSecurityCrossAccountRolePolicy" });
    const { json } = synthRole();
    const [attachment] = resources(json, "aws_iam_role_policy_attachment");
    expect(attachment.role).toMatch(/^\$\{aws_iam_role\..+\.name\}$/);
    expect(attachment.policy_arn).toMatch(/^\$\{aws_iam_policy\..+\.arn\}$/);
  });

  it("trusts Workload Security by default, with exactly the external ID", () => {
    const [role] = resources(synthRole().json, "aws_iam_role");
    const result = checkTrustPolicy(role.assume_role_policy, { principalArn: "arn:aws:iam::147995105371:root", externalIds: [ID] });
    expect(result.findings).toEqual([]);
  });

  it.each([
    ["an on-premises manager account", ManagerPrincipals.onPremisesAccount("444455556666"), "arn:aws:iam::444455556666:root"],
    [
      "an on-premises manager role",
      ManagerPrincipals.onPremisesIdentity("arn:aws:iam::444455556666:role/dsm"),
      "arn:aws:iam::444455556666:role/dsm",
    ],
    [
      "a custom principal",
      ManagerPrincipals.custom("arn:aws:iam::147995105371:role/vendor-connector"),
      "arn:aws:iam::147995105371:role/vendor-connector",
    ],
  ])("trusts %s", (_name, principal, arn) => {
    const [role] = resources(synthRole({ principal }).json, "aws_iam_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ AWS: arn });
  });

  it.each([
    ["aws-cn", "arn:aws-cn:iam::444455556666:root"],
    ["aws-us-gov", "arn:aws-us-gov:iam::444455556666:root"],
  ] as const)("builds ARNs in partition %s", (partition, arn) => {
    const [role] = resources(synthRole({ partition, principal: ManagerPrincipals.onPremisesAccount("444455556666") }).json, "aws_iam_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal.AWS).toBe(arn);
  });

  it("grants the documented read-only actions, with or without WorkSpaces", () => {
    const actions = (props: Partial<DeepSecurityCrossAccountRoleProps>) =>
      JSON.parse(resources(synthRole(props).json, "aws_iam_policy")[0].policy).Statement[0].Action as string[];
    expect(actions({})).toEqual(
      expect.arrayContaining([
        "ec2:DescribeImages",
        "ec2:DescribeInstances",
        "ec2:DescribeTags",
        "workspaces:DescribeWorkspaces",
        "iam:ListAccountAliases",
      ]),
    );
    expect(actions({})).toHaveLength(15);
    expect(actions({ includeWorkspaces: false }).some((a) => a.startsWith("workspaces:"))).toBe(false);
    expect(actions({ includeWorkspaces: false })).toEqual(requiredActions({ includeWorkspaces: false }));
  });

  it("applies the role options", () => {
    const { json } = synthRole({
      roleName: "DSRole",
      path: "/security/",
      permissionsBoundaryArn: "arn:aws:iam::111122223333:policy/Boundary",
      tags: { team: "security" },
      maxSessionDurationSeconds: 7200,
      managedPolicyArns: ["arn:aws:iam::aws:policy/SecurityAudit"],
    });
    expect(resources(json, "aws_iam_role")[0]).toMatchObject({
      name: "DSRole",
      path: "/security/",
      permissions_boundary: "arn:aws:iam::111122223333:policy/Boundary",
      tags: { team: "security" },
      max_session_duration: 7200,
    });
    expect(resources(json, "aws_iam_policy")[0]).toMatchObject({ name: "DSRolePolicy", path: "/security/" });
    expect(resources(json, "aws_iam_role_policy_attachment").map((a) => a.policy_arn)).toContain("arn:aws:iam::aws:policy/SecurityAudit");
  });

  it("uses a name prefix when asked", () => {
    const { json } = synthRole({ roleNamePrefix: "ds-" });
    expect(resources(json, "aws_iam_role")[0]).toMatchObject({ name_prefix: "ds-" });
    expect(resources(json, "aws_iam_role")[0].name).toBeUndefined();
    expect(resources(json, "aws_iam_policy")[0]).toMatchObject({ name_prefix: "ds-" });
  });

  it("outputs the role ARN and name, never the external ID", () => {
    const { json, raw } = synthRole();
    expect(
      Object.values(json.output ?? {})
        .map((o) => o.value)
        .sort(),
    ).toEqual([expect.stringMatching(/aws_iam_role\..+\.arn/), expect.stringMatching(/aws_iam_role\..+\.name/)].sort());
    expect(JSON.stringify(json.output)).not.toContain(ID);
    expect(raw).toContain(ID); // only inside the trust policy
    expect(synthRole({ outputs: false }).json.output).toBeUndefined();
  });

  it("writes the provider source fully qualified for Terraform and OpenTofu alike", () => {
    expect(synthRole().json.terraform.required_providers.aws.source).toBe("hashicorp/aws");
  });

  it("accepts a Terraform variable and has Terraform check it at plan", () => {
    const stack = new TerraformStack(Testing.app(), "tok");
    new AwsProvider(stack, "aws", {});
    const v = new TerraformVariable(stack, "external_id", { type: "string", sensitive: true });
    new DeepSecurityCrossAccountRole(stack, "ds", { externalIds: [v.stringValue] });
    const [role] = resources(synthJson(stack), "aws_iam_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Condition.StringEquals["sts:ExternalId"]).toBe("${var.external_id}");
    const conditions = role.lifecycle.precondition.map((p: { condition: string }) => p.condition);
    expect(conditions[0]).toBe(
      '${(can(regex("^[A-Za-z0-9_+=,.@:/-]+$", var.external_id)) && ((length(var.external_id) >= 2) && (length(var.external_id) <= 1224)))}',
    );
    expect(conditions[1]).toMatch(/^\$\{\(\(length\(var\.external_id\) \+ \d+\) <= 2048\)\}$/);
  });

  it("counts a token external ID as often as the trust policy holds it (twice with the Deny guard)", () => {
    const stack = new TerraformStack(Testing.app(), "tok-deny");
    new AwsProvider(stack, "aws", {});
    const v = new TerraformVariable(stack, "external_id", { type: "string", sensitive: true });
    const role = new DeepSecurityCrossAccountRole(stack, "ds", { externalIds: [v.stringValue], denyWithoutExternalId: true });
    const [json] = resources(synthJson(stack), "aws_iam_role");
    const document = json.assume_role_policy as string;
    expect(document.split("${var.external_id}")).toHaveLength(3);
    const size = json.lifecycle.precondition[1].condition as string;
    const m = /^\$\{\(\(\(length\(var\.external_id\) \* 2\) \+ (\d+)\) <= 2048\)\}$/.exec(size);
    expect(m).not.toBeNull();
    // The literal part is the document with the token removed: each occurrence counted once by length().
    expect(Number(m![1])).toBe(role.plan.trustPolicyBaseSize);
    expect(role.plan.trustPolicyBaseSize).toBe(document.split("${var.external_id}").join("").length);
  });

  it("takes two IDs for a migration window", () => {
    const [role] = resources(synthRole({ externalIds: ["old-user-defined-id", ID] }).json, "aws_iam_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Condition.StringEquals["sts:ExternalId"]).toEqual(["old-user-defined-id", ID]);
  });
});

describe("DeepSecurityCrossAccountRole: validation", () => {
  it.each<[string, Partial<DeepSecurityCrossAccountRoleProps>, string, RegExp]>([
    ["an external ID that is too short", { externalIds: ["x"] }, "externalIds[0]", /1 characters long; AWS accepts 2 to 1,224/],
    ["an external ID that is too long", { externalIds: ["a".repeat(1225)] }, "externalIds[0]", /1225 characters long/],
    ["an external ID with a space", { externalIds: ["abc def"] }, "externalIds[0]", /contains " " at position 4/],
    ["an external ID with a quote", { externalIds: ['abc"def'] }, "externalIds[0]", /contains "\\"" at position 4/],
    ["no external ID", { externalIds: [] }, "externalIds", /lists 0 external IDs/],
    ["three external IDs", { externalIds: ["aa", "bb", "cc"] }, "externalIds", /lists 3 external IDs/],
    ["the same ID twice", { externalIds: [ID, ID] }, "externalIds", /same external ID twice/],
    [
      "an on-prem account ID of 11 digits",
      { principal: ManagerPrincipals.onPremisesAccount("12345678901") },
      "principal",
      /not an AWS account ID \(12 digits\)/,
    ],
    ["a principal that is not an ARN", { principal: ManagerPrincipals.custom("dsm-role") }, "principal", /is not an ARN/],
    [
      "a principal in an unknown partition",
      { principal: ManagerPrincipals.custom("arn:aws-xx:iam::123456789012:root") },
      "principal",
      /not a known AWS partition/,
    ],
    [
      "a malformed principal ARN",
      { principal: ManagerPrincipals.custom("arn:aws:iam::12345:role/x") },
      "principal",
      /not a well-formed IAM ARN/,
    ],
    [
      "a principal in another partition than the role",
      { principal: ManagerPrincipals.onPremisesIdentity("arn:aws:iam::444455556666:role/dsm"), partition: "aws-cn" },
      "principal",
      /partition aws but the role is in aws-cn/,
    ],
    ["Workload Security outside the aws partition", { partition: "aws-us-gov" }, "principal", /exists only in the aws partition/],
    ["an unknown partition", { partition: "aws-xx" as never }, "partition", /not a known AWS partition/],
    [
      "a policy ARN as on-prem identity",
      { principal: ManagerPrincipals.onPremisesIdentity("arn:aws:iam::444455556666:policy/p") },
      "principal",
      /names a policy; expected a role or a user or a root/,
    ],
    [
      "a bad permissions boundary",
      { permissionsBoundaryArn: "arn:aws:iam::111122223333:role/NotAPolicy" },
      "permissionsBoundaryArn",
      /expected a policy/,
    ],
    ["a bad managed policy ARN", { managedPolicyArns: ["ReadOnlyAccess"] }, "managedPolicyArns[0]", /is not an ARN/],
    ["a bad role name", { roleName: "has space" }, "roleName", /not a valid IAM role name/],
    ["both roleName and roleNamePrefix", { roleName: "a", roleNamePrefix: "b" }, "roleName", /together with roleNamePrefix/],
    ["a bad path", { path: "security" }, "path", /not a valid IAM path/],
    ["a session too long", { maxSessionDurationSeconds: 50000 }, "maxSessionDurationSeconds", /outside 3,600 to 43,200/],
    ["a bad size limit", { trustPolicySizeLimit: 10000 }, "trustPolicySizeLimit", /not an IAM trust policy quota/],
    [
      "a trust policy over the quota",
      { externalIds: ["a".repeat(1000), "b".repeat(1000)] },
      "externalIds",
      /over the account's quota of 2048/,
    ],
  ])("rejects %s", (_name, props, path, message) => {
    const error = errorOf(props);
    const issue = error.issues.find((i) => i.path === path);
    expect(issue).toBeDefined();
    expect(issue!.problem).toMatch(message);
    expect(issue!.fix.length).toBeGreaterThan(10);
    expect(error.message).toContain(`${path}: `);
  });

  it("lists every problem at once", () => {
    const error = errorOf({ externalIds: ["x"], roleName: "bad name", path: "nope" });
    expect(error.issues.map((i) => i.path).sort()).toEqual(["externalIds[0]", "path", "roleName"]);
  });

  it("never puts the rejected external ID in the message", () => {
    const error = errorOf({ externalIds: ["secret value!"] });
    expect(error.message).not.toContain("secret value");
  });

  it("raising the quota lets a larger trust policy through", () => {
    expect(() => synthRole({ externalIds: ["a".repeat(1000), "b".repeat(1000)], trustPolicySizeLimit: 4096 })).not.toThrow();
  });
});

describe("DeepSecurityCrossAccountRole: registration inside cdktf deploy", () => {
  const CANARY = "3:REGISTRATION-KEY-CANARY-0123456789";
  const saved = process.env.DS_API_KEY;
  beforeAll(() => {
    process.env.DS_API_KEY = CANARY; // as it would be in the deploying shell
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DS_API_KEY;
    else process.env.DS_API_KEY = saved;
  });

  it("adds a terraform_data step that registers after the role and its policy exist", () => {
    const { json, raw } = synthRole({ registration: { managerUrl: "https://dsm.example.com:4119/api", displayName: "prod" } });
    const [step] = resources(json, "terraform_data");
    expect(step.depends_on).toEqual([
      expect.stringMatching(/^aws_iam_role\./),
      expect.stringMatching(/^aws_iam_policy\./),
      expect.stringMatching(/^aws_iam_role_policy_attachment\./),
    ]);
    expect(step.input).toEqual({ role_arn: expect.stringMatching(/^\$\{aws_iam_role\..+\.arn\}$/) });
    expect(step.triggers_replace).toEqual(step.input);
    expect(step.provisioner).toEqual([
      {
        "local-exec": {
          command: expect.stringMatching(
            /^npx --no-install ds-onboard register --role-arn \$\{aws_iam_role\..+\.arn\} --display-name 'prod'$/,
          ),
          environment: { DS_MANAGER_URL: "https://dsm.example.com:4119/api" },
        },
      },
    ]);
    expect(raw).not.toContain(CANARY);
    expect(raw).not.toMatch(/DS_API_KEY|api-secret-key/);
  });

  it("deregisters on destroy only when asked (the default keeps the connector)", () => {
    const keep = resources(synthRole({ registration: {} }).json, "terraform_data")[0];
    expect(keep.provisioner).toHaveLength(1);
    const drop = resources(synthRole({ registration: { onDestroy: "deregister", command: "ds-onboard" } }).json, "terraform_data")[0];
    expect(drop.provisioner[1]).toEqual({
      "local-exec": { command: "ds-onboard deregister --role-arn ${self.input.role_arn}", when: "destroy" },
    });
  });

  it("is absent by default", () => {
    expect(resources(synthRole().json, "terraform_data")).toEqual([]);
  });
});
