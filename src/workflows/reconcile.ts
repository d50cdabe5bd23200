/**
 * Reconcile: what a scheduled pipeline runs. It compares the project's accounts (listed and
 * discovered, in this run's selection) with the manager's connectors and the live roles, and
 * says for each account: to onboard, healthy, drifted, or to offboard. Asked to, it registers,
 * repairs and deregisters connectors; roles stay Terraform's.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Project, RoleTarget } from "../app/project";
import { manifestPathOf, parseManifest } from "../generator/lifecycle";
import type { AWSConnector } from "../manager/types";
import { mapLimit } from "../onboard/pool";
import { deregisterConnectors, type RegisterResult, Registrar } from "../onboard/register";
import { RECONCILE_STATES, type ReconcileState, settledState } from "../onboard/status";
import { DEFAULT_MAX_SYNC_AGE_MS, syncState } from "../onboard/sync";
import { type VerifyResult, verifyRoles } from "../onboard/verify";
import { DEFAULT_ROLE_NAME } from "../policy/role";
import { describeSelection, selectionSuffix } from "../policy/selection";
import { registerSettings } from "./register";

/** What reconcile did to an account's connectors. */
export type ReconcileAction = "registered" | "updated" | "synced" | "deregistered" | "failed";

export interface ReconcileRow {
  readonly accountId: string;
  readonly displayName: string;
  readonly roleArn: string;
  /** As found. */
  readonly state: ReconcileState;
  /** Why it is in that state (empty when healthy). */
  readonly reasons: readonly string[];
  readonly connectorIds: readonly number[];
  /** The connector's last synchronization (ISO time), when it has one. */
  readonly lastSyncTime?: string;
  /** With `applyRegistration`: what was done, and the state after it. */
  readonly action?: ReconcileAction;
  readonly after?: ReconcileState;
  readonly error?: string;
  /** What to do about what reconcile does not fix (roles are Terraform's). */
  readonly fix?: string;
}

export interface ReconcileOptions {
  /** Register, repair and deregister connectors; without it, only report. @default false */
  readonly applyRegistration?: boolean;
  /** A connector not synchronized for longer is drifted. @default 24 hours */
  readonly maxSyncAgeMs?: number;
  /** Accounts handled at once. @default 8 */
  readonly concurrency?: number;
  /** How long a registration retries while the manager cannot assume a new role, in ms. @default 180000 */
  readonly assumeRetryTimeoutMs?: number;
  /** The time to judge synchronization against. @default now */
  readonly now?: number;
  readonly onStep?: (line: string) => void;
}

export interface ReconcileReport {
  /** Nothing needs action (after applying, when asked). */
  readonly ok: boolean;
  readonly applied: boolean;
  readonly selection: string;
  /** Rows per state, as found (and after applying, when asked). */
  readonly counts: Readonly<Record<ReconcileState, number>>;
  readonly countsAfter?: Readonly<Record<ReconcileState, number>>;
  readonly accounts: readonly ReconcileRow[];
}

/** A state row before applying: one account's role checks and connectors, judged. */
interface Finding {
  readonly target: RoleTarget;
  readonly state: ReconcileState;
  readonly reasons: string[];
  readonly connectors: readonly AWSConnector[];
  readonly fix?: string;
  /** What would converge it: register (create or repair), sync, deregister; none when only Terraform can. */
  readonly repair?: "register" | "sync" | "deregister";
}

