/**
 * The migration from user-defined external IDs to the tenant's, with no moment of lost access:
 * discover (classify every role, live), plan, widen (roles accept the old and the tenant's ID),
 * switch (connectors move to the tenant's ID), narrow (roles accept the tenant's ID alone).
 *
 * Safety is checked against the live world before every write and every switch, not against the
 * state file: a trust policy is written only with every ID the account's live role accepts and
 * its connector may use, and a connector is switched only when its role, read live, accepts the
 * tenant's ID.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Project, type RoleTarget } from "../app/project";
import type { Session } from "../app/session";
import { type EngineName, loadEngine } from "../engine";
import { UsageError } from "../errors";
import { writeFileAtomic } from "../files";
import {
  type AccountMigration,
  type Classification,
  checkPhaseOrder,
  classify,
  loadState,
  type MigrationState,
  migrating,
  type Phase,
  saveState,
} from "../migrate/state";
import { readTrustPolicies } from "../onboard/verify";
import type { ManagerPrincipal } from "../policy/principal";
import { buildTrustPolicy, checkTrustPolicy } from "../policy/trust";
import { maskExternalId } from "../redact";

export { PHASES, type Phase } from "../migrate/state";

export interface MigrationProjectOptions {
  /** The onboarding config. @default the accounts of the manager's connectors */
  readonly config?: string;
  /** Without a config: whom the roles trust. @default Workload Security */
  readonly principal?: ManagerPrincipal;
  /** Without a config: the role to assume in each account to read its IAM. @default OrganizationAccountAccessRole */
  readonly deploymentRoleName?: string;
}

/** The accounts to migrate: the config's, or those of the manager's connectors. */
export async function openMigrationProject(session: Session, options: MigrationProjectOptions): Promise<Project> {
  if (options.config) return Project.fromConfig(session, options.config);
  const arns = (await session.manager().listConnectors()).map((c) => c.crossAccountRoleArn).filter((a): a is string => !!a);
  if (arns.length === 0) throw new UsageError("The manager has no connectors with a cross-account role; nothing to migrate.");
  return Project.fromRoleArns(session, {
    roleArns: [...new Set(arns)],
    principal: options.principal,
    deploymentRoleName: options.deploymentRoleName ?? "OrganizationAccountAccessRole",
  });
}

export interface MigrationOptions {
  readonly phase: Phase;
  /** The state file. @default beside the config (`<config>.migration.json`), else `./ds-onboard-migration.json` */
  readonly statePath?: string;
  /** Where widen and narrow write. @default the config's `cdktf.out`, else `./migration-trust-policies` */
  readonly out?: string;
  /** Say what would happen; write and change nothing. @default false */
  readonly dryRun?: boolean;
  /** The construct framework widen and narrow synthesize with. @default cdktf when installed, else cdktn */
  readonly engine?: EngineName;
}

export interface MigrationReport {
  readonly phase: Phase;
  readonly dryRun: boolean;
  readonly statePath: string;
  /** Masked. */
  readonly tenantExternalId: string;
  readonly accounts: readonly AccountMigration[];
  readonly messages: readonly string[];
  /** Accounts that failed in this phase. */
  readonly failed: number;
}

export function defaultStatePath(config: string | undefined): string {
  return resolve(config ? `${config.replace(/\.(ya?ml|json)$/, "")}.migration.json` : "ds-onboard-migration.json");
}

