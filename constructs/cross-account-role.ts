import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import {
  DataResource,
  Fn,
  type ITerraformDependable,
  type LocalExecProvisioner,
  Op,
  type Precondition,
  TerraformOutput,
  type TerraformProvider,
  TerraformStack,
  Token,
} from "cdktf";
import { Construct } from "constructs";
import { planRole, type RoleOptions, type RolePlan } from "../src/policy/role";
import { EXTERNAL_ID_CHARSET_SOURCE, EXTERNAL_ID_LENGTH } from "../src/validation";
import { pinProviderSource } from "./provider-source";

/** Props of {@link DeepSecurityCrossAccountRole}. Optional ones state their `@default`. */
export interface DeepSecurityCrossAccountRoleProps extends RoleOptions {
  /**
   * The AWS provider (account and region) to create the role with.
   * @default the stack's default provider
   */
  readonly provider?: TerraformProvider;
  /**
   * Add Terraform outputs `role_arn` and `role_name` (never the external ID).
   * @default true
   */
  readonly outputs?: boolean;
  /**
   * Prefix for validation error paths, so that errors point at the caller's own input
   * (e.g. `accounts[3].`).
   * @default none
   */
  readonly errorPathPrefix?: string;
  /**
   * Register the account with the manager as part of `cdktf deploy`: a `terraform_data`
   * step runs `ds-onboard register --role-arn <arn>` once the role and its policy exist (cdktf
   * has no post-deploy hook). The API key is read from DS_API_KEY (or DS_API_KEY_FILE) in the
   * environment of `cdktf deploy` at apply time; it never enters the synthesized JSON or the
   * state.
   * @default not registered (run `ds-onboard register` or `onboard` after deploy)
   */
  readonly registration?: RegistrationOptions;
  /**
   * A plan made by `planRole` from these same options, to skip validating them again when
   * creating many roles from one set of options.
   * @default planned from the props
   */
  readonly plan?: RolePlan;
  /**
   * The Terraform version constraint written for the `hashicorp/aws` provider of the stack
   * (`terraform.required_providers.aws.version`), e.g. `"~> 6.0"` to allow 6.x only.
   *
   * @default AWS_PROVIDER_VERSION_RANGE (">= 5.100.0, < 7.0.0")
   */
  readonly providerVersion?: string;
}

/** How {@link DeepSecurityCrossAccountRole} registers the account during `cdktf deploy`. */
export interface RegistrationOptions {
  /**
   * The command that runs ds-onboard.
   * @default `"npx --no-install ds-onboard"`
   */
  readonly command?: string;
  /**
   * The manager URL, if not in DS_MANAGER_URL at apply time. Not a secret.
   * @default from the environment
   */
  readonly managerUrl?: string;
  /**
   * The connector's display name.
   * @default the account ID
   */
  readonly displayName?: string;
  /**
   * On `cdktf destroy`: `"keep"` the connector (it stays until someone deregisters it), or
   * `"deregister"` it.
   * @default `"keep"`, so that a destroy never removes the manager's record of the account by surprise
   */
  readonly onDestroy?: "keep" | "deregister";
}

/**
 * The IAM role through which Deep Security Manager, Cloud One Workload Security or Vision One
 * Server & Workload Protection reads an AWS account: trusted by the manager's principal only
 * when it presents the tenant's external ID, with a read-only managed policy attached.
 */
export class DeepSecurityCrossAccountRole extends Construct {
  readonly role: IamRole;
  readonly policy: IamPolicy;
  /** The validated plan the resources were built from (documents, principal, sizes). */
  readonly plan: RolePlan;
  /** The registration step, when `registration` is set. */
  readonly registration?: DataResource;

