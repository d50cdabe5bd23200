/**
 * A project: the accounts and roles a run acts on, with their role options and the tenant's
 * external ID. Opened from an onboarding config (accounts listed and discovered, role options,
 * principal, manager settings as defaults) or from role ARNs and options. Every workflow takes
 * one, so that a config is read, discovered and resolved once, the same way for every command.
 */
import { resolve } from "node:path";
import type { AccountDecision } from "../aws/organizations";
import { type LoadedConfig, loadConfig } from "../config/load";
import type { OnboardingConfig } from "../config/schema";
import { UsageError, UserError } from "../errors";
import { type ResolvedExternalId, resolveExternalId } from "../external-id/resolve";
import { isProblem, parseExternalIdSource } from "../external-id/source";
import type { RoleTarget } from "../onboard/targets";
import { type AccountTarget, DEFAULT_DEPLOYMENT_ROLE_NAME, deploymentRoleArn } from "../policy/accounts";
import { type ManagerPrincipal, principalArn } from "../policy/principal";
import { DEFAULT_ROLE_NAME, type RoleOptions } from "../policy/role";
import { checkIamArn, type Partition, parseIamArn } from "../validation";
import type { Session } from "./session";

export type { RoleTarget };

/** The role options a project applies to every account (the external IDs come from the tenant). */
export type ProjectRoleOptions = Omit<RoleOptions, "externalIds">;

export interface RoleArnProjectOptions {
  /** The deployed roles; the account is the one in each ARN. */
  readonly roleArns: readonly string[];
  /** Whom the roles trust. @default Workload Security */
  readonly principal?: ManagerPrincipal;
  /** The role to assume in each account to read its IAM. @default none (the caller's own credentials) */
  readonly deploymentRoleName?: string;
  /** Connector display names, in the order of `roleArns`. @default the account IDs */
  readonly displayNames?: readonly string[];
  /** Role options the roles were made with (e.g. `includeWorkspaces`). @default the role defaults */
  readonly role?: ProjectRoleOptions;
  /** How messages name the role ARNs' input. @default "role ARN" */
  readonly origin?: string;
}

export class Project {
  private resolvedId?: Promise<ResolvedExternalId>;
  private targetCache?: readonly RoleTarget[];

  private constructor(
    readonly session: Session,
    /** The config, for a project opened from one. */
    readonly config: LoadedConfig | undefined,
    /** The accounts: listed, then discovered. */
    readonly accounts: readonly AccountTarget[],
    /** The role options applied to every account. */
    readonly role: ProjectRoleOptions,
    /** The ARN the roles must trust. */
    readonly principalArn: string,
    /** Organizations decisions, when discovery ran. */
    readonly discovery: readonly AccountDecision[] | undefined,
    private readonly arnTargets?: readonly RoleTarget[],
  ) {}

  /**
   * Opens a project from an onboarding config: reads and checks it, applies its manager settings
   * as the session's defaults, and discovers accounts in AWS Organizations when it says so.
   */
  static async fromConfig(session: Session, configPath: string): Promise<Project> {
    const loaded = loadConfig(configPath);
    applyConfigDefaults(session, loaded);
    const { accounts, discovery } = await collectAccounts(loaded.config, session);
    const role = loaded.config.role ?? {};
    const principal = configPrincipal(loaded.config);
    return new Project(session, loaded, accounts, { ...role, principal }, principalArnOf(principal, role.partition ?? "aws"), discovery);
  }

  /** Opens a project from deployed roles, given by ARN. */
  static fromRoleArns(session: Session, options: RoleArnProjectOptions): Project {
    if (options.roleArns.length === 0) throw new UsageError("No roles given.");
    if (options.displayNames && options.displayNames.length > options.roleArns.length) {
      throw new UsageError(
        `${options.displayNames.length} display names for ${options.roleArns.length} role(s): give at most one name per role, in the same order.`,
      );
    }
    const seen = new Set<string>();
    const targets = options.roleArns.map((arn, i): RoleTarget => {
      const problem = checkIamArn(arn, ["role"]);
      if (problem) throw new UsageError(`${options.origin ?? "role ARN"} ${arn}: ${problem.problem}. ${problem.fix}.`);
      const parsed = parseIamArn(arn)!;
      if (seen.has(parsed.accountId)) throw new UsageError(`account ${parsed.accountId} is given twice; one role per account.`);
      seen.add(parsed.accountId);
      const name = options.displayNames?.[i];
      if (name !== undefined && (name.trim() === "" || /\p{Cc}/u.test(name))) {
        throw new UsageError(`display name ${i + 1} (${JSON.stringify(name)}) is empty or holds control characters; use printable text.`);
      }
      return {
        accountId: parsed.accountId,
        roleArn: arn,
        displayName: name ?? parsed.accountId,
        deploymentRoleArn: options.deploymentRoleName
          ? deploymentRoleArn(parsed.partition, parsed.accountId, options.deploymentRoleName)
          : undefined,
      };
    });
    const partition = parseIamArn(options.roleArns[0])?.partition ?? "aws";
    const principal = options.principal ?? { type: "workload-security" };
    const accounts = targets.map((t) => ({ accountId: t.accountId, displayName: t.displayName }));
    const role = { ...options.role, principal, partition };
    return new Project(session, undefined, accounts, role, principalArnOf(principal, partition), undefined, targets);
  }

