/**
 * The deployment role's permissions, proved with an independent IAM evaluator
 * (@cloud-copilot/iam-simulate): every call the AWS provider makes on the Deep Security role and
 * policy is allowed, and nothing else (other roles, other policies, attaching another policy,
 * inline policies, PassRole, users, removing a permissions boundary).
 */
import {
  ATTACH_ACTIONS,
  BOUNDARY_ACTIONS,
  buildDeploymentPolicy,
  buildDeploymentTrustPolicy,
  deploymentActions,
  deploymentRoleProblems,
  POLICY_ACTIONS,
  planDeploymentRole,
  ROLE_ACTIONS,
} from "../../src/policy/deployment-role";
import { ValidationError } from "../../src/validation";
import { simulateAssumeRole, simulateIdentityCall } from "../helpers/simulate";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/DeepSecurityDeployer/ci`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/DeepSecurityCrossAccountRole`;
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DeepSecurityCrossAccountRolePolicy`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`;
const OTHER_POLICY = `arn:aws:iam::${ACCOUNT}:policy/SomeTeamPolicy`;
const ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess";
const PIPELINE = "arn:aws:iam::999988887777:role/ci-pipeline";

const decide = (policy: unknown, action: string, resource: string, context?: Record<string, string>) =>
  simulateIdentityCall(policy, { caller: CALLER, action, resource, context });

