/**
 * The manager's view: every AWS connector, with its account, role, last synchronization and
 * state, and whether a known account (the project's, listed or discovered) owns it.
 */

import type { Project } from "../app/project";
import type { Session } from "../app/session";
import { DEFAULT_MAX_SYNC_AGE_MS, type SyncState, syncState } from "../onboard/sync";

export type ConnectorState = SyncState;

export interface ConnectorRow {
  readonly id: number;
  readonly accountId?: string;
  readonly displayName?: string;
  readonly roleArn?: string;
  /** ISO time of the last synchronization. */
  readonly lastSyncTime?: string;
  readonly syncedRegions: readonly string[];
  readonly computers: number;
  readonly workspacesEnabled?: boolean;
  readonly state: ConnectorState;
  /** Known only with a project: whether one of its accounts owns the connector. */
  readonly owned?: boolean;
  /** Other connectors of the same account (duplicates or other roles). */
  readonly sameAccount: readonly number[];
}

export interface StatusReport {
  readonly connectors: readonly ConnectorRow[];
  /** With a project: connectors no known account owns. */
  readonly unowned?: readonly number[];
  /** With a project: its accounts without any connector. */
  readonly withoutConnector?: readonly string[];
}

export interface StatusOptions {
  /** The accounts that own connectors: every account of the project (all shards). @default ownership not judged */
  readonly project?: Project;
  /** A connector not synchronized for longer is stale. @default 24 hours */
  readonly maxSyncAgeMs?: number;
  readonly now?: number;
}

export async function managerStatus(session: Session, options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? Date.now();
  const maxAge = options.maxSyncAgeMs ?? DEFAULT_MAX_SYNC_AGE_MS;
  const connectors = (await session.manager().listConnectors()).sort((a, b) => (a.ID ?? 0) - (b.ID ?? 0));
  const byAccount = new Map<string, number[]>();
  for (const c of connectors) if (c.accountId !== undefined) byAccount.set(c.accountId, [...(byAccount.get(c.accountId) ?? []), c.ID ?? 0]);
  const known = options.project ? new Set(options.project.scope.allAccounts.map((a) => a.accountId)) : undefined;
  const rows = connectors.map((c): ConnectorRow => {
    const synced = c.lastSyncTime;
    return {
      id: c.ID ?? 0,
      accountId: c.accountId,
      displayName: c.displayName,
      roleArn: c.crossAccountRoleArn,
      ...(synced !== undefined ? { lastSyncTime: new Date(synced).toISOString() } : {}),
      syncedRegions: (c.syncedRegions ?? []).map((r) => r.region ?? "?"),
      computers: (c.syncedRegions ?? []).reduce((n, r) => n + (r.computersSynced ?? 0), 0),
      workspacesEnabled: c.workspacesEnabled,
      state: syncState(c, now, maxAge).state,
      ...(known ? { owned: c.accountId !== undefined && known.has(c.accountId) } : {}),
      sameAccount: (c.accountId === undefined ? [] : (byAccount.get(c.accountId) ?? [])).filter((id) => id !== c.ID),
    };
  });
  if (!known) return { connectors: rows };
  const withConnector = new Set(rows.map((r) => r.accountId));
  return {
    connectors: rows,
    unowned: rows.filter((r) => !r.owned).map((r) => r.id),
    withoutConnector: [...known].filter((a) => !withConnector.has(a)),
  };
}
