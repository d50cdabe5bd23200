/**
 * Many accounts: validating the account list and working out each account's deployment role.
 */
import { checkAccountId, checkIamArn, checkRoleName, describe, IssueCollector, type Partition, ValidationError } from "../validation";
import { planRole, type RoleOptions, type RolePlan } from "./role";

export const DEFAULT_DEPLOYMENT_ROLE_NAME = "OrganizationAccountAccessRole";
export const DEFAULT_REGION = "us-east-1";

/** One AWS account to create the role in. Optional fields state their default. */
export interface AccountTarget {
  /** The 12-digit account ID. */
  readonly accountId: string;
  /**
   * A name for people (connector display name, reports).
   * @default the account ID
   */
  readonly displayName?: string;
  /**
   * The role Terraform assumes in this account, by name.
   * @default the collection's `deploymentRoleName`
   */
  readonly deploymentRoleName?: string;
  /**
   * The role Terraform assumes, by full ARN (e.g. `AWSControlTowerExecution`).
   * @default built from the name
   */
  readonly deploymentRoleArn?: string;
  /**
   * The provider region for this account.
   * @default the collection's `region`
   */
  readonly region?: string;
  /**
   * This account's own external IDs, instead of the shared ones: during a migration from a
   * user-defined ID, each account accepts its old ID and the tenant's.
   * @default the shared IDs
   */
  readonly externalIds?: readonly string[];
}

export interface AccountsOptions extends RoleOptions {
  readonly accounts: readonly AccountTarget[];
  readonly deploymentRoleName?: string;
  readonly region?: string;
}

export interface AccountsPlan {
  /** The role plan shared by every account. */
  readonly role: RolePlan;
  readonly accounts: readonly PlannedAccount[];
}

export interface PlannedAccount {
  readonly accountId: string;
  readonly displayName: string;
  readonly deploymentRoleArn: string;
  readonly region: string;
  /** The role plan of this account: the shared one, or its own when it has its own external IDs. */
  readonly role: RolePlan;
}

/** An AWS region name, e.g. us-east-1. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * Validates the role options once and every account, and works out each account's deployment
 * role ARN and region. Throws one `ValidationError` that lists every problem. `validateOnly`:
 * check alone, and return no accounts (many accounts planned a batch at a time).
 */
export function planAccounts(
  options: AccountsOptions,
  isToken: (value: string) => boolean,
  rules: { literalExternalIds?: boolean; validateOnly?: boolean } = {},
): AccountsPlan {
  const role = planRole(options, isToken);
  const issues = new IssueCollector();
  if (rules.literalExternalIds && role.tokenExternalIds.length > 0) {
    issues.check("externalIds", {
      problem: "uses a Terraform token, but stack-per-account puts each account in its own stack",
      fix: "Pass the external ID as a literal (resolve it before synthesis), or use the single-stack layout",
    });
  }
  const accounts = options.accounts;
  if (!Array.isArray(accounts) || accounts.length === 0) {
    issues.check("accounts", { problem: `expected a non-empty list, got ${describe(accounts)}`, fix: "List at least one account" });
    issues.throwIfAny("Invalid account list");
  }
  const defaultRoleName = options.deploymentRoleName ?? DEFAULT_DEPLOYMENT_ROLE_NAME;
  if (options.deploymentRoleName !== undefined) issues.check("deploymentRoleName", checkRoleName(defaultRoleName));
  const defaultRegion = options.region ?? DEFAULT_REGION;
  if (options.region !== undefined) issues.check("region", checkRegion(defaultRegion));

  const seen = new Map<string, number>();
  const planned: PlannedAccount[] = [];
  accounts.forEach((account, i) => {
    const at = `accounts[${i}]`;
    const idOk = issues.check(`${at}.accountId`, checkAccountId(account?.accountId));
    if (idOk) {
      const first = seen.get(account.accountId);
      if (first !== undefined) {
        issues.check(`${at}.accountId`, {
          problem: `${account.accountId} is listed already at accounts[${first}]`,
          fix: "List each account once",
        });
      } else seen.set(account.accountId, i);
    }
    if (account?.deploymentRoleName !== undefined) issues.check(`${at}.deploymentRoleName`, checkRoleName(account.deploymentRoleName));
    if (account?.deploymentRoleArn !== undefined) {
      const arnOk = issues.check(`${at}.deploymentRoleArn`, checkIamArn(account.deploymentRoleArn, ["role"]));
      if (arnOk && idOk && !account.deploymentRoleArn.includes(`::${account.accountId}:`)) {
        issues.check(`${at}.deploymentRoleArn`, {
          problem: `is a role in another account than ${account.accountId}`,
          fix: "Use the deployment role of the account itself",
        });
      }
    }
    if (account?.region !== undefined) issues.check(`${at}.region`, checkRegion(account.region));
    let own: RolePlan = role;
    if (account?.externalIds !== undefined) {
      try {
        own = planRole({ ...options, externalIds: account.externalIds }, isToken, `${at}.`);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.issues.push(...error.issues);
      }
    }
    if (rules.validateOnly) return;
    planned.push({
      role: own,
      accountId: account?.accountId,
      displayName: account?.displayName ?? account?.accountId,
      deploymentRoleArn:
        account?.deploymentRoleArn ?? deploymentRoleArn(role.partition, account?.accountId, account?.deploymentRoleName ?? defaultRoleName),
      region: account?.region ?? defaultRegion,
    });
  });
  issues.throwIfAny("Invalid account list");
  return { role, accounts: planned };
}

export function deploymentRoleArn(partition: Partition, accountId: string, roleName: string): string {
  return `arn:${partition}:iam::${accountId}:role/${roleName}`;
}

export function checkRegion(value: unknown) {
  return typeof value === "string" && REGION_PATTERN.test(value)
    ? undefined
    : { problem: `${describe(value)} is not an AWS region name`, fix: "Use a region such as us-east-1, eu-west-1 or cn-north-1" };
}
