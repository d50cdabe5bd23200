/**
 * AWS Organizations discovery: read the organization's tree (I/O), then decide which accounts
 * to onboard and why (pure), so that `synth --list-accounts` can show every decision.
 */
import type { OrganizationsClient } from "@aws-sdk/client-organizations";
import { UserError } from "../errors";
import { mapLimit } from "../onboard/pool";

/** Parents (the root and OUs) read at once during discovery. */
const DISCOVERY_CONCURRENCY = 4;

export interface OrgAccount {
  readonly id: string;
  readonly name: string;
  /** ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED... (State, or the older Status). */
  readonly state: string;
  readonly parentId: string;
}

export interface OrgTree {
  readonly managementAccountId?: string;
  readonly rootId: string;
  /** OU (and root) ID → name and parent. */
  readonly units: ReadonlyMap<string, { readonly name: string; readonly parentId?: string }>;
  readonly accounts: readonly OrgAccount[];
  /** API calls made to read it. */
  readonly calls: number;
}

export interface DiscoveryOptions {
  readonly includeOus?: readonly string[];
  readonly excludeOus?: readonly string[];
  readonly excludeAccounts?: readonly string[];
  /** Default: true. */
  readonly skipSuspended?: boolean;
  /** Default: false. */
  readonly includeManagementAccount?: boolean;
}

export interface AccountDecision {
  readonly accountId: string;
  readonly name: string;
  /** e.g. `Root/Workloads/Prod`. */
  readonly ouPath: string;
  readonly included: boolean;
  readonly reason: string;
}

/** Reads the whole tree, following every page. The caller's SDK client retries throttling (ds-onboard: standard mode, 10 attempts). */
export async function readOrganization(client: OrganizationsClient): Promise<OrgTree> {
  const sdk = require("@aws-sdk/client-organizations") as typeof import("@aws-sdk/client-organizations");
  let calls = 0;
  const send = async <T>(command: unknown): Promise<T> => {
    calls++;
    try {
      return (await client.send(command as never)) as T;
    } catch (error) {
      throw organizationsError(error);
    }
  };
  const org = await send<{ Organization?: { MasterAccountId?: string } }>(new sdk.DescribeOrganizationCommand({}));
  const roots = await send<{ Roots?: { Id?: string; Name?: string }[] }>(new sdk.ListRootsCommand({}));
  const root = roots.Roots?.[0];
  if (!root?.Id) throw new UserError("AWS Organizations returned no root; is this account part of an organization?");
  const units = new Map<string, { name: string; parentId?: string }>([[root.Id, { name: root.Name ?? "Root" }]]);
  const accounts: OrgAccount[] = [];
  /** Every page of one parent's OUs and of its accounts. */
  const readParent = async (parentId: string) => {
    const ous: { id: string; name: string }[] = [];
    const found: OrgAccount[] = [];
    let token: string | undefined;
    do {
      const page = await send<{ OrganizationalUnits?: { Id?: string; Name?: string }[]; NextToken?: string }>(
        new sdk.ListOrganizationalUnitsForParentCommand({ ParentId: parentId, NextToken: token }),
      );
      for (const ou of page.OrganizationalUnits ?? []) if (ou.Id) ous.push({ id: ou.Id, name: ou.Name ?? ou.Id });
      token = page.NextToken;
    } while (token);
    do {
      const page = await send<{ Accounts?: { Id?: string; Name?: string; Status?: string; State?: string }[]; NextToken?: string }>(
        new sdk.ListAccountsForParentCommand({ ParentId: parentId, NextToken: token }),
      );
      for (const a of page.Accounts ?? []) {
        if (a.Id) found.push({ id: a.Id, name: a.Name ?? a.Id, state: a.State ?? a.Status ?? "ACTIVE", parentId });
      }
      token = page.NextToken;
    } while (token);
    return { ous, accounts: found };
  };
  // Level by level, a few parents at a time (Organizations throttles early; the SDK retries),
  // collected in order: the same tree, in the same order, as one parent after another.
  for (let level = [root.Id]; level.length > 0; ) {
    const parents = level;
    const read = await mapLimit(parents, DISCOVERY_CONCURRENCY, readParent);
    level = [];
    read.forEach(({ ous, accounts: found }, i) => {
      for (const ou of ous) {
        units.set(ou.id, { name: ou.name, parentId: parents[i] });
        level.push(ou.id);
      }
      accounts.push(...found);
    });
  }
  return { managementAccountId: org.Organization?.MasterAccountId, rootId: root.Id, units, accounts, calls };
}

/** Decides, for every account in the tree, whether to onboard it and why. */
export function selectAccounts(tree: OrgTree, options: DiscoveryOptions): AccountDecision[] {
  const include = options.includeOus?.length ? new Set(options.includeOus) : undefined;
  const exclude = new Set(options.excludeOus ?? []);
  const excludedAccounts = new Set(options.excludeAccounts ?? []);
  const skipSuspended = options.skipSuspended ?? true;

  const ancestors = (unitId: string): string[] => {
    const chain: string[] = [];
    for (let id: string | undefined = unitId; id; id = tree.units.get(id)?.parentId) chain.unshift(id);
    return chain;
  };
  const nameOf = (id: string) => tree.units.get(id)?.name ?? id;

  return tree.accounts
    .map((a): AccountDecision => {
      const chain = ancestors(a.parentId);
      const ouPath = chain.map(nameOf).join("/");
      const decide = (included: boolean, reason: string): AccountDecision => ({ accountId: a.id, name: a.name, ouPath, included, reason });
      if (excludedAccounts.has(a.id)) return decide(false, "listed in excludeAccounts");
      const excludedBy = chain.find((id) => exclude.has(id));
      if (excludedBy) return decide(false, `under excluded OU ${nameOf(excludedBy)} (${excludedBy})`);
      const includedBy = include ? chain.find((id) => include.has(id)) : tree.rootId;
      if (!includedBy) return decide(false, "not under any OU in includeOus");
      if (skipSuspended && a.state !== "ACTIVE") return decide(false, `account is ${a.state.toLowerCase().replace(/_/g, " ")}`);
      if (a.id === tree.managementAccountId && !options.includeManagementAccount) {
        return decide(false, "the organization's management account (set includeManagementAccount: true to include it)");
      }
      const why = includedBy === tree.rootId && !include ? "in the organization" : `under ${nameOf(includedBy)} (${includedBy})`;
      return decide(true, a.id === tree.managementAccountId ? `${why}; management account included on request` : why);
    })
    .sort((x, y) => x.ouPath.localeCompare(y.ouPath) || x.accountId.localeCompare(y.accountId));
}

/** Checks that every OU named in the options exists in the tree. */
export function unknownUnits(tree: OrgTree, options: DiscoveryOptions): string[] {
  return [...(options.includeOus ?? []), ...(options.excludeOus ?? [])].filter((id) => !tree.units.has(id));
}

function organizationsError(error: unknown): UserError {
  const name = (error as { name?: string }).name ?? "Error";
  const message = (error as Error).message ?? String(error);
  if (name === "AWSOrganizationsNotInUseException")
    return new UserError(
      "This AWS account is not in an organization; list the accounts in the config instead of using organizations.",
      undefined,
      { cause: error },
    );
  if (name === "AccessDeniedException") {
    return new UserError(
      `AWS Organizations refused the call (${message}). Run discovery with credentials of the management account or a delegated administrator, with organizations:ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent and DescribeOrganization.`,
      undefined,
      { cause: error },
    );
  }
  return new UserError(`AWS Organizations discovery failed: ${name}: ${message}`, undefined, { cause: error });
}
