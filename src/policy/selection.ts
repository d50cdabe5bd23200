/**
 * Which of a project's accounts one run acts on: a shard (`2/8`: the accounts whose stable hash
 * falls in shard 2 of 8) and/or organizational units. Pipelines run one job per shard; every
 * account falls in exactly one shard, and it stays there while the shard count stays the same,
 * whatever accounts join or leave.
 *
 * Pure: the organization's tree is the caller's to read.
 */
import { createHash } from "node:crypto";

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

export interface Selection {
  readonly shard?: Shard;
  /** Root or OU IDs: accounts under any of them. */
  readonly ous?: readonly string[];
}

export const MAX_SHARDS = 1000;

/** Parses `I/N` (1 ≤ I ≤ N ≤ 1000); a string problem when it is not one. */
export function parseShard(text: string): Shard | { problem: string } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) return { problem: `${JSON.stringify(text)} is not a shard: write I/N, e.g. 2/8 for the second of eight` };
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) return { problem: `${text}: the shard count must be from 1 to ${MAX_SHARDS}` };
  if (index < 1 || index > count) return { problem: `${text}: the shard number must be from 1 to ${count}` };
  return { index, count };
}

const OU_ID = /^(?:r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/;

/** A problem with an OU or root ID, if any. */
export function checkUnitId(id: string): string | undefined {
  return OU_ID.test(id) ? undefined : `${JSON.stringify(id)} is not an OU or root ID (ou-xxxx-xxxxxxxx or r-xxxx)`;
}

/**
 * The shard (1-based) an account falls in: the first 8 bytes of the SHA-256 of its ID, modulo
 * the count. It depends on nothing but the ID and the count.
 */
export function shardOf(accountId: string, count: number): number {
  const digest = createHash("sha256").update(accountId).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count)) + 1;
}

export function inShard(accountId: string, shard: Shard | undefined): boolean {
  return !shard || shardOf(accountId, shard.count) === shard.index;
}

/**
 * Whether an account is in the selection. `units`: the account's root and OU IDs, root first;
 * undefined when its place in the organization is unknown (then it is outside any OU selection).
 */
export function isSelected(selection: Selection, accountId: string, units: readonly string[] | undefined): boolean {
  if (!inShard(accountId, selection.shard)) return false;
  if (!selection.ous?.length) return true;
  return units?.some((u) => selection.ous!.includes(u)) ?? false;
}

export function isWholeProject(selection: Selection | undefined): boolean {
  return !selection?.shard && !selection?.ous?.length;
}

/**
 * The selection's name in file and stack names (`shard-2-of-8`, `ou-ab12-cdef3456`, both joined
 * by `-`); empty for the whole project. Stable: the same selection always gives the same name.
 */
export function selectionSuffix(selection: Selection | undefined): string {
  if (!selection) return "";
  const parts = [
    ...[...(selection.ous ?? [])].sort(),
    ...(selection.shard ? [`shard-${selection.shard.index}-of-${selection.shard.count}`] : []),
  ];
  return parts.join("-");
}

/** How messages name the selection. */
export function describeSelection(selection: Selection | undefined): string {
  if (isWholeProject(selection)) return "all accounts";
  const parts = [
    ...(selection!.shard ? [`shard ${selection!.shard.index} of ${selection!.shard.count}`] : []),
    ...(selection!.ous?.length ? [`under ${selection!.ous.join(", ")}`] : []),
  ];
  return parts.join(", ");
}

/** The flags that name the selection on a command line (` --shard 2/8 --ou ou-...`); empty for the whole project. */
export function selectionFlags(selection: Selection | undefined): string {
  return [
    ...(selection?.shard ? [` --shard ${selection.shard.index}/${selection.shard.count}`] : []),
    ...(selection?.ous ?? []).map((ou) => ` --ou ${ou}`),
  ].join("");
}
