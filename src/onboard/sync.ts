/**
 * Whether a connector is synchronizing: one rule, used by `status` and by `reconcile`.
 */
import type { AWSConnector } from "../manager/types";

export const DAY_MS = 24 * 3600 * 1000;

/** The default for `--max-sync-age`: a connector not synchronized for longer is stale. */
export const DEFAULT_MAX_SYNC_AGE_MS = DAY_MS;

export type SyncState = "synced" | "stale" | "never-synced";

export interface SyncJudgement {
  readonly state: SyncState;
  /** Why it is not `synced`, in words (absent when synced). */
  readonly reason?: string;
}

/**
 * A connector is `never-synced` without a last synchronization, `stale` when that is older than
 * `maxAgeMs` or covered no region, and `synced` otherwise.
 */
export function syncState(
  connector: Pick<AWSConnector, "ID" | "lastSyncTime" | "syncedRegions">,
  now: number,
  maxAgeMs: number = DEFAULT_MAX_SYNC_AGE_MS,
): SyncJudgement {
  const synced = connector.lastSyncTime;
  const id = connector.ID ?? "?";
  if (synced === undefined) return { state: "never-synced", reason: `connector ${id} has never synchronized` };
  if (now - synced > maxAgeMs)
    return { state: "stale", reason: `connector ${id} last synchronized ${age(now - synced)} ago (${new Date(synced).toISOString()})` };
  if (!connector.syncedRegions?.length) return { state: "stale", reason: `connector ${id} synchronized no region` };
  return { state: "synced" };
}

/** A duration, roughly: `3 d`, `5 h`, `12 min`. */
export function age(ms: number): string {
  if (ms >= 2 * DAY_MS) return `${Math.floor(ms / DAY_MS)} d`;
  if (ms >= 2 * 3600_000) return `${Math.floor(ms / 3600_000)} h`;
  return `${Math.max(0, Math.floor(ms / 60_000))} min`;
}
