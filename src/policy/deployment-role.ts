/**
 * A least-privilege deployment role: the role a pipeline's Terraform assumes in each member
 * account instead of `OrganizationAccountAccessRole`. It may manage the Deep Security
 * cross-account role, its policy and their attachment, and nothing else in the account.
 *
 * Pure: the cdktf construct, the CloudFormation template (StackSets) and the config schema all
 * build from here, so that the permissions are written once.
 */
import { checkIamArn, checkRoleName, describe, IssueCollector, type Partition, type Problem, parseIamArn } from "../validation";
import { POLICY_VERSION, type PolicyDocument, type PolicyStatement, policySize } from "./document";
import { DEFAULT_ROLE_NAME, type RoleOptions } from "./role";
import { checkMaxSessionDuration } from "./role-options";

export const DEFAULT_DEPLOYER_ROLE_NAME = "DeepSecurityDeployer";
export const DEFAULT_BOOTSTRAP_ROLE_NAME = "OrganizationAccountAccessRole";
/** The inline policy of the deployment role. */
export const DEPLOYER_POLICY_NAME = "ManageDeepSecurityRoleOnly";
export const DEPLOYMENT_ROLE_DESCRIPTION =
  "Lets the pipeline manage the Deep Security cross-account role and its policy, nothing else. Managed by ds-onboard.";

/** The deployment role's own options. Optional ones state their `@default`. */
export interface DeploymentRoleOptions {
  /**
   * Who may assume the deployment role: the pipeline's role ARNs (e.g. the management
   * account's CI role), user ARNs, or account roots (`arn:aws:iam::<account>:root`, which
   * delegates the choice to that account's own IAM policies).
   */
  readonly trustedPrincipals: readonly string[];
  /**
   * The deployment role's name.
   * @default `"DeepSecurityDeployer"`
   */
  readonly name?: string;
  /**
   * Accept only callers of this AWS Organizations organization (`aws:PrincipalOrgID`).
   * @default no such condition
   */
  readonly organizationId?: string;
  /**
   * The maximum session length of the deployment role, in seconds (3,600 to 43,200).
   * @default 3,600
   */
  readonly maxSessionDurationSeconds?: number;
  /**
   * The role the cdktf bootstrap stack assumes in each account to create the deployment role
   * (once; afterwards the pipeline needs only the deployment role).
   * @default `"OrganizationAccountAccessRole"`
   */
  readonly bootstrapRoleName?: string;
}

/** The Deep Security role's options that decide what the deployment role may manage. */
export type DeployedRoleScope = Pick<
  RoleOptions,
  "partition" | "roleName" | "roleNamePrefix" | "path" | "permissionsBoundaryArn" | "managedPolicyArns"
>;

/**
 * The calls the `hashicorp/aws` provider (5.100 and later) makes for `aws_iam_role`
 * (create, read, update, delete, tags; delete lists instance profiles and detaches managed
 * policies first) on the Deep Security role. `ds-onboard verify` reads with the same calls.
 */
export const ROLE_ACTIONS = [
  "iam:CreateRole",
  "iam:GetRole",
  "iam:UpdateRole",
  "iam:UpdateRoleDescription",
  "iam:UpdateAssumeRolePolicy",
  "iam:DeleteRole",
  "iam:TagRole",
  "iam:UntagRole",
  "iam:ListRoleTags",
  "iam:ListRolePolicies",
  "iam:GetRolePolicy",
  "iam:ListAttachedRolePolicies",
  "iam:ListInstanceProfilesForRole",
  "iam:DetachRolePolicy",
] as const;

/** `aws_iam_role_policy_attachment`: attaching, only the Deep Security policy (and the configured extra ones). */
export const ATTACH_ACTIONS = ["iam:AttachRolePolicy"] as const;

/** Setting the configured permissions boundary on an existing role (when the config sets one). */
export const BOUNDARY_ACTIONS = ["iam:PutRolePermissionsBoundary"] as const;

/**
 * `aws_iam_policy`: create, read, a new default version on change (pruning the oldest of five),
 * delete (its other versions first), tags.
 */
export const POLICY_ACTIONS = [
  "iam:CreatePolicy",
  "iam:GetPolicy",
  "iam:GetPolicyVersion",
  "iam:ListPolicyVersions",
  "iam:CreatePolicyVersion",
  "iam:DeletePolicyVersion",
  "iam:DeletePolicy",
  "iam:TagPolicy",
  "iam:UntagPolicy",
  "iam:ListPolicyTags",
] as const;

/** Reading the extra managed policies the config attaches (`ds-onboard verify` reads them). */
export const EXTRA_POLICY_READ_ACTIONS = ["iam:GetPolicy", "iam:GetPolicyVersion"] as const;