  constructor(scope: Construct, id: string, props: DeepSecurityCrossAccountRoleProps) {
    super(scope, id);
    const plan = props.plan ?? planRole(props, (v) => Token.isUnresolved(v), props.errorPathPrefix);
    this.plan = plan;
    pinProviderSource(TerraformStack.of(this), props.providerVersion);
    const { provider } = props;
    const tags = props.tags && Object.keys(props.tags).length > 0 ? { ...props.tags } : undefined;

    this.role = new IamRole(this, "role", {
      provider,
      name: plan.roleName,
      namePrefix: plan.roleNamePrefix,
      path: props.path,
      description: "Lets the Deep Security manager read this account (EC2 and WorkSpaces inventory). Managed by ds-onboard.",
      assumeRolePolicy: documents(plan).trust,
      maxSessionDuration: props.maxSessionDurationSeconds,
      permissionsBoundary: props.permissionsBoundaryArn,
      tags,
      lifecycle: plan.tokenExternalIds.length > 0 ? { precondition: tokenPreconditions(plan) } : undefined,
    });

    this.policy = new IamPolicy(this, "policy", {
      provider,
      name: plan.roleName ? plan.policyName : undefined,
      namePrefix: plan.roleName ? undefined : plan.policyName,
      path: props.path,
      description: "Read-only access that Deep Security needs to discover instances and WorkSpaces. Managed by ds-onboard.",
      policy: documents(plan).permissions,
      tags,
    });

    // Each attribute read makes a token: read the role's name once.
    const roleName = this.role.name;
    const attachment = new IamRolePolicyAttachment(this, "policy-attachment", {
      provider,
      role: roleName,
      policyArn: this.policy.arn,
    });
    (props.managedPolicyArns ?? []).forEach((policyArn, i) => {
      new IamRolePolicyAttachment(this, `extra-policy-${i}`, { provider, role: roleName, policyArn });
    });
    if (props.registration) this.registration = registrationStep(this, props.registration, [this.role, this.policy, attachment]);

    if (props.outputs !== false) {
      new TerraformOutput(this, "role_arn", { value: this.role.arn, description: "ARN of the Deep Security cross-account role" });
      new TerraformOutput(this, "role_name", { value: roleName, description: "Name of the Deep Security cross-account role" });
    }
  }

  /** The role's ARN (a Terraform reference). */
  get roleArn(): string {
    return this.role.arn;
  }

  /** The role's name (a Terraform reference). */
  get roleName(): string {
    return this.role.name;
  }
}

/** The policy documents of a plan as JSON, made once per plan (many accounts share one plan). */
const documentJson = new WeakMap<RolePlan, { trust: string; permissions: string }>();

function documents(plan: RolePlan): { trust: string; permissions: string } {
  let json = documentJson.get(plan);
  if (!json) {
    json = { trust: JSON.stringify(plan.trustPolicy), permissions: JSON.stringify(plan.permissionsPolicy) };
    documentJson.set(plan, json);
  }
  return json;
}

/**
 * The post-deploy registration as a step of the Terraform graph. Its input is the role ARN,
 * so that replacing the role registers again; `register` is idempotent (it never creates a
 * second connector) and retries while IAM propagates the new role.
 */
function registrationStep(role: DeepSecurityCrossAccountRole, options: RegistrationOptions, after: ITerraformDependable[]): DataResource {
  const run = options.command ?? "npx --no-install ds-onboard";
  const environment = options.managerUrl ? { DS_MANAGER_URL: options.managerUrl } : undefined;
  const name = options.displayName ? ` --display-name ${shellQuote(options.displayName)}` : "";
  const provisioners: LocalExecProvisioner[] = [
    { type: "local-exec", command: `${run} register --role-arn ${role.role.arn}${name}`, environment },
  ];
  if (options.onDestroy === "deregister") {
    // Destroy-time provisioners may refer only to self.
    provisioners.push({
      type: "local-exec",
      when: "destroy",
      command: `${run} deregister --role-arn \${self.input.role_arn}`,
      environment,
    });
  }
  return new DataResource(role, "registration", {
    input: { role_arn: role.role.arn },
    triggersReplace: { role_arn: role.role.arn },
    dependsOn: after,
    provisioners,
  });
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * External IDs given as tokens are unknown until plan: let Terraform check them there, before
 * anything is created, with the same rules the construct applies to literals.
 */
function tokenPreconditions(plan: RolePlan): Precondition[] {
  const conditions: Precondition[] = plan.tokenExternalIds.map((id) => ({
    // RE2 (Terraform's regex) refuses {2,1224}: the characters by regex, the length apart.
    condition: Op.and(
      Fn.can(Fn.regex(EXTERNAL_ID_CHARSET_SOURCE, id)),
      Op.and(Op.gte(Fn.lengthOf(id), EXTERNAL_ID_LENGTH.min), Op.lte(Fn.lengthOf(id), EXTERNAL_ID_LENGTH.max)),
    ),
    errorMessage:
      "The Deep Security external ID must be 2 to 1,224 characters of letters, digits and +=,.@:/_- (check the variable or data source it comes from).",
  }));
  // Each ID counts as often as the document holds it (the Deny guard repeats it).
  const tokenLength = plan.tokenExternalIds
    .map((id, i) => (plan.tokenExternalIdCounts[i] === 1 ? Fn.lengthOf(id) : Op.mul(Fn.lengthOf(id), plan.tokenExternalIdCounts[i])))
    .reduce((a, b) => Op.add(a, b));
  conditions.push({
    condition: Op.lte(Op.add(tokenLength, plan.trustPolicyBaseSize), plan.trustPolicySizeLimit),
    errorMessage: `The trust policy would exceed the account's quota of ${plan.trustPolicySizeLimit} characters; use shorter external IDs or raise trustPolicySizeLimit.`,
  });
  return conditions;
}
