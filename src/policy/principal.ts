/**
 * Whom the cross-account role trusts: the manager's AWS identity.
 */
import { checkAccountId, checkIamArn, type Partition, type Problem, parseIamArn } from "../validation";

/** Cloud One Workload Security and Deep Security as a Service assume roles from this AWS account. */
export const WORKLOAD_SECURITY_ACCOUNT_ID = "147995105371";

/**
 * The manager's AWS identity, as a preset:
 * - `workload-security`: Cloud One Workload Security / Deep Security as a Service (account 147995105371);
 * - `on-premises`: a Deep Security Manager you run, by its AWS account ID, or the role or user ARN it runs as;
 * - `custom`: any other principal ARN (for example a vendor role narrower than the account root).
 */
export type ManagerPrincipal =
  | { readonly type: "workload-security" }
  | { readonly type: "on-premises"; readonly accountId: string }
  | { readonly type: "on-premises"; readonly arn: string }
  | { readonly type: "custom"; readonly arn: string };

/** Shorthands for {@link ManagerPrincipal} values. */
export const ManagerPrincipals = {
  workloadSecurity: (): ManagerPrincipal => ({ type: "workload-security" }),
  onPremisesAccount: (accountId: string): ManagerPrincipal => ({ type: "on-premises", accountId }),
  onPremisesIdentity: (arn: string): ManagerPrincipal => ({ type: "on-premises", arn }),
  custom: (arn: string): ManagerPrincipal => ({ type: "custom", arn }),
} as const;

/** The ARN that a trust policy names for this principal, or the problem with it. */
export function principalArn(principal: ManagerPrincipal, partition: Partition): { arn: string } | Problem {
  switch (principal.type) {
    case "workload-security":
      if (partition !== "aws") {
        return {
          problem: `Workload Security's account ${WORKLOAD_SECURITY_ACCOUNT_ID} exists only in the aws partition, not ${partition}`,
          fix: "In aws-cn or aws-us-gov, trust your own manager: use the on-premises principal with its account ID or role ARN",
        };
      }
      return { arn: `arn:aws:iam::${WORKLOAD_SECURITY_ACCOUNT_ID}:root` };
    case "on-premises":
      if ("accountId" in principal) {
        const problem = checkAccountId(principal.accountId);
        return problem ?? { arn: `arn:${partition}:iam::${principal.accountId}:root` };
      }
      return checkedArn(principal.arn, partition, ["role", "user", "root"]);
    case "custom":
      return checkedArn(principal.arn, partition, ["root", "role", "user", "assumed-role"]);
    default:
      return {
        problem: `unknown principal type ${JSON.stringify((principal as { type?: unknown }).type)}`,
        fix: "Use workload-security, on-premises or custom",
      };
  }
}

function checkedArn(arn: string, partition: Partition, kinds: Parameters<typeof checkIamArn>[1]): { arn: string } | Problem {
  const problem = checkIamArn(arn, kinds);
  if (problem) return problem;
  const parsed = parseIamArn(arn)!;
  if (parsed.partition !== partition) {
    return {
      problem: `${JSON.stringify(arn)} is in partition ${parsed.partition} but the role is in ${partition}`,
      fix: "A role can trust only principals of its own partition; fix the ARN or the partition",
    };
  }
  return { arn };
}