/** The ARNs (or ARN patterns, for a name prefix) of what the deployment role manages in one account. */
export interface DeployedResources {
  readonly roleArn: string;
  readonly policyArn: string;
}

/**
 * The Deep Security role's and policy's ARN in `accountId` (a literal, a Terraform token or
 * `${AWS::AccountId}`), exactly as the cross-account role construct names them; with a name
 * prefix, the prefix and a wildcard.
 */
export function deployedResources(scope: DeployedRoleScope, accountId: string): DeployedResources {
  const partition = scope.partition ?? "aws";
  const path = scope.path ?? "/";
  const base = `arn:${partition}:iam::${accountId}:`;
  if (scope.roleNamePrefix !== undefined) {
    return { roleArn: `${base}role${path}${scope.roleNamePrefix}*`, policyArn: `${base}policy${path}${scope.roleNamePrefix}*` };
  }
  const name = scope.roleName ?? DEFAULT_ROLE_NAME;
  return { roleArn: `${base}role${path}${name}`, policyArn: `${base}policy${path}${name}Policy` };
}

/**
 * The deployment role's permissions in one account: the provider's calls on the Deep Security
 * role and policy ARNs only. Attaching is limited to the Deep Security policy (and the
 * configured extra policies) by `iam:PolicyARN`; with a permissions boundary configured, the
 * role can be created only with that boundary, and the boundary cannot be removed.
 */
export function buildDeploymentPolicy(scope: DeployedRoleScope, accountId: string): PolicyDocument {
  const { roleArn, policyArn } = deployedResources(scope, accountId);
  const boundary = scope.permissionsBoundaryArn;
  const extra = [...(scope.managedPolicyArns ?? [])];
  const boundaryCondition = boundary ? { StringEquals: { "iam:PermissionsBoundary": boundary } } : undefined;
  const statements: PolicyStatement[] = [
    {
      Sid: "ManageDeepSecurityRole",
      Effect: "Allow",
      Action: boundary ? ROLE_ACTIONS.filter((a) => a !== "iam:CreateRole") : [...ROLE_ACTIONS],
      Resource: roleArn,
    },
    ...(boundary
      ? [
          {
            Sid: "CreateDeepSecurityRoleWithItsBoundary",
            Effect: "Allow" as const,
            Action: ["iam:CreateRole", ...BOUNDARY_ACTIONS],
            Resource: roleArn,
            Condition: boundaryCondition,
          },
        ]
      : []),
    {
      Sid: "AttachDeepSecurityPolicyOnly",
      Effect: "Allow",
      Action: [...ATTACH_ACTIONS],
      Resource: roleArn,
      Condition: { StringLike: { "iam:PolicyARN": [policyArn, ...extra] } },
    },
    { Sid: "ManageDeepSecurityPolicy", Effect: "Allow", Action: [...POLICY_ACTIONS], Resource: policyArn },
    ...(extra.length > 0
      ? [{ Sid: "ReadExtraPolicies", Effect: "Allow" as const, Action: [...EXTRA_POLICY_READ_ACTIONS], Resource: extra }]
      : []),
  ];
  return { Version: POLICY_VERSION, Statement: statements };
}

/** Every action the deployment role is granted, sorted (for documentation and checks). */
export function deploymentActions(scope: DeployedRoleScope): string[] {
  const boundary = scope.permissionsBoundaryArn ? BOUNDARY_ACTIONS : [];
  return [...new Set([...ROLE_ACTIONS, ...ATTACH_ACTIONS, ...boundary, ...POLICY_ACTIONS])].sort();
}

/** Whom the deployment role trusts: the pipeline principals, optionally only from one organization. */
export function buildDeploymentTrustPolicy(options: Pick<DeploymentRoleOptions, "trustedPrincipals" | "organizationId">): PolicyDocument {
  const principals = [...options.trustedPrincipals];
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: "PipelineAssumesDeploymentRole",
        Effect: "Allow",
        Principal: { AWS: principals.length === 1 ? principals[0] : principals },
        Action: "sts:AssumeRole",
        ...(options.organizationId ? { Condition: { StringEquals: { "aws:PrincipalOrgID": options.organizationId } } } : {}),
      },
    ],
  };
}

/** An AWS Organizations organization ID, e.g. o-a1b2c3d4e5. */
export const ORGANIZATION_ID_PATTERN = /^o-[a-z0-9]{10,32}$/;

export function checkOrganizationId(value: unknown): Problem | undefined {
  return typeof value === "string" && ORGANIZATION_ID_PATTERN.test(value)
    ? undefined
    : { problem: `${describe(value)} is not an organization ID`, fix: "Use the ID AWS Organizations shows, e.g. o-a1b2c3d4e5" };
}