describe("the deployment role's permissions (default role name)", () => {
  const policy = buildDeploymentPolicy({}, ACCOUNT);

  it.each(ROLE_ACTIONS.map((a) => [a]))("allows %s on the Deep Security role", async (action) => {
    expect(await decide(policy, action, ROLE)).toBe("Allowed");
  });

  it.each(POLICY_ACTIONS.map((a) => [a]))("allows %s on the Deep Security policy", async (action) => {
    expect(await decide(policy, action, POLICY)).toBe("Allowed");
  });

  it("allows attaching the Deep Security policy to the Deep Security role", async () => {
    expect(await decide(policy, "iam:AttachRolePolicy", ROLE, { "iam:PolicyARN": POLICY })).toBe("Allowed");
  });

  it.each(ROLE_ACTIONS.map((a) => [a]))("denies %s on another role (OrganizationAccountAccessRole)", async (action) => {
    expect(await decide(policy, action, OTHER_ROLE)).not.toBe("Allowed");
  });

  it.each(POLICY_ACTIONS.map((a) => [a]))("denies %s on another policy", async (action) => {
    expect(await decide(policy, action, OTHER_POLICY)).not.toBe("Allowed");
  });

  it.each<[string, string, string, Record<string, string>]>([
    ["attaching AdministratorAccess to the Deep Security role", "iam:AttachRolePolicy", ROLE, { "iam:PolicyARN": ADMIN }],
    ["attaching another customer policy to the Deep Security role", "iam:AttachRolePolicy", ROLE, { "iam:PolicyARN": OTHER_POLICY }],
    ["attaching the Deep Security policy to another role", "iam:AttachRolePolicy", OTHER_ROLE, { "iam:PolicyARN": POLICY }],
    ["attaching AdministratorAccess to another role", "iam:AttachRolePolicy", OTHER_ROLE, { "iam:PolicyARN": ADMIN }],
    ["an inline policy on the Deep Security role", "iam:PutRolePolicy", ROLE, {}],
    ["passing the Deep Security role to a service", "iam:PassRole", ROLE, {}],
    ["creating a user", "iam:CreateUser", `arn:aws:iam::${ACCOUNT}:user/backdoor`, {}],
    ["creating an access key", "iam:CreateAccessKey", `arn:aws:iam::${ACCOUNT}:user/admin`, {}],
    ["creating another role", "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/Backdoor`, {}],
    ["the same role name under another path", "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/other/DeepSecurityCrossAccountRole`, {}],
    ["setting a permissions boundary", "iam:PutRolePermissionsBoundary", ROLE, {}],
    ["removing a permissions boundary", "iam:DeleteRolePermissionsBoundary", ROLE, {}],
    ["changing the default version of another policy", "iam:SetDefaultPolicyVersion", OTHER_POLICY, {}],
    [
      "the Deep Security role of another account",
      "iam:UpdateAssumeRolePolicy",
      "arn:aws:iam::444455556666:role/DeepSecurityCrossAccountRole",
      {},
    ],
    ["assuming another role", "sts:AssumeRole", OTHER_ROLE, {}],
  ])("denies %s", async (_name, action, resource, context) => {
    expect(await decide(policy, action, resource, context)).not.toBe("Allowed");
  });

  it("grants only IAM actions on roles and policies, and none with a wildcard", () => {
    expect(deploymentActions({})).toEqual([...new Set([...ROLE_ACTIONS, ...ATTACH_ACTIONS, ...POLICY_ACTIONS])].sort());
    for (const s of policy.Statement as { Action: string[]; Resource: string | string[] }[]) {
      for (const a of s.Action) expect(a).toMatch(/^iam:[A-Za-z]+$/);
      for (const r of [s.Resource].flat()) expect(r).not.toContain("*");
    }
  });
});

describe("the deployment role follows the Deep Security role's options", () => {
  it("a path and a name: exact ARNs under the path", async () => {
    const policy = buildDeploymentPolicy({ roleName: "DsRole", path: "/security/" }, ACCOUNT);
    const role = `arn:aws:iam::${ACCOUNT}:role/security/DsRole`;
    const dsPolicy = `arn:aws:iam::${ACCOUNT}:policy/security/DsRolePolicy`;
    expect(await decide(policy, "iam:CreateRole", role)).toBe("Allowed");
    expect(await decide(policy, "iam:CreatePolicy", dsPolicy)).toBe("Allowed");
    expect(await decide(policy, "iam:AttachRolePolicy", role, { "iam:PolicyARN": dsPolicy })).toBe("Allowed");
    expect(await decide(policy, "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/DsRole`)).not.toBe("Allowed");
    expect(await decide(policy, "iam:CreateRole", ROLE)).not.toBe("Allowed");
  });

  it("a name prefix: the prefix's roles and policies only", async () => {
    const policy = buildDeploymentPolicy({ roleNamePrefix: "DeepSecurity-" }, ACCOUNT);
    const role = `arn:aws:iam::${ACCOUNT}:role/DeepSecurity-20250101abcdef`;
    const dsPolicy = `arn:aws:iam::${ACCOUNT}:policy/DeepSecurity-20250101abcdff`;
    expect(await decide(policy, "iam:CreateRole", role)).toBe("Allowed");
    expect(await decide(policy, "iam:CreatePolicyVersion", dsPolicy)).toBe("Allowed");
    expect(await decide(policy, "iam:AttachRolePolicy", role, { "iam:PolicyARN": dsPolicy })).toBe("Allowed");
    expect(await decide(policy, "iam:AttachRolePolicy", role, { "iam:PolicyARN": ADMIN })).not.toBe("Allowed");
    expect(await decide(policy, "iam:CreateRole", OTHER_ROLE)).not.toBe("Allowed");
  });

  it("extra managed policies: those may be attached (and read), no others", async () => {
    const extra = `arn:aws:iam::${ACCOUNT}:policy/AuditExtra`;
    const policy = buildDeploymentPolicy({ managedPolicyArns: [extra] }, ACCOUNT);
    expect(await decide(policy, "iam:AttachRolePolicy", ROLE, { "iam:PolicyARN": extra })).toBe("Allowed");
    expect(await decide(policy, "iam:GetPolicyVersion", extra)).toBe("Allowed");
    expect(await decide(policy, "iam:CreatePolicyVersion", extra)).not.toBe("Allowed");
    expect(await decide(policy, "iam:AttachRolePolicy", ROLE, { "iam:PolicyARN": ADMIN })).not.toBe("Allowed");
  });

  describe("a permissions boundary", () => {
    const boundary = `arn:aws:iam::${ACCOUNT}:policy/DeepSecurityBoundary`;
    const policy = buildDeploymentPolicy({ permissionsBoundaryArn: boundary }, ACCOUNT);

    it("the role may be created, and the boundary set, only with that boundary", async () => {
      expect(await decide(policy, "iam:CreateRole", ROLE, { "iam:PermissionsBoundary": boundary })).toBe("Allowed");
      expect(await decide(policy, "iam:CreateRole", ROLE)).not.toBe("Allowed");
      expect(await decide(policy, "iam:CreateRole", ROLE, { "iam:PermissionsBoundary": ADMIN })).not.toBe("Allowed");
      for (const action of BOUNDARY_ACTIONS) {
        expect(await decide(policy, action, ROLE, { "iam:PermissionsBoundary": boundary })).toBe("Allowed");
        expect(await decide(policy, action, ROLE, { "iam:PermissionsBoundary": ADMIN })).not.toBe("Allowed");
      }
    });

    it("the boundary cannot be removed, nor the boundary policy changed", async () => {
      expect(await decide(policy, "iam:DeleteRolePermissionsBoundary", ROLE)).not.toBe("Allowed");
      expect(await decide(policy, "iam:CreatePolicyVersion", boundary)).not.toBe("Allowed");
    });

    it("the other calls stay allowed", async () => {
      expect(await decide(policy, "iam:UpdateAssumeRolePolicy", ROLE)).toBe("Allowed");
      expect(deploymentActions({ permissionsBoundaryArn: boundary })).toContain("iam:PutRolePermissionsBoundary");
    });
  });
});

describe("whom the deployment role trusts", () => {
  const target = `arn:aws:iam::${ACCOUNT}:role/DeepSecurityDeployer`;

  it("the pipeline role, and not another principal", async () => {
    const trust = buildDeploymentTrustPolicy({ trustedPrincipals: [PIPELINE] });
    expect(await simulateAssumeRole(trust, { caller: `arn:aws:sts::999988887777:assumed-role/ci-pipeline/run-1`, roleArn: target })).toBe(
      "Allowed",
    );
    expect(await simulateAssumeRole(trust, { caller: `arn:aws:sts::999988887777:assumed-role/developer/alice`, roleArn: target })).not.toBe(
      "Allowed",
    );
    expect(await simulateAssumeRole(trust, { caller: "arn:aws:sts::123456789012:assumed-role/ci-pipeline/x", roleArn: target })).not.toBe(
      "Allowed",
    );
  });

  it("with an organization ID, a condition on aws:PrincipalOrgID", () => {
    const trust = buildDeploymentTrustPolicy({
      trustedPrincipals: [PIPELINE, "arn:aws:iam::999988887777:root"],
      organizationId: "o-abcdef1234",
    });
    expect(trust.Statement).toEqual([
      {
        Sid: "PipelineAssumesDeploymentRole",
        Effect: "Allow",
        Principal: { AWS: [PIPELINE, "arn:aws:iam::999988887777:root"] },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abcdef1234" } },
      },
    ]);
  });
});

describe("the deployment role's options are checked", () => {
  const problems = (options: Parameters<typeof deploymentRoleProblems>[0], scope = {}) =>
    deploymentRoleProblems(options, scope).map((p) => `${p.path}: ${p.problem}`);

  it("lists every problem with its path", () => {
    expect(
      problems({
        trustedPrincipals: ["not-an-arn", "arn:aws-cn:iam::999988887777:role/ci"],
        name: "bad name!",
        organizationId: "org-1",
        maxSessionDurationSeconds: 60,
      }),
    ).toEqual([
      expect.stringMatching(/^trustedPrincipals\[0\]: "not-an-arn" is not an ARN/),
      expect.stringMatching(/^trustedPrincipals\[1\]: .* is in partition aws-cn but the roles are in aws/),
      expect.stringMatching(/^name: .* is not a valid IAM role name/),
      expect.stringMatching(/^organizationId: .* is not an organization ID/),
      expect.stringMatching(/^maxSessionDurationSeconds: number 60 is outside/),
    ]);
    expect(problems({ trustedPrincipals: [] })).toEqual(["trustedPrincipals: is empty"]);
  });

  it("refuses a deployment role that could manage itself (the Deep Security role's name or prefix)", () => {
    expect(problems({ trustedPrincipals: [PIPELINE], name: "DeepSecurityCrossAccountRole" })).toEqual([
      expect.stringMatching(/^name: "DeepSecurityCrossAccountRole" is a name the deployment role may manage/),
    ]);
    expect(problems({ trustedPrincipals: [PIPELINE] }, { roleNamePrefix: "DeepSecurity" })).toEqual([
      expect.stringMatching(/^name: "DeepSecurityDeployer" is a name the deployment role may manage .*prefix/),
    ]);
    expect(problems({ trustedPrincipals: [PIPELINE] }, { roleNamePrefix: "Org" })).toEqual([
      expect.stringMatching(/^bootstrapRoleName: "OrganizationAccountAccessRole" is a name the deployment role may manage/),
    ]);
  });

  it("the planner throws them together, under a prefix", () => {
    try {
      planDeploymentRole({ trustedPrincipals: [], name: "" }, {}, ACCOUNT, "deploymentRole.");
      throw new Error("expected a ValidationError");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(["deploymentRole.trustedPrincipals", "deploymentRole.name"]);
    }
  });
});
