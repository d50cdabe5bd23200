/**
 * Accounts joining and leaving between syntheses. The output folder keeps a manifest of the
 * accounts the last synthesis wrote; the next one compares it with the accounts of now:
 *
 * - added: new resources only for them;
 * - kept: unchanged;
 * - removed: their AWS provider stays in the output (in the single stack, or as a stack of its
 *   own with only the provider) so that Terraform can plan and destroy their resources; the
 *   account stays "retired" in the manifest until its resources are gone from the state.
 *
 * Pure: reading and writing the manifest and the state are the caller's.
 */

/** What a retired account's provider needs: the same account, deployment role and region as before. */
export interface ManifestAccount {
  readonly accountId: string;
  readonly displayName?: string;
  readonly deploymentRoleArn: string;
  readonly region: string;
  /** The stack that holds (or held) the account's resources. */
  readonly stack: string;
}

export interface RetiredAccount extends ManifestAccount {
  /** When the account left the project (ISO time). */
  readonly since: string;
}

export interface Manifest {
  readonly version: 1;
  /** When it was written (ISO time): the newest of several selections' records is the truth. */
  readonly written?: string;
  readonly accounts: readonly ManifestAccount[];
  /** Accounts removed whose resources may still be deployed. */
  readonly retired: readonly RetiredAccount[];
}

/**
 * The record of what the last synthesis of a config wrote: `<config>.accounts.json` beside it,
 * or for a selection of its accounts `<config>.<selection>.accounts.json` (e.g. `shard-2-of-8`).
 */
export function manifestPathOf(configPath: string, selectionSuffix = ""): string {
  return `${configPath.replace(/\.(ya?ml|json)$/, "")}${selectionSuffix ? `.${selectionSuffix}` : ""}.accounts.json`;
}

export interface LifecyclePlan {
  readonly added: readonly string[];
  readonly kept: readonly string[];
  /** Removed by this synthesis. */
  readonly removed: readonly string[];
  /** Every account whose provider is kept for its resources' removal (removed now or before). */
  readonly retired: readonly RetiredAccount[];
  /** Retired accounts dropped now: their resources are gone (or they were forgotten). */
  readonly dropped: readonly RetiredAccount[];
  /** Accounts that left this selection for another one whose stacks now hold them: forgotten here, not retired. */
  readonly moved: readonly string[];
  readonly manifest: Manifest;
}

/**
 * Compares the accounts of now with the last manifest. `gone` tells whether a retired account's
 * resources are known to be gone from the state (then it is dropped for good).
 */
export function planLifecycle(
  previous: Manifest | undefined,
  current: readonly ManifestAccount[],
  options: { now?: string; gone?: (account: RetiredAccount) => boolean; moved?: (account: ManifestAccount) => boolean } = {},
): LifecyclePlan {
  const now = options.now ?? new Date().toISOString();
  const currentIds = new Set(current.map((a) => a.accountId));
  // An account now in another selection, whose stack (and state) is the same there, is that selection's.
  const isMoved = (a: ManifestAccount) => !currentIds.has(a.accountId) && (options.moved?.(a) ?? false);
  const moved = [...(previous?.accounts ?? []), ...(previous?.retired ?? [])].filter(isMoved).map((a) => a.accountId);
  if (moved.length) {
    const movedIds = new Set(moved);
    const stay = (a: ManifestAccount) => !movedIds.has(a.accountId);
    previous = { ...previous!, accounts: previous!.accounts.filter(stay), retired: previous!.retired.filter(stay) };
  }
  const before = new Map((previous?.accounts ?? []).map((a) => [a.accountId, a]));
  const added = current.filter((a) => !before.has(a.accountId)).map((a) => a.accountId);
  const kept = current.filter((a) => before.has(a.accountId)).map((a) => a.accountId);
  const removedNow = [...before.values()].filter((a) => !currentIds.has(a.accountId));
  const leaving: RetiredAccount[] = [
    ...(previous?.retired ?? []).filter((a) => !currentIds.has(a.accountId) && !before.has(a.accountId)),
    ...removedNow.map((a) => ({ ...a, since: now })),
  ];
  const isGone = (a: RetiredAccount) => options.gone?.(a) ?? false;
  const retired = leaving.filter((a) => !isGone(a));
  return {
    added,
    kept,
    removed: removedNow.map((a) => a.accountId),
    retired,
    dropped: leaving.filter(isGone),
    moved,
    manifest: { version: 1, written: now, accounts: current, retired },
  };
}

/** Reads a manifest's JSON; undefined when it is not one (the caller decides what that means). */
export function parseManifest(text: string): Manifest | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const m = data as Partial<Manifest>;
  const accountOk = (a: unknown) => {
    const x = a as Partial<ManifestAccount> | null;
    return (
      typeof x === "object" &&
      x !== null &&
      typeof x.accountId === "string" &&
      /^\d{12}$/.test(x.accountId) &&
      typeof x.deploymentRoleArn === "string" &&
      typeof x.region === "string" &&
      typeof x.stack === "string"
    );
  };
  if (m?.version !== 1 || !Array.isArray(m.accounts) || !Array.isArray(m.retired)) return undefined;
  if (m.written !== undefined && typeof m.written !== "string") return undefined;
  if (!m.accounts.every(accountOk) || !m.retired.every(accountOk)) return undefined;
  return m as Manifest;
}

/**
 * Whether a Terraform state (its JSON) still holds resources of an account: resources whose
 * provider is that account's alias (single stack), or any resource (a stack of its own).
 */
export function stateHoldsAccount(stateJson: string, accountId: string, ownStack: boolean): boolean {
  let state: { resources?: { provider?: string; instances?: unknown[] }[] };
  try {
    state = JSON.parse(stateJson);
  } catch {
    return true; // unreadable: assume the resources are still there
  }
  const resources = (state.resources ?? []).filter((r) => (r.instances?.length ?? 1) > 0);
  if (ownStack) return resources.length > 0;
  return resources.some((r) => r.provider?.endsWith(`.account_${accountId}`) ?? false);
}
