/**
 * Plans the cross-account role from its options: validates every literal value, builds the
 * trust and permissions documents, and checks them with the trust checker and the IAM size
 * limits. Pure: the cdktf construct calls it and only turns the result into resources.
 */
import { checkExternalId, describe, IssueCollector, type Partition } from "../validation";
import { POLICY_LIMITS, type PolicyDocument, policySize } from "./document";
import { buildPermissionsPolicy } from "./permissions";
import { type ManagerPrincipal, ManagerPrincipals, principalArn } from "./principal";
import { checkRoleOptions } from "./role-options";
import { buildTrustPolicy, checkTrustPolicy, describeTrustCheck } from "./trust";

/** The options of the cross-account role. Optional ones state their default. */
export interface RoleOptions {
  /**
   * The external IDs the role accepts: the tenant's one, or two during a migration window.
   * Each may be a literal or an unresolved token (a Terraform variable or data source).
   */
  readonly externalIds: readonly string[];
  /**
   * Whom the role trusts.
   * @default Workload Security (`ManagerPrincipals.workloadSecurity()`)
   */
  readonly principal?: ManagerPrincipal;
  /**
   * The AWS partition the role lives in.
   * @default `"aws"`
   */
  readonly partition?: Partition;
  /**
   * The role name.
   * @default `"DeepSecurityCrossAccountRole"`, unless `roleNamePrefix` is set
   */
  readonly roleName?: string;
  /**
   * A name prefix; Terraform adds a unique suffix.
   * @default none. Exclusive with `roleName`
   */
  readonly roleNamePrefix?: string;
  /**
   * The IAM path of the role and its policy.
   * @default `"/"`
   */
  readonly path?: string;
  /**
   * The ARN of a managed policy to use as permissions boundary.
   * @default none
   */
  readonly permissionsBoundaryArn?: string;
  /**
   * Tags on the role and its policy.
   * @default none
   */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * The maximum session length in seconds, 3,600 to 43,200.
   * @default 3,600
   */
  readonly maxSessionDurationSeconds?: number;
  /**
   * More managed policies to attach.
   * @default none
   */
  readonly managedPolicyArns?: readonly string[];
  /**
   * Grant the WorkSpaces read actions.
   * @default true
   */
  readonly includeWorkspaces?: boolean;
  /**
   * Add an explicit Deny for callers without one of the external IDs.
   * @default false
   */
  readonly denyWithoutExternalId?: boolean;
  /**
   * The trust policy size quota of the account: 2,048 by default, raisable to 4,096.
   * @default 2,048
   */
  readonly trustPolicySizeLimit?: number;
}

export const DEFAULT_ROLE_NAME = "DeepSecurityCrossAccountRole";

export interface RolePlan {
  readonly principalArn: string;
  readonly partition: Partition;
  readonly trustPolicy: PolicyDocument;
  readonly permissionsPolicy: PolicyDocument;
  /** The literal size of the trust policy with every token counted as empty. */
  readonly trustPolicyBaseSize: number;
  readonly trustPolicySizeLimit: number;
  /** The external IDs that are unresolved tokens, checked by Terraform preconditions at plan time. */
  readonly tokenExternalIds: readonly string[];
  /** How often each token external ID appears in the trust policy (twice with the Deny guard). */
  readonly tokenExternalIdCounts: readonly number[];
  /** The role's own name, or undefined when a prefix is used. */
  readonly roleName?: string;
  readonly roleNamePrefix?: string;
  /** The managed policy's name (or prefix, when the role uses one). */
  readonly policyName: string;
}

/**
 * Validates the options and builds the documents. Throws one `ValidationError` that lists
 * every problem, each under the option's name (`prefix` is prepended, e.g. `accounts[3].`).
 *
 * @param isToken tells unresolved tokens (validated later by Terraform) from literals.
 */