export async function migrate(project: Project, options: MigrationOptions): Promise<MigrationReport> {
  const statePath = resolve(options.statePath ?? defaultStatePath(project.config?.path));
  const dryRun = options.dryRun ?? false;
  let state = loadState(statePath);
  checkPhaseOrder(options.phase, state);
  const tenant = (await project.externalId()).externalId;
  const save = (s: MigrationState) => {
    if (!dryRun) saveState(statePath, s);
  };
  const client = project.session.manager();
  const targets = project.targets;
  const messages: string[] = [];
  let failed = 0;

  if (options.phase !== "discover") {
    // Accounts added after discover are not in the state: refuse rather than guess.
    const unknown = targets.filter((t) => !state!.accounts[t.accountId]).map((t) => t.accountId);
    if (unknown.length) {
      throw new UsageError(
        `${options.phase} refuses to start: account(s) ${unknown.join(", ")} are not in the migration state ${statePath} (added after discover). Run \`ds-onboard migrate-external-id discover\` again: it keeps the progress of the others.`,
        { errorCode: "migration-accounts-unknown", data: { accounts: unknown } },
      );
    }
  }

  switch (options.phase) {
    case "discover": {
      const connectors = new Map((await client.listConnectors()).map((c) => [c.accountId, c]));
      const live = await liveTrust(targets, project.principalArn, tenant);
      const next: MigrationState = { version: 1, principalArn: project.principalArn, accounts: {} };
      for (const t of targets) {
        const found = live.get(t.accountId)!;
        const before = state?.accounts[t.accountId];
        next.accounts[t.accountId] = {
          accountId: t.accountId,
          roleArn: t.roleArn,
          connectorId: connectors.get(t.accountId)?.ID,
          classification: found.classification,
          detail: found.detail ?? (connectors.has(t.accountId) ? undefined : "no connector in the manager for this account"),
          widened: found.classification === "both" || (before?.widened ?? false),
          switched: before?.switched ?? false,
          narrowed: found.classification === "migrated" && (before?.narrowed ?? false),
          updatedAt: new Date().toISOString(),
        };
      }
      state = next;
      save(state);
      break;
    }
    case "plan":
      for (const a of Object.values(state!.accounts)) messages.push(`${a.accountId}  ${a.classification.padEnd(12)} ${planFor(a)}`);
      break;
    case "widen":
    case "narrow": {
      const widen = options.phase === "widen";
      const live = await liveTrust(targets, project.principalArn, tenant);
      // What each account's role must accept after this write, from the live world.
      const ids = new Map<string, string[]>();
      const refuse: string[] = [];
      for (const t of targets) {
        const now = live.get(t.accountId)!;
        const a = state!.accounts[t.accountId];
        if (now.classification === "unknown") refuse.push(`${t.accountId} (${now.detail})`);
        else if (now.oldId && (widen || !a.switched)) {
          // The connector may still use the old ID: keep it (narrow never drops it before a switch).
          if (!widen) refuse.push(`${t.accountId} (its connector is not switched to the tenant's ID yet)`);
          ids.set(t.accountId, [now.oldId, tenant]);
        }
      }
      if (refuse.length) {
        throw new UsageError(
          `${options.phase} refuses to write: writing now could cut the manager off from ${refuse.join("; ")}. Fix those roles (or run the earlier phases), then run ${options.phase} again.`,
          { errorCode: "migration-accounts-unknown", data: { accounts: refuse } },
        );
      }
      const out = await writeTrust(project, options, (accountId) => ids.get(accountId), tenant, dryRun);
      messages.push(
        dryRun
          ? `would write ${out}`
          : `wrote ${out}; deploy it, then run \`ds-onboard migrate-external-id ${options.phase}\` again to verify`,
      );
      for (const a of migrating(state!)) {
        const now = live.get(a.accountId)!;
        if (widen) a.widened = now.classification === "both" || (a.switched && now.classification === "migrated");
        else a.narrowed = now.classification === "migrated";
        a.classification = a.classification === "user-defined" && now.classification === "both" ? "both" : a.classification;
        a.updatedAt = new Date().toISOString();
        const done = widen ? a.widened : a.narrowed;
        messages.push(
          `${a.accountId}  ${done ? (widen ? "widened: accepts the old and the tenant's ID (verified live)" : "narrowed: the old ID is refused (verified live)") : "waiting for the deploy"}`,
        );
      }
      save(state!);
      break;
    }
    case "switch": {
      // One connector at a time, the state saved after each, so that a kill loses nothing. Each
      // role is read live first: a role reverted after widen stops its switch.
      const live = await liveTrust(
        migrating(state!).map((a) => targets.find((t) => t.accountId === a.accountId)!),
        project.principalArn,
        tenant,
      );
      for (const a of migrating(state!)) {
        if (a.switched) {
          messages.push(`${a.accountId}  already switched`);
          continue;
        }
        const now = live.get(a.accountId);
        if (!now || (now.classification !== "both" && now.classification !== "migrated")) {
          failed++;
          a.widened = false;
          messages.push(
            `${a.accountId}  not switched: its role, read now, does not accept the tenant's ID (${now?.detail ?? now?.classification ?? "unreadable"}). Run widen again and deploy it.`,
          );
          continue;
        }
        if (a.connectorId === undefined) {
          failed++;
          messages.push(`${a.accountId}  no connector: register the account instead (ds-onboard register)`);
          continue;
        }
        if (dryRun) {
          messages.push(`${a.accountId}  would modify connector ${a.connectorId} (same role ARN, no external ID, sync)`);
          continue;
        }
        try {
          const before = (await client.describeConnector(a.connectorId)).lastSyncTime ?? 0;
          await client.modifyConnector(a.connectorId, { crossAccountRoleArn: a.roleArn }, { sync: true });
          const after = (await client.describeConnector(a.connectorId)).lastSyncTime ?? 0;
          if (after <= before) throw new Error("the manager did not synchronize the connector");
          a.switched = true;
          a.updatedAt = new Date().toISOString();
          save(state!);
          messages.push(`${a.accountId}  switched connector ${a.connectorId} to the tenant's ID; the manager synchronized it`);
        } catch (error) {
          failed++;
          messages.push(`${a.accountId}  switch failed, the connector keeps its old ID: ${(error as Error).message}`);
        }
      }
      save(state!);
      break;
    }
  }

  return {
    phase: options.phase,
    dryRun,
    statePath,
    tenantExternalId: maskExternalId(tenant),
    accounts: Object.values(state!.accounts),
    messages,
    failed,
  };
}

