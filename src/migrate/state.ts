/**
 * The migration from user-defined external IDs to the tenant's: per-account state and the
 * rules of the phases (pure), and the state file (written atomically, so that an interrupted
 * run resumes where it stopped). The file holds no external ID: the old ID is read again from
 * the live trust policy whenever it is needed.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { UsageError } from "../errors";
import { writeFileAtomic } from "../files";

export const PHASES = ["discover", "plan", "widen", "switch", "narrow"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * - `user-defined`: the role accepts another ID, not the tenant's: to migrate;
 * - `both`: it accepts the other ID and the tenant's: a migration in progress;
 * - `migrated`: only the tenant's ID: nothing to do;
 * - `unknown`: unreadable, no ID, any ID, or more than one other: fix by hand first.
 */
export const CLASSIFICATIONS: readonly Classification[] = ["user-defined", "both", "migrated", "unknown"];
export type Classification = "user-defined" | "both" | "migrated" | "unknown";

export interface AccountMigration {
  accountId: string;
  roleArn: string;
  connectorId?: number;
  classification: Classification;
  /** Why it is unknown, or other facts for the report. */
  detail?: string;
  /** The role accepts the old and the tenant's ID (checked live). */
  widened: boolean;
  /** The connector was modified onto the tenant's ID and synchronized. */
  switched: boolean;
  /** The role accepts the tenant's ID alone; the old one is refused (checked live). */
  narrowed: boolean;
  updatedAt: string;
}

export interface MigrationState {
  version: 1;
  principalArn: string;
  accounts: Record<string, AccountMigration>;
}

/** Sorts a role's accepted IDs into a classification, and the old ID when there is one. */
export function classify(
  accepted: readonly string[],
  acceptsAny: boolean,
  tenantId: string,
): { classification: Classification; oldId?: string; detail?: string } {
  if (acceptsAny) return { classification: "unknown", detail: "the role accepts any external ID (or none): fix its trust policy first" };
  const others = accepted.filter((id) => id !== tenantId);
  const hasTenant = accepted.includes(tenantId);
  if (others.length > 1)
    return { classification: "unknown", detail: `the role accepts ${others.length} external IDs besides the tenant's; reduce it to one` };
  if (others.length === 0)
    return hasTenant ? { classification: "migrated" } : { classification: "unknown", detail: "the role accepts no external ID" };
  return { classification: hasTenant ? "both" : "user-defined", oldId: others[0] };
}

/** Accounts that take part in the migration (the others need nothing, or a fix by hand). */
export function migrating(state: MigrationState): AccountMigration[] {
  return Object.values(state.accounts).filter((a) => a.classification === "user-defined" || a.classification === "both");
}

/** Refuses a phase whose predecessor has not been verified for every migrating account. */
export function checkPhaseOrder(phase: Phase, state: MigrationState | undefined): void {
  if (phase === "discover") return;
  if (!state)
    throw new UsageError(`${phase} refuses to start: no migration state yet. Run \`ds-onboard migrate-external-id discover\` first.`);
  const list = (accounts: AccountMigration[]) => accounts.map((a) => a.accountId).join(", ");
  if (phase === "switch") {
    const pending = migrating(state).filter((a) => !a.widened);
    if (pending.length)
      throw new UsageError(
        `switch refuses to start: the roles of ${list(pending)} do not accept both external IDs yet. Run \`ds-onboard migrate-external-id widen\` first (deploy its output, then run widen again to verify).`,
      );
  }
  if (phase === "narrow") {
    const pending = migrating(state).filter((a) => !a.switched);
    if (pending.length)
      throw new UsageError(
        `narrow refuses to start: the connectors of ${list(pending)} are not on the tenant's external ID yet, and removing the old ID now would cut the manager off. Run \`ds-onboard migrate-external-id switch\` first.`,
      );
  }
}

/**
 * Reads the state file. A file that is not one (truncated, empty, hand-edited into another shape,
 * a folder) is a usage error that names the file and the fix; nothing is written then.
 */
export function loadState(path: string): MigrationState | undefined {
  if (!existsSync(path)) return undefined;
  const bad = (why: string) =>
    new UsageError(
      `The migration state file ${path} ${why}; nothing was changed. Restore it from a backup, or delete it and run \`ds-onboard migrate-external-id discover\` again (discover reads every role and connector live).`,
      { errorCode: "migration-state-invalid", data: { path } },
    );
  if (statSync(path).isDirectory()) throw bad("is a folder");
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw bad(`is not valid JSON (${(error as Error).message})`);
  }
  const problem = stateProblem(data);
  if (problem) throw bad(problem);
  return data as MigrationState;
}

function stateProblem(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "does not hold a JSON object";
  const s = data as Partial<MigrationState>;
  if (s.version !== 1) return `is not a ds-onboard migration state file (version ${JSON.stringify(s.version)})`;
  if (typeof s.principalArn !== "string") return "has no principalArn";
  if (typeof s.accounts !== "object" || s.accounts === null || Array.isArray(s.accounts)) return "has no accounts object";
  for (const [id, a] of Object.entries(s.accounts)) {
    const ok =
      /^\d{12}$/.test(id) &&
      typeof a === "object" &&
      a !== null &&
      a.accountId === id &&
      typeof a.roleArn === "string" &&
      CLASSIFICATIONS.includes(a.classification) &&
      typeof a.widened === "boolean" &&
      typeof a.switched === "boolean" &&
      typeof a.narrowed === "boolean" &&
      (a.connectorId === undefined || Number.isInteger(a.connectorId));
    if (!ok) return `has an unreadable entry for account ${JSON.stringify(id)}`;
  }
  return undefined;
}

export function saveState(path: string, state: MigrationState): void {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}
