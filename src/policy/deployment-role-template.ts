/**
 * The deployment role as a CloudFormation template, for a service-managed StackSet with
 * automatic deployment (every account that joins the organization or a target OU gets it), for
 * Account Factory for Terraform customizations, or for one stack in a single account. Built
 * from the same documents as the cdktf construct: only the account ID is CloudFormation's
 * (`${AWS::AccountId}`).
 */

import {
  DEPLOYER_POLICY_NAME,
  DEPLOYMENT_ROLE_DESCRIPTION,
  type DeployedRoleScope,
  type DeploymentRoleOptions,
  planDeploymentRole,
} from "./deployment-role";
import type { PolicyDocument } from "./document";

/** The account ID as CloudFormation writes it inside `Fn::Sub`. */
export const CFN_ACCOUNT_ID = "${AWS::AccountId}";

export interface DeploymentRoleTemplateOptions extends DeploymentRoleOptions {
  /** The Deep Security role's options that name it. @default the cross-account role's defaults */
  readonly deepSecurityRole?: DeployedRoleScope;
  /** Tags on the deployment role. @default none */
  readonly tags?: Readonly<Record<string, string>>;
}

/** The template, as an object ready for `JSON.stringify`. */
export function deploymentRoleTemplate(options: DeploymentRoleTemplateOptions): Record<string, unknown> {
  const plan = planDeploymentRole(options, options.deepSecurityRole ?? {}, CFN_ACCOUNT_ID);
  const tags = Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description:
      "ds-onboard: a least-privilege deployment role that may manage only the Deep Security cross-account role and its policy. Deploy with a service-managed StackSet (auto-deployment) to every member account; StackSets skip the management account: deploy it there as a plain stack if the management account is onboarded too.",
    Resources: {
      DeploymentRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: plan.name,
          Description: DEPLOYMENT_ROLE_DESCRIPTION,
          AssumeRolePolicyDocument: plan.trustPolicy,
          ...(plan.maxSessionDurationSeconds !== undefined ? { MaxSessionDuration: plan.maxSessionDurationSeconds } : {}),
          Policies: [{ PolicyName: DEPLOYER_POLICY_NAME, PolicyDocument: withSub(plan.policy) }],
          ...(tags.length > 0 ? { Tags: tags } : {}),
        },
      },
    },
    Outputs: {
      DeploymentRoleArn: {
        Description: "The role the pipeline assumes in this account",
        Value: { "Fn::GetAtt": ["DeploymentRole", "Arn"] },
      },
    },
  };
}

/** Every string that names the account becomes a `Fn::Sub`. */
function withSub(doc: PolicyDocument): unknown {
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") return value.includes(CFN_ACCOUNT_ID) ? { "Fn::Sub": value } : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(doc);
}

/**
 * The template's policy for one account, as CloudFormation would resolve it (for comparing
 * with the construct's, and for reading).
 */
export function resolveTemplatePolicy(template: Record<string, unknown>, accountId: string): PolicyDocument {
  const role = (template.Resources as Record<string, { Properties: { Policies: { PolicyDocument: unknown }[] } }>).DeploymentRole;
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") {
      const sub = (value as Record<string, unknown>)["Fn::Sub"];
      if (typeof sub === "string") return sub.split(CFN_ACCOUNT_ID).join(accountId);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  return walk(role.Properties.Policies[0].PolicyDocument) as PolicyDocument;
}
