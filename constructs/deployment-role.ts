import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { type App, TerraformOutput, type TerraformProvider, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { type AccountTarget, planAccounts } from "../src/policy/accounts";
import {
  DEPLOYER_POLICY_NAME,
  DEPLOYMENT_ROLE_DESCRIPTION,
  type DeployedRoleScope,
  type DeploymentRoleOptions,
  type DeploymentRolePlan,
  planDeploymentRole,
} from "../src/policy/deployment-role";
import { addBackend, type StateBackend } from "./backend";
import { accountProvider } from "./multi-account";
import { checkProviderVersion, pinProviderSource } from "./provider-source";

/** Props of {@link DeepSecurityDeploymentRole}. Optional ones state their `@default`. */
export interface DeepSecurityDeploymentRoleProps extends DeploymentRoleOptions {
  /**
   * The options of the Deep Security cross-account role that name it (name or prefix, path,
   * partition, permissions boundary, extra policies): the deployment role may manage exactly
   * that role and its policy. Pass the same role options as to the cross-account role.
   * @default the cross-account role's defaults (`DeepSecurityCrossAccountRole` at `/`)
   */
  readonly deepSecurityRole?: DeployedRoleScope;
  /**
   * The account the role is created in, to write exact ARNs in its policy.
   * @default the provider's account (an `aws_caller_identity` data source)
   */
  readonly accountId?: string;
  /**
   * The AWS provider (account and region) to create the role with.
   * @default the stack's default provider
   */
  readonly provider?: TerraformProvider;
  /**
   * Tags on the deployment role.
   * @default none
   */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Add a Terraform output `deployment_role_arn`.
   * @default true
   */
  readonly outputs?: boolean;
  /**
   * The Terraform version constraint written for the `hashicorp/aws` provider of the stack.
   * @default AWS_PROVIDER_VERSION_RANGE (">= 5.100.0, < 7.0.0")
   */
  readonly providerVersion?: string;
}

/**
 * A least-privilege deployment role for one account: the pipeline's Terraform assumes it
 * instead of `OrganizationAccountAccessRole`, and it may only create, read, update, tag and
 * delete the Deep Security cross-account role, its policy and their attachment.
 */
export class DeepSecurityDeploymentRole extends Construct {
  readonly role: IamRole;
  readonly policy: IamRolePolicy;
  readonly plan: DeploymentRolePlan;

  constructor(scope: Construct, id: string, props: DeepSecurityDeploymentRoleProps) {
    super(scope, id);
    pinProviderSource(TerraformStack.of(this), props.providerVersion);
    const { provider } = props;
    const accountId = props.accountId ?? new DataAwsCallerIdentity(this, "account", { provider }).accountId;
    this.plan = planDeploymentRole(props, props.deepSecurityRole ?? {}, accountId);
    const tags = props.tags && Object.keys(props.tags).length > 0 ? { ...props.tags } : undefined;
    this.role = new IamRole(this, "role", {
      provider,
      name: this.plan.name,
      description: DEPLOYMENT_ROLE_DESCRIPTION,
      assumeRolePolicy: JSON.stringify(this.plan.trustPolicy),
      maxSessionDuration: this.plan.maxSessionDurationSeconds,
      tags,
    });
    this.policy = new IamRolePolicy(this, "policy", {
      provider,
      role: this.role.name,
      name: DEPLOYER_POLICY_NAME,
      policy: JSON.stringify(this.plan.policy),
    });
    if (props.outputs !== false) {
      new TerraformOutput(this, "deployment_role_arn", { value: this.role.arn, description: "ARN of the Deep Security deployment role" });
    }
  }

  /** The role's ARN (a Terraform reference). */
  get roleArn(): string {
    return this.role.arn;
  }
}

/** Props of {@link addDeploymentRoleStack}. Optional ones state their `@default`. */
export interface DeploymentRoleStackProps extends Omit<DeepSecurityDeploymentRoleProps, "accountId" | "provider" | "outputs"> {
  /** The accounts to create the deployment role in. */
  readonly accounts: readonly AccountTarget[];
  /**
   * The region of each account's provider.
   * @default `"us-east-1"`
   */
  readonly region?: string;
  /**
   * The stack's name.
   * @default `"ds-onboard-deployment-role"`
   */
  readonly stackName?: string;
  /**
   * Where the stack keeps its state.
   * @default cdktf's local backend in the stack's folder
   */
  readonly backend?: StateBackend;
}

/**
 * A bootstrap stack: in each account, through the role the organization gives its management
 * account (`bootstrapRoleName`, `OrganizationAccountAccessRole` by default), the deployment
 * role. Applied once per new account; afterwards the pipeline needs only the deployment role.
 */
export function addDeploymentRoleStack(app: App, props: DeploymentRoleStackProps): TerraformStack {
  if (props.providerVersion !== undefined) checkProviderVersion(props.providerVersion);
  const scope = props.deepSecurityRole ?? {};
  const bootstrap = planDeploymentRole(props, scope, "000000000000").bootstrapRoleName;
  // The bootstrap role in each account, with the accounts' own checks (IDs, duplicates, regions).
  const plan = planAccounts(
    {
      externalIds: ["bootstrap"],
      partition: scope.partition,
      accounts: props.accounts.map((a) => ({ accountId: a.accountId, displayName: a.displayName, region: a.region })),
      deploymentRoleName: bootstrap,
      region: props.region,
    },
    () => false,
  );
  const stack = new TerraformStack(app, props.stackName ?? "ds-onboard-deployment-role");
  for (const target of plan.accounts) {
    const provider = accountProvider(stack, target);
    const role = new DeepSecurityDeploymentRole(stack, `account-${target.accountId}`, {
      ...props,
      accountId: target.accountId,
      provider,
      outputs: false,
    });
    new TerraformOutput(stack, `deployment_role_arn_${target.accountId}`, { value: role.roleArn });
  }
  if (props.backend) addBackend(stack, props.backend, { region: props.region });
  return stack;
}