export async function reconcileProject(project: Project, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const client = project.session.manager();
  const now = options.now ?? Date.now();
  const maxAge = options.maxSyncAgeMs ?? DEFAULT_MAX_SYNC_AGE_MS;
  const step = options.onStep ?? (() => undefined);
  const targets = project.accounts.length ? project.targets : [];

  const byAccount = connectorIndex(await client.listConnectors());
  step(`manager: ${[...byAccount.values()].flat().length} AWS connector(s)`);
  const roles = await readRoles(project, targets, options.concurrency);
  step(`roles: ${targets.length} read`);

  const findings = [
    ...targets.map((t) =>
      judgeAccount(t, byAccount.get(t.accountId) ?? [], roles.get(t.accountId), project.includeWorkspaces, now, maxAge),
    ),
    ...leavingAccounts(project, byAccount),
  ];
  if (!options.applyRegistration) {
    const accounts = findings.map((f) => row(f));
    return {
      ok: accounts.every(settled),
      applied: false,
      selection: describeSelection(project.scope.selection),
      counts: count(accounts),
      accounts,
    };
  }

  const actions = await applyRepairs(project, findings, options, step);
  // Judge again from the manager's connectors now (the roles are as they were: reconcile does not
  // touch them); with nothing done, they are as read.
  const nowByAccount = actions.size ? connectorIndex(await client.listConnectors()) : byAccount;
  const accounts = findings.map((f) => {
    const done = actions.get(f.target.accountId);
    if (!done) return row(f);
    const again =
      f.state === "to-offboard"
        ? {
            ...f,
            state: (nowByAccount.get(f.target.accountId) ?? []).some((c) => c.crossAccountRoleArn === f.target.roleArn)
              ? f.state
              : "offboarded",
          }
        : judgeAccount(
            f.target,
            nowByAccount.get(f.target.accountId) ?? [],
            roles.get(f.target.accountId),
            project.includeWorkspaces,
            Date.now(),
            maxAge,
          );
    return { ...row(f), action: done.action, after: again.state as ReconcileState, ...(done.error ? { error: done.error } : {}) };
  });
  return {
    ok: accounts.every((a) => settledState(a.after ?? a.state)),
    applied: true,
    selection: describeSelection(project.scope.selection),
    counts: count(accounts),
    countsAfter: count(accounts.map((a) => ({ ...a, state: a.after ?? a.state }))),
    accounts,
  };
}

const settled = (r: ReconcileRow) => settledState(r.state);

function count(rows: readonly { state: ReconcileState }[]): Record<ReconcileState, number> {
  const counts = Object.fromEntries(RECONCILE_STATES.map((s) => [s, 0])) as Record<ReconcileState, number>;
  for (const r of rows) counts[r.state]++;
  return counts;
}

function connectorIndex(connectors: readonly AWSConnector[]): Map<string, AWSConnector[]> {
  const index = new Map<string, AWSConnector[]>();
  for (const c of connectors)
    if (typeof c.accountId === "string")
      index.set(
        c.accountId,
        [...(index.get(c.accountId) ?? []), c].sort((a, b) => (a.ID ?? 0) - (b.ID ?? 0)),
      );
  return index;
}

/** The live roles, checked as verify checks them (no waiting for propagation); undefined: not read. */
async function readRoles(
  project: Project,
  targets: readonly RoleTarget[],
  concurrency: number | undefined,
): Promise<Map<string, VerifyResult | { unread: string }>> {
  const out = new Map<string, VerifyResult | { unread: string }>();
  if (targets.length === 0) return out;
  try {
    const tenant = await project.externalId();
    const results = await verifyRoles(targets, {
      principalArn: project.principalArn,
      externalIds: [tenant.externalId],
      includeWorkspaces: project.includeWorkspaces,
      propagationTimeoutMs: 0,
      concurrency,
    });
    for (const r of results) out.set(r.accountId, r);
  } catch (error) {
    const why = (error as Error).message;
    project.session.log.warn(`roles not checked (${why}); only the connectors are compared.`);
    for (const t of targets) out.set(t.accountId, { unread: why });
  }
  return out;
}

