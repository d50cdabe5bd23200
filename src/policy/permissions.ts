/**
 * What the manager may do with the role: read-only discovery of EC2 instances and WorkSpaces.
 */
import { POLICY_VERSION, type PolicyDocument } from "./document";

/** The actions the manager uses, on `"Resource": "*"` (manager API reference). */
export const EC2_ACTIONS = [
  "ec2:DescribeAvailabilityZones",
  "ec2:DescribeImages",
  "ec2:DescribeInstances",
  "ec2:DescribeRegions",
  "ec2:DescribeSecurityGroups",
  "ec2:DescribeSubnets",
  "ec2:DescribeTags",
  "ec2:DescribeVpcs",
] as const;

export const WORKSPACES_ACTIONS = [
  "workspaces:DescribeTags",
  "workspaces:DescribeWorkspaceBundles",
  "workspaces:DescribeWorkspaceDirectories",
  "workspaces:DescribeWorkspaces",
] as const;

export const IAM_ACTIONS = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAccountAliases"] as const;

/** Without these three the connection fails. */
export const MINIMUM_ACTIONS = ["ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeTags"] as const;

export interface PermissionsOptions {
  /**
   * Include the WorkSpaces actions.
   * @default true
   */
  readonly includeWorkspaces?: boolean;
}

export function requiredActions(options: PermissionsOptions = {}): string[] {
  return [...EC2_ACTIONS, ...IAM_ACTIONS, ...(options.includeWorkspaces === false ? [] : WORKSPACES_ACTIONS)];
}

export const PERMISSIONS_SID = "DeepSecurityManagerReadOnly";

export function buildPermissionsPolicy(options: PermissionsOptions = {}): PolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [{ Sid: PERMISSIONS_SID, Effect: "Allow", Action: requiredActions(options), Resource: "*" }],
  };
}