function planFor(a: AccountMigration): string {
  switch (a.classification) {
    case "migrated":
      return "nothing to do: the role accepts the tenant's ID alone";
    case "unknown":
      return `fix by hand first: ${a.detail ?? "the trust policy could not be classified"}`;
    default: {
      const steps = [
        a.widened ? null : "widen the trust policy to accept the old and the tenant's ID",
        a.switched
          ? null
          : a.connectorId === undefined
            ? "register the account (no connector)"
            : `switch connector ${a.connectorId} to the tenant's ID`,
        a.narrowed ? null : "narrow the trust policy to the tenant's ID",
      ].filter(Boolean);
      return steps.length ? steps.join("; then ") : "done";
    }
  }
}

interface LiveTrust {
  classification: Classification;
  oldId?: string;
  detail?: string;
}

/** Reads each role's trust policy and classifies it (the old ID stays in memory only). */
async function liveTrust(targets: readonly RoleTarget[], principalArn: string, tenant: string): Promise<Map<string, LiveTrust>> {
  const result = new Map<string, LiveTrust>();
  for (const { target, document, error } of await readTrustPolicies(targets)) {
    if (document === undefined) {
      result.set(target.accountId, { classification: "unknown", detail: `the trust policy could not be read: ${error}` });
      continue;
    }
    const check = checkTrustPolicy(document, { principalArn, externalIds: [tenant] });
    const other = check.findings.filter((f) => f.code !== "missing-external-id" && f.code !== "unexpected-external-id");
    result.set(
      target.accountId,
      other.length
        ? { classification: "unknown", detail: `fix the trust policy first: ${other.map((f) => f.code).join(", ")}` }
        : classify(check.acceptedExternalIds, check.acceptsAnyExternalId, tenant),
    );
  }
  return result;
}

/**
 * Writes the roles with the given IDs: through the config's synthesis (same stacks, so the deploy
 * updates the roles in place), or, without a config, one trust policy file per account.
 */
async function writeTrust(
  project: Project,
  options: MigrationOptions,
  ids: (accountId: string) => string[] | undefined,
  tenant: string,
  dryRun: boolean,
): Promise<string> {
  if (project.config) {
    const outdir = resolve(options.out ?? join(project.config.dir, "cdktf.out"));
    if (!dryRun)
      await loadEngine(options.engine).generator.synthesizeProject(project, { outdir, accountExternalIds: (accountId) => ids(accountId) });
    return outdir;
  }
  const outdir = resolve(options.out ?? "migration-trust-policies");
  if (dryRun) return outdir;
  mkdirSync(outdir, { recursive: true, mode: 0o700 });
  chmodSync(outdir, 0o700);
  for (const t of project.targets) {
    const policy = buildTrustPolicy({ principalArn: project.principalArn, externalIds: ids(t.accountId) ?? [tenant] });
    writeFileAtomic(join(outdir, `${t.accountId}.trust-policy.json`), `${JSON.stringify(policy, null, 2)}\n`, 0o600);
  }
  return join(outdir, "<account>.trust-policy.json");
}
