/**
 * The roles to verify and register: from an onboarding config, or from `--role-arn` flags.
 */
import type { OnboardingConfig } from "../config/schema";
import { UsageError } from "../errors";
import { DEFAULT_DEPLOYMENT_ROLE_NAME, deploymentRoleArn } from "../policy/accounts";
import { type ManagerPrincipal, principalArn } from "../policy/principal";
import { DEFAULT_ROLE_NAME } from "../policy/role";
import { checkIamArn, type Partition, parseIamArn } from "../validation";

export interface RoleTarget {
  readonly accountId: string;
  readonly roleArn: string;
  readonly displayName: string;
  /** The role to assume to read the account's IAM; none when the caller is in that account. */
  readonly deploymentRoleArn?: string;
}

export interface Targets {
  readonly roles: RoleTarget[];
  /** The ARN the roles must trust. */
  readonly principalArn: string;
}

export function targetsFromConfig(
  config: OnboardingConfig,
  accounts: readonly { accountId: string; displayName?: string; deploymentRoleArn?: string; deploymentRoleName?: string }[],
): Targets {
  const partition: Partition = config.role?.partition ?? "aws";
  if (config.role?.roleNamePrefix) {
    throw new UsageError(
      "role.roleNamePrefix gives each role a generated name that the config cannot tell; pass the roles with --role-arn (the role_arn outputs of the stacks).",
    );
  }
  const name = config.role?.roleName ?? DEFAULT_ROLE_NAME;
  const path = config.role?.path ?? "/";
  const defaultDeployment = config.deployment?.deploymentRoleName ?? DEFAULT_DEPLOYMENT_ROLE_NAME;
  return {
    principalArn: principalOf((config.manager?.principal as ManagerPrincipal | undefined) ?? { type: "workload-security" }, partition),
    roles: accounts.map((a) => ({
      accountId: a.accountId,
      roleArn: `arn:${partition}:iam::${a.accountId}:role${path}${name}`,
      displayName: a.displayName ?? a.accountId,
      deploymentRoleArn: a.deploymentRoleArn ?? deploymentRoleArn(partition, a.accountId, a.deploymentRoleName ?? defaultDeployment),
    })),
  };
}

export function targetsFromArns(
  arns: readonly string[],
  options: { principal: ManagerPrincipal; deploymentRoleName?: string; displayNames?: readonly string[] },
): Targets {
  const seen = new Set<string>();
  const roles = arns.map((arn, i) => {
    const problem = checkIamArn(arn, ["role"]);
    if (problem) throw new UsageError(`--role-arn ${arn}: ${problem.problem}. ${problem.fix}.`);
    const parsed = parseIamArn(arn)!;
    if (seen.has(parsed.accountId)) throw new UsageError(`--role-arn: account ${parsed.accountId} is given twice; one role per account.`);
    seen.add(parsed.accountId);
    return {
      accountId: parsed.accountId,
      roleArn: arn,
      displayName: options.displayNames?.[i] ?? parsed.accountId,
      deploymentRoleArn: options.deploymentRoleName
        ? deploymentRoleArn(parsed.partition, parsed.accountId, options.deploymentRoleName)
        : undefined,
    };
  });
  const partition = parseIamArn(arns[0] ?? "")?.partition ?? "aws";
  return { roles, principalArn: principalOf(options.principal, partition) };
}

function principalOf(principal: ManagerPrincipal, partition: Partition): string {
  const resolved = principalArn(principal, partition);
  if ("problem" in resolved) throw new UsageError(`principal: ${resolved.problem}. ${resolved.fix}.`);
  return resolved.arn;
}