  /** The deployed roles to verify and register, one per account. */
  get targets(): readonly RoleTarget[] {
    if (this.arnTargets) return this.arnTargets;
    if (!this.targetCache) {
      if (this.accounts.length === 0) throw new UsageError(`${this.config?.path ?? "The project"} names no accounts.`);
      this.targetCache = configTargets(this.config!.config, this.accounts);
    }
    return this.targetCache;
  }

  /** Whether the roles grant the WorkSpaces actions (and so connectors enable WorkSpaces). */
  get includeWorkspaces(): boolean {
    return this.role.includeWorkspaces ?? true;
  }

  /**
   * The tenant's external ID, resolved once: the session's explicit ID, then its stored copy, then
   * the config's `externalId` (when there is a config), then the manager.
   */
  externalId(): Promise<ResolvedExternalId> {
    this.resolvedId ??= this.resolveExternalId().then((resolved) => {
      this.session.log.addSecret(resolved.externalId);
      return resolved;
    });
    return this.resolvedId;
  }

  private resolveExternalId(): Promise<ResolvedExternalId> {
    const sources = this.session.externalIdSources();
    const loaded = this.config;
    if (!loaded || sources.explicit || sources.from) return resolveExternalId(sources);
    const text = loaded.config.externalId ?? "manager";
    const source = parseExternalIdSource(text);
    if (isProblem(source)) throw new UsageError(`externalId in ${loaded.path} ${source.problem}. ${source.fix}.`);
    const origin = `externalId in ${loaded.path}`;
    switch (source.kind) {
      case "manager":
        return resolveExternalId(sources);
      case "literal":
        return resolveExternalId({ explicit: { value: source.value, origin } });
      case "file":
        return resolveExternalId({ from: { location: `file:${resolve(loaded.dir, source.path)}`, origin } });
      default:
        return resolveExternalId({ from: { location: text, origin } });
    }
  }
}

/** Config values are the lowest priority: flags, then the environment, then the config. */
function applyConfigDefaults(session: Session, loaded: LoadedConfig): void {
  const m = loaded.config.manager;
  if (!m) return;
  const origin = (key: string) => `manager.${key} in ${loaded.path}`;
  const auth = m.auth ?? (m.product === "deep-security-manager" ? "api-secret-key" : undefined);
  session.useDefaults({
    managerUrl: m.url ? { value: m.url, origin: origin("url") } : undefined,
    auth: auth ? { value: auth, origin: m.auth ? origin("auth") : origin("product") } : undefined,
    caBundle: m.caBundle ? { value: resolve(loaded.dir, m.caBundle), origin: origin("caBundle") } : undefined,
  });
}

/** The config's accounts, then those discovered in AWS Organizations (when the config asks). */
async function collectAccounts(
  config: OnboardingConfig,
  session: Session,
): Promise<{ accounts: AccountTarget[]; discovery?: AccountDecision[] }> {
  const listed: AccountTarget[] = [...(config.accounts ?? [])];
  if (!config.organizations) return { accounts: listed };
  const orgs = require("../aws/organizations") as typeof import("../aws/organizations");
  const { OrganizationsClient } = require("@aws-sdk/client-organizations") as typeof import("@aws-sdk/client-organizations");
  const client = new OrganizationsClient({ region: "us-east-1", maxAttempts: 10, retryMode: "standard" });
  try {
    const tree = await orgs.readOrganization(client);
    session.log.debug(`organizations: ${tree.accounts.length} accounts in ${tree.units.size} roots and OUs, ${tree.calls} calls`);
    const unknown = orgs.unknownUnits(tree, config.organizations);
    if (unknown.length) {
      throw new UserError(
        `organizations names OUs that are not in the organization: ${unknown.join(", ")}. Check the IDs (aws organizations list-organizational-units-for-parent).`,
      );
    }
    const discovery = orgs.selectAccounts(tree, config.organizations);
    const byId = new Set(listed.map((a) => a.accountId));
    const accounts = [...listed];
    for (const d of discovery) if (d.included && !byId.has(d.accountId)) accounts.push({ accountId: d.accountId, displayName: d.name });
    return { accounts, discovery };
  } finally {
    client.destroy();
  }
}

function configPrincipal(config: OnboardingConfig): ManagerPrincipal {
  return (config.manager?.principal as ManagerPrincipal | undefined) ?? { type: "workload-security" };
}

function configTargets(config: OnboardingConfig, accounts: readonly AccountTarget[]): RoleTarget[] {
  const partition: Partition = config.role?.partition ?? "aws";
  if (config.role?.roleNamePrefix) {
    throw new UsageError(
      "role.roleNamePrefix gives each role a generated name that the config cannot tell; name the roles by ARN instead (the role_arn outputs of the stacks).",
    );
  }
  const name = config.role?.roleName ?? DEFAULT_ROLE_NAME;
  const path = config.role?.path ?? "/";
  const defaultDeployment = config.deployment?.deploymentRoleName ?? DEFAULT_DEPLOYMENT_ROLE_NAME;
  return accounts.map((a) => ({
    accountId: a.accountId,
    roleArn: `arn:${partition}:iam::${a.accountId}:role${path}${name}`,
    displayName: a.displayName ?? a.accountId,
    deploymentRoleArn: a.deploymentRoleArn ?? deploymentRoleArn(partition, a.accountId, a.deploymentRoleName ?? defaultDeployment),
  }));
}

function principalArnOf(principal: ManagerPrincipal, partition: Partition): string {
  const resolved = principalArn(principal, partition);
  if ("problem" in resolved) throw new UsageError(`principal: ${resolved.problem}. ${resolved.fix}.`);
  return resolved.arn;
}