export function planRole(options: RoleOptions, isToken: (value: string) => boolean, prefix = ""): RolePlan {
  const issues = new IssueCollector();
  const at = (field: string) => `${prefix}${field}`;
  const partition = options.partition ?? "aws";
  const principal = options.principal ?? ManagerPrincipals.workloadSecurity();
  const resolved = principalArn(principal, partition);
  const principalOk = issues.check(at("principal"), "problem" in resolved ? resolved : undefined);

  const ids = options.externalIds;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 2) {
    issues.check(at("externalIds"), {
      problem: Array.isArray(ids) ? `lists ${ids.length} external IDs` : `expected a list, got ${describe(ids)}`,
      fix: "Give the tenant's external ID, or two (old and new) during a migration window",
    });
  } else {
    ids.forEach((id, i) => {
      if (!(typeof id === "string" && isToken(id))) issues.check(at(`externalIds[${i}]`), checkExternalId(id));
    });
    if (new Set(ids).size !== ids.length) {
      issues.check(at("externalIds"), { problem: "lists the same external ID twice", fix: "List each ID once" });
    }
  }

  if (options.roleName !== undefined && options.roleNamePrefix !== undefined) {
    issues.check(at("roleName"), { problem: "is set together with roleNamePrefix", fix: "Set one of roleName and roleNamePrefix" });
  }
  for (const p of checkRoleOptions(options, isToken)) issues.check(at(p.path), p);
  const limit = options.trustPolicySizeLimit ?? POLICY_LIMITS.trustPolicy;
  issues.throwIfAny("Invalid Deep Security cross-account role options");

  const arn = principalOk && "arn" in resolved ? resolved.arn : "";
  const tokenExternalIds = ids.filter(isToken);
  const trustPolicy = buildTrustPolicy({ principalArn: arn, externalIds: ids, denyWithoutExternalId: options.denyWithoutExternalId });
  const permissionsPolicy = buildPermissionsPolicy({ includeWorkspaces: options.includeWorkspaces });

  // Prove our own document right before anyone deploys it (literal IDs only; tokens are checked at plan).
  if (tokenExternalIds.length === 0) {
    const check = checkTrustPolicy(trustPolicy, { principalArn: arn, externalIds: ids, requireDenyGuard: options.denyWithoutExternalId });
    if (!check.ok) throw new Error(`internal error: the built trust policy failed its own check:\n${describeTrustCheck(check)}`);
  }
  const tokenFree = JSON.stringify(trustPolicy, (_k, v) => (typeof v === "string" && isToken(v) ? "" : v));
  const trustPolicyBaseSize = tokenFree.length;
  if (trustPolicyBaseSize > limit) {
    issues.check(at("externalIds"), {
      problem: `make the trust policy ${trustPolicyBaseSize} characters long, over the account's quota of ${limit}`,
      fix: "Use fewer or shorter external IDs, or raise trustPolicySizeLimit after raising the IAM quota (at most 4096)",
    });
  }
  const permissionsSize = policySize(permissionsPolicy);
  if (permissionsSize > POLICY_LIMITS.managedPolicy) {
    issues.check(at("includeWorkspaces"), {
      problem: `the permissions policy is ${permissionsSize} characters, over IAM's 6,144`,
      fix: "Report this as a bug",
    });
  }
  issues.throwIfAny("Invalid Deep Security cross-account role options");

  const roleName = options.roleNamePrefix === undefined ? (options.roleName ?? DEFAULT_ROLE_NAME) : undefined;
  return {
    principalArn: arn,
    partition,
    trustPolicy,
    permissionsPolicy,
    trustPolicyBaseSize,
    trustPolicySizeLimit: limit,
    tokenExternalIds,
    tokenExternalIdCounts: tokenExternalIds.map((id) => JSON.stringify(trustPolicy).split(id).length - 1),
    roleName,
    roleNamePrefix: options.roleNamePrefix,
    policyName: roleName ? `${roleName}Policy` : `${options.roleNamePrefix}`,
  };
}