/** One account of the project: its role's checks and its connectors, judged. */
function judgeAccount(
  target: RoleTarget,
  connectors: readonly AWSConnector[],
  role: VerifyResult | { unread: string } | undefined,
  includeWorkspaces: boolean,
  now: number,
  maxAge: number,
): Finding {
  const reasons: string[] = [];
  const fixes: string[] = [];
  let roleMissing = false;
  let roleBroken = false;
  if (role && "unread" in role) reasons.push(`role not checked: ${role.unread}`);
  else if (role) {
    const { checks } = role;
    if (checks.role.code === "role-missing") roleMissing = true;
    else if (checks.role.status === "fail") reasons.push(`role not checked: ${checks.role.detail}`);
    for (const [name, check] of [
      ["trust", checks.trust],
      ["permissions", checks.permissions],
      ["assume-role", checks.assumeRole],
    ] as const) {
      if (check.status !== "fail") continue;
      roleBroken = true;
      reasons.push(`${name}: ${check.detail}`);
      if (check.fix) fixes.push(check.fix);
    }
  }
  const same = connectors.filter((c) => c.crossAccountRoleArn === target.roleArn);
  const base = { target, connectors, reasons };
  if (connectors.length === 0) {
    if (roleMissing) reasons.push("role not deployed yet: apply its Terraform stack first");
    else reasons.push("no connector");
    return { ...base, state: "to-onboard", repair: roleMissing || roleBroken ? undefined : "register", fix: fixes[0] };
  }
  let repair: Finding["repair"];
  if (roleMissing) {
    reasons.push(`${target.roleArn} does not exist: the connector cannot synchronize`);
    fixes.push("Apply the account's Terraform stack (or offboard the account)");
  }
  if (same.length === 0) {
    // Possibly another team's connector for this account: reported, never re-pointed from here.
    reasons.push(`connector ${connectors[0].ID} uses ${connectors[0].crossAccountRoleArn ?? "no role"}, not ${target.roleArn}`);
    fixes.push(
      `If connector ${connectors[0].ID} is this project's, point it at ${target.roleArn} with ds-onboard register; otherwise register this account's role once it should have its own connector`,
    );
  } else {
    const current = same[0];
    if (same.length > 1) {
      reasons.push(`duplicate connectors for this role: ${same.map((c) => c.ID).join(", ")}`);
      repair = "register";
    }
    if (current.workspacesEnabled !== undefined && current.workspacesEnabled !== includeWorkspaces) {
      reasons.push(
        `WorkSpaces ${current.workspacesEnabled ? "enabled" : "disabled"} on connector ${current.ID}; the role ${includeWorkspaces ? "grants" : "does not grant"} them`,
      );
      repair = "register";
    }
    const sync = syncState(current, now, maxAge);
    if (sync.reason) reasons.push(sync.reason);
    if (sync.state !== "synced" && !repair) repair = "sync";
  }
  if (reasons.length === 0) return { ...base, state: "healthy" };
  // A connector whose role is missing or broken cannot be repaired from here: Terraform first.
  return { ...base, state: "drifted", repair: roleMissing || roleBroken ? undefined : repair, fix: fixes[0] };
}

/**
 * Connectors of accounts no longer in the project (left the organization, suspended, excluded,
 * removed from the config) that this project made. Only accounts in this run's selection.
 */
function leavingAccounts(project: Project, byAccount: Map<string, AWSConnector[]>): Finding[] {
  if (!project.config) return [];
  const config = project.config.config;
  const inProject = new Set(project.scope.allAccounts.map((a) => a.accountId));
  const recorded = new Map<string, string>();
  const recordPath = manifestPathOf(project.config.path, selectionSuffix(project.scope.selection));
  const record = existsSync(recordPath) ? parseManifest(readFileSync(recordPath, "utf8")) : undefined;
  for (const a of [...(record?.accounts ?? []), ...(record?.retired ?? [])]) recorded.set(a.accountId, a.displayName ?? a.accountId);
  const partition = config.role?.partition ?? "aws";
  const roleArnOf = (accountId: string) =>
    `arn:${partition}:iam::${accountId}:role${config.role?.path ?? "/"}${config.role?.roleName ?? DEFAULT_ROLE_NAME}`;
  const decisions = new Map((project.discovery ?? []).map((d) => [d.accountId, d]));
  const organization = project.scope.organization;
  const findings: Finding[] = [];
  const keep = config.deployment?.removedAccounts === "keep";
  for (const [accountId, connectors] of byAccount) {
    if (inProject.has(accountId) || !project.selects(accountId)) continue;
    const roleArn = roleArnOf(accountId);
    // Only connectors of the project's role: one with another role is not the project's to remove.
    const ours = connectors.filter((c) => c.crossAccountRoleArn === roleArn);
    if (ours.length === 0) continue;
    // The project's: recorded by its synthesis, or an account of its organization that is no longer
    // active (suspended, closing). An account outside the organization, or one another config
    // covers (another OU, excluded), that no record names may be another team's: never touched.
    const state = organization?.accounts.find((a) => a.id === accountId)?.state;
    if (!recorded.has(accountId) && (state === undefined || state === "ACTIVE")) continue;
    const decision = decisions.get(accountId);
    const why = decision
      ? `excluded: ${decision.reason}`
      : organization && state === undefined
        ? "left the organization"
        : "removed from the config";
    findings.push({
      target: { accountId, roleArn, displayName: recorded.get(accountId) ?? ours[0].displayName ?? accountId },
      // deployment.removedAccounts: keep: the connectors of accounts that leave stay, by design.
      state: keep ? "kept" : "to-offboard",
      reasons: keep ? [why, "connector kept (deployment.removedAccounts: keep)"] : [why],
      connectors: ours,
      repair: keep ? undefined : "deregister",
    });
  }
  return findings;
}