/** The deployment role's plan: its name, its documents and the options they came from. */
export interface DeploymentRolePlan {
  readonly name: string;
  readonly partition: Partition;
  readonly trustPolicy: PolicyDocument;
  /** The permissions of one account (`accountId` as given to the planner). */
  readonly policy: PolicyDocument;
  readonly maxSessionDurationSeconds?: number;
  readonly bootstrapRoleName: string;
}

/**
 * Validates the deployment role's options against the Deep Security role's scope and builds its
 * documents for `accountId`. Throws one `ValidationError` listing every problem, each under the
 * option's name with `prefix` prepended (e.g. `deploymentRole.`).
 */
export function planDeploymentRole(
  options: DeploymentRoleOptions,
  scope: DeployedRoleScope,
  accountId: string,
  prefix = "",
): DeploymentRolePlan {
  const issues = new IssueCollector();
  const at = (field: string) => `${prefix}${field}`;
  for (const { path, ...problem } of deploymentRoleProblems(options, scope)) issues.check(at(path), problem);
  issues.throwIfAny("Invalid deployment role options");
  const policy = buildDeploymentPolicy(scope, accountId);
  const size = policySize(policy);
  // One inline policy: IAM allows 10,240 characters for all of a role's inline policies.
  if (size > 10240) {
    issues.check(at("trustedPrincipals"), {
      problem: `the deployment role's policy is ${size} characters, over IAM's 10,240 for a role's inline policies`,
      fix: "Attach fewer extra managed policies to the Deep Security role",
    });
  }
  issues.throwIfAny("Invalid deployment role options");
  return {
    name: options.name ?? DEFAULT_DEPLOYER_ROLE_NAME,
    partition: scope.partition ?? "aws",
    trustPolicy: buildDeploymentTrustPolicy(options),
    policy,
    maxSessionDurationSeconds: options.maxSessionDurationSeconds,
    bootstrapRoleName: options.bootstrapRoleName ?? DEFAULT_BOOTSTRAP_ROLE_NAME,
  };
}

/** The problems with the deployment role's options, each with the option's path (no prefix). */
export function deploymentRoleProblems(options: DeploymentRoleOptions, scope: DeployedRoleScope): (Problem & { path: string })[] {
  const problems: (Problem & { path: string })[] = [];
  const add = (path: string, problem: Problem | undefined) => {
    if (problem) problems.push({ path, ...problem });
  };
  const partition = scope.partition ?? "aws";
  const principals = options.trustedPrincipals;
  if (!Array.isArray(principals) || principals.length === 0) {
    add("trustedPrincipals", {
      problem: Array.isArray(principals) ? "is empty" : `expected a list, got ${describe(principals)}`,
      fix: "Name the pipeline's role ARN (e.g. the management account's CI role) that deploys the Deep Security roles",
    });
  } else {
    principals.forEach((arn, i) => {
      const problem = checkIamArn(arn, ["role", "user", "root"]);
      if (problem) {
        add(`trustedPrincipals[${i}]`, problem);
        return;
      }
      const parsed = parseIamArn(arn)!;
      if (parsed.partition !== partition)
        add(`trustedPrincipals[${i}]`, {
          problem: `${JSON.stringify(arn)} is in partition ${parsed.partition} but the roles are in ${partition}`,
          fix: "A role can trust only principals of its own partition; fix the ARN or role.partition",
        });
    });
    if (new Set(principals).size !== principals.length) add("trustedPrincipals", { problem: "lists an ARN twice", fix: "List each once" });
  }
  const name = options.name ?? DEFAULT_DEPLOYER_ROLE_NAME;
  if (options.name !== undefined) add("name", checkRoleName(options.name));
  if (options.bootstrapRoleName !== undefined) add("bootstrapRoleName", checkRoleName(options.bootstrapRoleName));
  if (options.organizationId !== undefined) add("organizationId", checkOrganizationId(options.organizationId));
  if (options.maxSessionDurationSeconds !== undefined)
    add("maxSessionDurationSeconds", checkMaxSessionDuration(options.maxSessionDurationSeconds));
  // The deployment role must not be one of the roles it may manage: it would widen its own rights.
  // (Role names are unique in an account whatever their path.)
  const managed = (role: string) =>
    scope.roleNamePrefix !== undefined ? role.startsWith(scope.roleNamePrefix) : role === (scope.roleName ?? DEFAULT_ROLE_NAME);
  for (const [field, role] of [
    ["name", name],
    ["bootstrapRoleName", options.bootstrapRoleName ?? DEFAULT_BOOTSTRAP_ROLE_NAME],
  ] as const) {
    if (checkRoleName(role) === undefined && managed(role)) {
      add(field, {
        problem: `${JSON.stringify(role)} is a name the deployment role may manage (the Deep Security role's name${scope.roleNamePrefix !== undefined ? " prefix" : ""})`,
        fix: "Give the deployment role a name outside the Deep Security role's name or prefix",
      });
    }
  }
  return problems;
}
