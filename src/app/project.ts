/**
 * A project: the accounts and roles a run acts on, with their role options and the tenant's
 * external ID. Opened from an onboarding config (accounts listed and discovered, role options,
 * principal, manager settings as defaults) or from role ARNs and options. Every workflow takes
 * one, so that a config is read, discovered and resolved once, the same way for every command.
 */
import { resolve } from "node:path";
import type { AccountDecision, OrgTree } from "../aws/organizations";
import { type LoadedConfig, loadConfig } from "../config/load";
import type { OnboardingConfig } from "../config/schema";
import { UsageError, UserError } from "../errors";
import { type ResolvedExternalId, resolveExternalId } from "../external-id/resolve";
import { isProblem, parseExternalIdSource } from "../external-id/source";
import type { RoleTarget } from "../onboard/targets";
import { type AccountTarget, DEFAULT_DEPLOYMENT_ROLE_NAME, deploymentRoleArn } from "../policy/accounts";
import { type ManagerPrincipal, principalArn } from "../policy/principal";
import { DEFAULT_ROLE_NAME, type RoleOptions } from "../policy/role";
import { checkUnitId, isSelected, isWholeProject, type Selection } from "../policy/selection";
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

export interface ConfigProjectOptions {
  /** The accounts this run acts on: a shard and/or OUs. @default every account */
  readonly selection?: Selection;
}

/** Where the accounts of a config project come from, beyond the selected ones. */
export interface ProjectScope {
  /** The selection applied. */
  readonly selection: Selection;
  /** Every account of the config (listed and discovered), selected or not. */
  readonly allAccounts: readonly AccountTarget[];
  /** The organization, when it was read (discovery, or an OU selection). */
  readonly organization?: OrgTree;
}

export class Project {
  private resolvedId?: Promise<ResolvedExternalId>;
  private targetCache?: readonly RoleTarget[];

  private constructor(
    readonly session: Session,
    /** The config, for a project opened from one. */
    readonly config: LoadedConfig | undefined,
    /** The accounts this run acts on: listed, then discovered; only the selected ones. */
    readonly accounts: readonly AccountTarget[],
    /** The role options applied to every account. */
    readonly role: ProjectRoleOptions,
    /** The ARN the roles must trust. */
    readonly principalArn: string,
    /** Organizations decisions, when discovery ran. */
    readonly discovery: readonly AccountDecision[] | undefined,
    /** The selection and what lies around it (a config project). */
    readonly scope: ProjectScope,
    private readonly arnTargets?: readonly RoleTarget[],
  ) {}

  /**
   * Opens a project from an onboarding config: reads and checks it, applies its manager settings
   * as the session's defaults, and discovers accounts in AWS Organizations when it says so.
   */
  static async fromConfig(session: Session, configPath: string, options: ConfigProjectOptions = {}): Promise<Project> {
    const selection = options.selection ?? {};
    for (const ou of selection.ous ?? []) {
      const problem = checkUnitId(ou);
      if (problem) throw new UsageError(`OU selection: ${problem}.`);
    }
    const loaded = loadConfig(configPath);
    applyConfigDefaults(session, loaded);
    const { accounts: all, discovery, organization } = await collectAccounts(loaded.config, session, selection.ous ?? []);
    const accounts = isWholeProject(selection)
      ? all
      : all.filter((a) => isSelected(selection, a.accountId, unitsOf(organization, a.accountId)));
    const role = loaded.config.role ?? {};
    const principal = configPrincipal(loaded.config);
    return new Project(session, loaded, accounts, { ...role, principal }, principalArnOf(principal, role.partition ?? "aws"), discovery, {
      selection,
      allAccounts: all,
      organization,
    });
  }

  /**
   * Whether an account is this run's to act on: in its shard and OUs. An account outside the
   * organization (left it, or never in it) is outside any OU selection.
   */
  selects(accountId: string): boolean {
    return isSelected(this.scope.selection, accountId, unitsOf(this.scope.organization, accountId));
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
    const scope = { selection: {}, allAccounts: accounts };
    return new Project(session, undefined, accounts, role, principalArnOf(principal, partition), undefined, scope, targets);
  }

  /** The deployed roles to verify and register, one per account. */
  get targets(): readonly RoleTarget[] {
    if (this.arnTargets) return this.arnTargets;
    if (!this.targetCache) {
      // A shard or OU selection may hold no account: nothing to do. A whole project must name some.
      if (this.accounts.length === 0 && isWholeProject(this.scope.selection))
        throw new UsageError(`${this.config?.path ?? "The project"} names no accounts.`);
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

/** An account's root and OU IDs in the organization, root first; undefined when it is not in it. */
function unitsOf(tree: OrgTree | undefined, accountId: string): string[] | undefined {
  if (!tree) return undefined;
  let parents = parentIndex.get(tree);
  if (!parents) {
    parents = new Map(tree.accounts.map((a) => [a.id, a.parentId]));
    parentIndex.set(tree, parents);
  }
  const parentId = parents.get(accountId);
  if (parentId === undefined) return undefined;
  const chain: string[] = [];
  for (let id: string | undefined = parentId; id; id = tree.units.get(id)?.parentId) chain.unshift(id);
  return chain;
}
const parentIndex = new WeakMap<OrgTree, Map<string, string>>();

/**
 * The config's accounts, then those discovered in AWS Organizations (when the config asks). The
 * organization is also read for an OU selection, to place the listed accounts.
 */
async function collectAccounts(
  config: OnboardingConfig,
  session: Session,
  selectedOus: readonly string[],
): Promise<{ accounts: AccountTarget[]; discovery?: AccountDecision[]; organization?: OrgTree }> {
  const listed: AccountTarget[] = [...(config.accounts ?? [])];
  if (!config.organizations && selectedOus.length === 0) return { accounts: listed };
  const orgs = require("../aws/organizations") as typeof import("../aws/organizations");
  const { OrganizationsClient } = require("@aws-sdk/client-organizations") as typeof import("@aws-sdk/client-organizations");
  const client = new OrganizationsClient({ region: "us-east-1", maxAttempts: 10, retryMode: "standard" });
  try {
    const tree = await orgs.readOrganization(client);
    session.log.debug(`organizations: ${tree.accounts.length} accounts in ${tree.units.size} roots and OUs, ${tree.calls} calls`);
    const unknown = orgs.unknownUnits(tree, {
      includeOus: [...(config.organizations?.includeOus ?? []), ...selectedOus],
      excludeOus: config.organizations?.excludeOus,
    });
    if (unknown.length) {
      throw new UserError(
        `${selectedOus.some((u) => unknown.includes(u)) ? "The OU selection" : "organizations"} names OUs that are not in the organization: ${unknown.join(", ")}. Check the IDs (aws organizations list-organizational-units-for-parent).`,
      );
    }
    if (!config.organizations) return { accounts: listed, organization: tree };
    const discovery = orgs.selectAccounts(tree, config.organizations);
    const byId = new Set(listed.map((a) => a.accountId));
    const accounts = [...listed];
    for (const d of discovery) if (d.included && !byId.has(d.accountId)) accounts.push({ accountId: d.accountId, displayName: d.name });
    return { accounts, discovery, organization: tree };
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