/** Registers, repairs, resynchronizes and deregisters: never a role. */
async function applyRepairs(
  project: Project,
  findings: readonly Finding[],
  options: ReconcileOptions,
  step: (line: string) => void,
): Promise<Map<string, { action: ReconcileAction; error?: string }>> {
  const client = project.session.manager();
  const done = new Map<string, { action: ReconcileAction; error?: string }>();
  const record = (r: RegisterResult, action: ReconcileAction) => {
    const failed = r.status === "failed" || r.status === "skipped";
    done.set(r.accountId, failed ? { action: "failed", error: r.error ?? r.status } : { action });
    step(`${failed ? "failed" : action} ${r.accountId}${r.error ? `: ${r.error}` : ""}`);
  };
  const toRegister = findings.filter((f) => f.repair === "register");
  if (toRegister.length) {
    const registrar = await Registrar.open(client, {
      ...registerSettings(project, { concurrency: options.concurrency, assumeRetryTimeoutMs: options.assumeRetryTimeoutMs }),
      removeDuplicates: true,
    });
    const registered = toRegister.map(async (f) => {
      const r = await registrar.register(f.target);
      record(r, r.status === "created" ? "registered" : "updated");
      return r;
    });
    // Removes what a create that got no answer left behind, once it lands.
    await registrar.settle(await Promise.all(registered));
  }
  await mapLimit(
    findings.filter((f) => f.repair === "sync"),
    options.concurrency ?? 8,
    async (f) => {
      const id = f.connectors.find((c) => c.crossAccountRoleArn === f.target.roleArn)!.ID!;
      try {
        await client.modifyConnector(id, {}, { sync: true });
        done.set(f.target.accountId, { action: "synced" });
        step(`synced ${f.target.accountId}`);
      } catch (error) {
        done.set(f.target.accountId, { action: "failed", error: (error as Error).message });
        step(`failed ${f.target.accountId}: ${(error as Error).message}`);
      }
    },
  );
  const leaving = findings.filter((f) => f.repair === "deregister").map((f) => f.target);
  if (leaving.length)
    for (const r of await deregisterConnectors(client, leaving, { concurrency: options.concurrency })) record(r, "deregistered");
  return done;
}

function row(f: Finding): ReconcileRow {
  const current = f.connectors.find((c) => c.crossAccountRoleArn === f.target.roleArn) ?? f.connectors[0];
  return {
    accountId: f.target.accountId,
    displayName: f.target.displayName,
    roleArn: f.target.roleArn,
    state: f.state,
    reasons: f.reasons,
    connectorIds: f.connectors.map((c) => c.ID!).filter((id) => id !== undefined),
    ...(current?.lastSyncTime !== undefined ? { lastSyncTime: new Date(current.lastSyncTime).toISOString() } : {}),
    ...(f.fix ? { fix: f.fix } : {}),
  };
}
