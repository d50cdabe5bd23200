import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, type AppConfig, TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";
import { type AccountsPlan, type AccountTarget, type PlannedAccount, planAccounts } from "../src/policy/accounts";
import type { RoleOptions } from "../src/policy/role";
import { ValidationError } from "../src/validation";
import { addBackend, checkBackend, type StateBackend } from "./backend";
import { synthesizeInBatches } from "./batch-synthesis";
import { DeepSecurityCrossAccountRole, type RegistrationOptions } from "./cross-account-role";
import { checkProviderVersion, pinProviderSource } from "./provider-source";

export type { AccountTarget } from "../src/policy/accounts";

/** Props of {@link DeepSecurityAccountRoles}. Optional ones state their `@default`. */
export interface DeepSecurityAccountRolesProps extends RoleOptions {
  /** The accounts to create the role in; empty only when `retiredAccounts` has some (all left). */
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

/**
 * Plans already made for the props of a {@link DeepSecurityAccountRoles} (by the stack-per-account
 * layout, which validates every account once before building any stack).
 */
const planned = new WeakMap<DeepSecurityAccountRolesProps, AccountsPlan>();

/**
 * No current account, only retired ones (every account of a shard left): a valid state, whose
 * stacks hold only the retired accounts' providers until an apply destroys what is left.
 */
function onlyRetired(props: DeepSecurityAccountRolesProps): boolean {
  return props.accounts.length === 0 && (props.retiredAccounts?.length ?? 0) > 0;
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
    const plan = planned.get(props) ?? (onlyRetired(props) ? undefined : planAccounts(props, (v) => Token.isUnresolved(v)));
    const roles = new Map<string, DeepSecurityCrossAccountRole>();
    for (const target of plan?.accounts ?? []) {
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
  const plan = onlyRetired(props) ? undefined : planAccounts(props, (v) => Token.isUnresolved(v), { literalExternalIds: true });
  const current = new Set(props.accounts.map((a) => a.accountId));
  return [
    ...(plan?.accounts ?? []).map((account, i) =>
      accountStack(app, name, props, props.accounts[i], { role: plan!.role, accounts: [account] }),
    ),
    // A retired account's stack keeps its name and state, with only its provider: apply destroys the rest.
    ...(props.retiredAccounts ?? []).filter((a) => !current.has(a.accountId)).map((account) => retiredStack(app, name, props, account)),
  ];
}

/** One account's stack (stack-per-account), from its validated plan. */
function accountStack(app: App, name: string, props: AccountStacksProps, account: AccountTarget, plan: AccountsPlan): TerraformStack {
  const stack = new TerraformStack(app, `${name}-${account.accountId}`);
  const rolesProps: DeepSecurityAccountRolesProps = { ...props, accounts: [account], retiredAccounts: [] };
  planned.set(rolesProps, plan);
  new DeepSecurityAccountRoles(stack, "accounts", rolesProps);
  if (props.backend) addBackend(stack, props.backend, { region: props.region });
  return stack;
}

/** A retired account's stack (stack-per-account): its provider alone. */
function retiredStack(app: App, name: string, props: AccountStacksProps, account: AccountTarget): TerraformStack {
  const stack = new TerraformStack(app, `${name}-${account.accountId}`);
  new RetiredAccountProvider(stack, "accounts", { ...props, account });
  if (props.backend) addBackend(stack, props.backend, { region: props.region });
  return stack;
}

/** Props of {@link synthesizeAccountStacks}. Optional ones state their `@default`. */
export interface SynthesizeAccountStacksProps extends AccountStacksProps {
  /** The output folder (cdktf's `outdir`; `cdktf synth` and `deploy` set `CDKTF_OUTDIR`). */
  readonly outdir: string;
  /**
   * Stacks built and written per `App` (stack-per-account): memory grows with it, not with the
   * number of accounts.
   * @default 100
   */
  readonly batchSize?: number;
  /** The rest of each `App`'s configuration (`context`, `stackTraces`, ...). @default cdktf's defaults */
  readonly app?: Omit<AppConfig, "outdir">;
}

/** What {@link synthesizeAccountStacks} wrote. */
export interface AccountStacksSynthesis {
  /**
   * Every stack written, each in `stacks/<name>/` of the output folder: the accounts' in the
   * order given, then the retired accounts'. Made when read (not kept: one name per account).
   */
  readonly stackNames: readonly string[];
}

/** {@link SynthesizeAccountStacksProps.batchSize}'s default. */
export const DEFAULT_SYNTH_BATCH_SIZE = 100;

/**
 * Builds and writes the stacks of {@link addAccountStacks} into `outdir`, with a peak memory
 * that does not grow with the number of accounts: with one stack per account, the stacks are
 * built and synthesized `batchSize` at a time, each batch in its own `App`, and cdktf's
 * `manifest.json` lists every stack at the end (`cdktf deploy '*'` sees them all). Every
 * account is validated before anything is written. Between batches, V8 collects its garbage
 * in full every 500 stacks (through `--expose-gc`, turned on if Node runs without it), so that
 * the peak does not drift up over a long run. The single-stack layout is one `App`.
 *
 * Use it instead of `new App()`, `addAccountStacks` and `app.synth()` in a `main.ts`. The
 * output folder is its own: another `App` synthesizing into it replaces `manifest.json`.
 */
export function synthesizeAccountStacks(props: SynthesizeAccountStacksProps): AccountStacksSynthesis {
  const { outdir, batchSize = DEFAULT_SYNTH_BATCH_SIZE, app: appConfig, ...stackProps } = props;
  const name = stackProps.stackName ?? "deep-security-roles";
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ValidationError([
      { path: "batchSize", problem: `${String(batchSize)} is not a whole number of at least 1`, fix: "Use e.g. 100" },
    ]);
  }
  if ((stackProps.layout ?? "single-stack") === "single-stack") {
    const app = new App({ ...appConfig, outdir });
    addAccountStacks(app, stackProps);
    app.synth();
    return { stackNames: [name] };
  }
  // Everything is validated before the first file is written: the accounts, the retired ones, the backend.
  if (stackProps.providerVersion !== undefined) checkProviderVersion(stackProps.providerVersion);
  if (stackProps.backend) {
    const issues = checkBackend(stackProps.backend);
    if (issues.length) throw new ValidationError(issues, "Invalid Terraform state backend");
  }
  const isToken = (v: string) => Token.isUnresolved(v);
  if (!onlyRetired(stackProps)) planAccounts(stackProps, isToken, { literalExternalIds: true, validateOnly: true });
  const accounts = stackProps.accounts;
  const current = new Set(accounts.map((a) => a.accountId));
  const retired = (stackProps.retiredAccounts ?? []).filter((a) => !current.has(a.accountId));
  current.clear();
  retiredTargets({ ...stackProps, retiredAccounts: retired });

  // Stacks in name order (one App's manifest order); an item below accounts.length is a current account.
  const idOf = (i: number) => (i < accounts.length ? accounts[i].accountId : retired[i - accounts.length].accountId);
  const order = Uint32Array.from({ length: accounts.length + retired.length }, (_, i) => i).sort((a, b) => {
    const x = idOf(a);
    const y = idOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  synthesizeInBatches({
    outdir,
    count: order.length,
    batchSize,
    app: appConfig,
    build: (app, start, end) => {
      const batch = Array.from(order.subarray(start, end));
      const own = batch.filter((i) => i < accounts.length).map((i) => accounts[i]);
      // Planned again (validated above): the plans of one batch at a time, not of every account.
      const plan = own.length ? planAccounts({ ...stackProps, accounts: own }, isToken) : undefined;
      let next = 0;
      for (const i of batch) {
        if (i < accounts.length) {
          const account: PlannedAccount = plan!.accounts[next++];
          accountStack(app, name, stackProps, accounts[i], { role: plan!.role, accounts: [account] });
        } else retiredStack(app, name, stackProps, retired[i - accounts.length]);
      }
    },
  });
  return {
    get stackNames() {
      return [...accounts, ...retired].map((a) => `${name}-${a.accountId}`);
    },
  };
}
