/** One deployed role to verify, register or offboard. */
export interface RoleTarget {
  readonly accountId: string;
  readonly roleArn: string;
  /** The connector's display name. */
  readonly displayName: string;
  /** The role to assume to read the account's IAM; none when the caller is in that account. */
  readonly deploymentRoleArn?: string;
}
