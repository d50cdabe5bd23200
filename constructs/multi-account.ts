import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { type App, TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";
import { type AccountTarget, planAccounts } from "../src/policy/accounts";
import type { RoleOptions } from "../src/policy/role";
import { addBackend, type StateBackend } from "./backend";
import { DeepSecurityCrossAccountRole, type RegistrationOptions } from "./cross-account-role";
import { checkProviderVersion, pinProviderSource } from "./provider-source";

export type { AccountTarget } from "../src/policy/accounts";

/** Props of {@link DeepSecurityAccountRoles}. Optional ones state their `@default`. */
export interface DeepSecurityAccountRolesProps extends RoleOptions {
  /** The accounts to create the role in. */
  readonly accounts: readonly AccountTarget[];
  /**
   * The role Terraform assumes in each account.
   * @default `"OrganizationAccountAccessRole"`
   */
  readonly deploymentRoleName?: string;
  /**
   * The region of each account's provider.
   * @default `"us-east-1"`
   */
  readonly region?: string;
  /**
   * Add per-account outputs with the role ARN and name.
   * @default true
   */
  readonly outputs?: boolean;
  /**
   * Register each account during `cdktf deploy` (display name: the account's).
   * @default not registered
   */
  readonly registration?: RegistrationOptions;
  /**
   * The Terraform version constraint written for the `hashicorp/aws` provider of each stack
   * (`terraform.required_providers.aws.version`), e.g. `"~> 6.0"` to allow 6.x only.
   *
   * @default AWS_PROVIDER_VERSION_RANGE (">= 5.100.0, < 7.0.0")
   */
  readonly providerVersion?: string;
  /**
   * Accounts that left (removed from the config, or no longer found in the organization) whose
   * roles may still be deployed: each keeps its AWS provider, without resources, so that the
   * next plan works and the apply destroys what is left of it. Drop an account from this list
   * once its resources are gone from the state.
   * @default none
   */
  readonly retiredAccounts?: readonly AccountTarget[];
}

/** The aliased AWS provider of one account: it assumes the account's deployment role, and only that account. */
export function accountProvider(scope: Construct, target: { accountId: string; region: string; deploymentRoleArn: string }): AwsProvider {
  return new AwsProvider(scope, `aws-${target.accountId}`, {
    alias: `account_${target.accountId}`,
    region: target.region,
    allowedAccountIds: [target.accountId],
    assumeRole: [{ roleArn: target.deploymentRoleArn, sessionName: "ds-onboard" }],
  });
}

/** The deployment role and region of accounts, with the collection's defaults (for retired accounts). */
function retiredTargets(props: DeepSecurityAccountRolesProps) {
  return (props.retiredAccounts ?? []).map((a) => {
    const plan = planAccounts({ ...props, accounts: [a] }, (v) => Token.isUnresolved(v));
    return plan.accounts[0];
  });
}

/**
 * The cross-account role in many accounts, from one external ID: each account gets an aliased
 * AWS provider that assumes a deployment role there (`OrganizationAccountAccessRole` unless
 * overridden), restricted by `allowed_account_ids` to that account.
 */
export class DeepSecurityAccountRoles extends Construct {
  /** The role constructs, keyed by account ID. */
  readonly roles: ReadonlyMap<string, DeepSecurityCrossAccountRole>;

  constructor(scope: Construct, id: string, props: DeepSecurityAccountRolesProps) {
    super(scope, id);
    const plan = planAccounts(props, (v) => Token.isUnresolved(v));
    const roles = new Map<string, DeepSecurityCrossAccountRole>();
    for (const target of plan.accounts) {
      const provider = accountProvider(this, target);
      roles.set(
        target.accountId,
        new DeepSecurityCrossAccountRole(this, `account-${target.accountId}`, {
          ...props,
          provider,
          plan: target.role, // the account's own external IDs, if it has them
          registration: props.registration && { ...props.registration, displayName: props.registration.displayName ?? target.displayName },
        }),
      );
    }
    this.roles = roles;
    for (const retired of retiredTargets(props)) {
      if (!roles.has(retired.accountId)) accountProvider(this, retired);
    }
  }
}

/** The provider of each retired account, alone in the stack (stack-per-account): its apply destroys the rest. */
export class RetiredAccountProvider extends Construct {
  constructor(scope: Construct, id: string, props: DeepSecurityAccountRolesProps & { account: AccountTarget }) {
    super(scope, id);
    const [target] = retiredTargets({ ...props, retiredAccounts: [props.account] });
    accountProvider(this, target);
    pinProviderSource(TerraformStack.of(this), props.providerVersion);
  }
}

/** How {@link addAccountStacks} splits accounts into Terraform stacks. */
export type StackLayout = "single-stack" | "stack-per-account";

export interface AccountStacksProps extends DeepSecurityAccountRolesProps {
  /**
   * - `single-stack`: one stack, one state, one provider per account. One `deploy`, but every
   *   plan refreshes every account and one broken account blocks the whole apply.
   * - `stack-per-account`: one stack and state per account (`cdktf deploy '*'` or a loop).
   *   Small states and a blast radius of one account; external IDs must be literals.
   *
   * @default `"single-stack"`
   */
  readonly layout?: StackLayout;
  /**
   * The stack name (single-stack) or prefix (`<prefix>-<accountId>`).
   * @default `"deep-security-roles"`
   */
  readonly stackName?: string;
  /**
   * Where each stack keeps its state (one file, key or workspace per stack).
   * @default cdktf's local backend in the stack's folder
   */
  readonly backend?: StateBackend;
}

/** Adds the stacks that create the role in every account, laid out as asked. Returns the stacks. */
export function addAccountStacks(app: App, props: AccountStacksProps): TerraformStack[] {
  const name = props.stackName ?? "deep-security-roles";
  if (props.providerVersion !== undefined) checkProviderVersion(props.providerVersion);
  const withBackend = (stack: TerraformStack) => {
    if (props.backend) addBackend(stack, props.backend, { region: props.region });
    return stack;
  };
  if ((props.layout ?? "single-stack") === "single-stack") {
    const stack = new TerraformStack(app, name);
    new DeepSecurityAccountRoles(stack, "accounts", props);
    return [withBackend(stack)];
  }
  // Validate everything once, with account paths, before creating any stack.
  planAccounts(props, (v) => Token.isUnresolved(v), { literalExternalIds: true });
  const current = new Set(props.accounts.map((a) => a.accountId));
  return [
    ...props.accounts.map((account) => {
      const stack = new TerraformStack(app, `${name}-${account.accountId}`);
      new DeepSecurityAccountRoles(stack, "accounts", { ...props, accounts: [account], retiredAccounts: [] });
      return withBackend(stack);
    }),
    // A retired account's stack keeps its name and state, with only its provider: apply destroys the rest.
    ...(props.retiredAccounts ?? [])
      .filter((a) => !current.has(a.accountId))
      .map((account) => {
        const stack = new TerraformStack(app, `${name}-${account.accountId}`);
        new RetiredAccountProvider(stack, "accounts", { ...props, account });
        return withBackend(stack);
      }),
  ];
}
