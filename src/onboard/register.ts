/**
 * Registration: one AWS connector per account, exactly once, even with several runs at once.
 *
 * One list call indexes the existing connectors by account. Then, per account: the same role
 * is left alone (or resynchronized), a different role is modified, a missing connector is
 * created. A create is never repeated blindly: before any retry the account is searched again,
 * so a create that timed out but succeeded is found, not duplicated. The manager's "cannot
 * assume the role" answers (IAM still propagating a new role) are retried with backoff within
 * a bound; refused keys fail at once; other answers fail the account.
 *
 * Concurrent runs (two pipelines, two machines: no shared memory or files). The manager has no
 * lock and no conditional create, so two runs can both find an account missing and both create
 * a connector. Every run therefore converges after each create: it searches the account again,
 * and if more than one connector has this account and this role ARN it keeps the lowest ID and
 * deletes the others, each only after reading it back and seeing the same account and role ARN
 * (a connector for another role ARN is never deleted). Every run keeps the same one (the
 * lowest ID), so they agree without talking; a delete answered 404 (the other run deleted it
 * first) is fine. It repeats the search until one round deletes nothing and finds exactly one:
 * if the one kept was deleted meanwhile by someone else, the account is found missing and
 * created again (a bounded number of times).
 *
 * Duplicates that already existed when the run listed the connectors are reported (notes and
 * `duplicates`), and removed only with `removeDuplicates: true`.
 */
import { ExitCode } from "../errors";
import type { ManagerClient } from "../manager/client";
import { ManagerError } from "../manager/errors";
import type { AWSConnector } from "../manager/types";
import { stripControl } from "../redact";
import { mapLimit, sleep } from "./pool";
import type { RoleTarget } from "./targets";

export type RegisterStatus = "created" | "updated" | "unchanged" | "synced" | "deregistered" | "failed" | "skipped";

export interface RegisterResult {
  readonly accountId: string;
  readonly roleArn: string;
  readonly displayName: string;
  readonly status: RegisterStatus;
  readonly connectorId?: number;
  readonly ms: number;
  /** What happened along the way: adopted after a timeout, retries for propagation, duplicates found. */
  readonly notes: readonly string[];
  /** Connectors with this account and this role ARN besides the one kept (found, or removed). */
  readonly duplicates?: readonly number[];
  /** Of `duplicates`, those this run deleted (concurrent creates, or existing ones with `removeDuplicates`). */
  readonly removedDuplicates?: readonly number[];
  /** Connectors for this account with another role ARN: reported, never touched. */
  readonly otherConnectors?: readonly number[];
  readonly error?: string;
  readonly fix?: string;
}

export interface RegisterOptions {
  /** Resynchronize connectors that are already right. Default: false. */
  readonly sync?: boolean;
  /** Accounts registered at once. Default: 8. */
  readonly concurrency?: number;
  /** How long to keep retrying "cannot assume the role" (IAM propagation). Default: 3 minutes. */
  readonly assumeRetryTimeoutMs?: number;
  /** The first wait between propagation retries, doubled each time up to 10 s. Default: 2 s. */
  readonly assumeRetryDelayMs?: number;
  /** Creates tried in all when the answer is lost (timeout, broken connection, 5xx). Default: 5. */
  readonly createAttempts?: number;
  /**
   * Whether the connectors read Amazon WorkSpaces. Set on create; an existing connector whose
   * setting differs is modified ("updated"). Default: true, as the role's `includeWorkspaces`
   * (the manager's own default is false, which would leave the role's WorkSpaces rights unused).
   */
  readonly workspacesEnabled?: boolean;
  /**
   * Delete connectors that duplicate the kept one (same account, same role ARN, higher ID) that
   * existed before this run. Default: false (they are reported). Duplicates made by runs racing
   * this one are always removed.
   */
  readonly removeDuplicates?: boolean;
  /**
   * Search the account after each create, to find and remove a connector that a run racing this
   * one created at the same time. Default: true. Costs one search per created connector; turn it
   * off only where no two runs can ever register the same accounts at once (it also turns off
   * the search for a create that lands late, see `landingWindowMs`).
   */
  readonly checkConcurrentCreates?: boolean;
  /**
   * After a create whose answer was lost, how long to wait before a last check for a duplicate
   * (a create still in flight inside the manager may land late). Default: 1 s.
   */
  readonly settleMs?: number;
  /**
   * After a create that got no answer (a timeout, a dropped connection, a gateway's 502 or 504),
   * the manager may still be carrying it out. The account is searched once more when this long
   * has passed since, at the end of the run (`Registrar.settle`), and a connector the create
   * made late is removed as a duplicate. Default: the client's per-attempt deadline.
   */
  readonly landingWindowMs?: number;
  readonly onResult?: (result: RegisterResult) => void;
  /** Told when the run waits before it ends (for creates that may land late), and for how long. */
  readonly onWait?: (message: string) => void;
}

export async function registerConnectors(
  client: ManagerClient,
  targets: readonly RoleTarget[],
  options: RegisterOptions = {},
): Promise<RegisterResult[]> {
  const registrar = await Registrar.open(client, options);
  const results = await registrar.settle(await Promise.all(targets.map((t) => registrar.register(t))));
  registrar.throwIfRefused();
  return results;
}

/**
 * Registration that accounts can be fed to one by one (onboard feeds each account as soon as
 * it is verified, so that verification and the rate-limited registration overlap). One list
 * call when opened; at most `concurrency` accounts at once.
 */
export class Registrar {
  private refused?: ManagerError;
  private running = 0;
  /** Accounts with a create the manager may still be carrying out (see `settle`). */
  private readonly unsettled: Landing[] = [];
  private readonly waiting: (() => void)[] = [];

  private constructor(
    private readonly client: ManagerClient,
    private readonly index: Map<string, AWSConnector[]>,
    private readonly options: RegisterOptions,
  ) {}

  static async open(client: ManagerClient, options: RegisterOptions = {}): Promise<Registrar> {
    const index = new Map<string, AWSConnector[]>();
    for (const c of await client.listConnectors()) {
      if (typeof c.accountId === "string") index.set(c.accountId, [...(index.get(c.accountId) ?? []), c]);
    }
    return new Registrar(client, index, options);
  }

  /** Throws the manager's refusal of the key, if any account met it. */
  throwIfRefused(): void {
    if (this.refused) throw this.refused;
  }

  async register(target: RoleTarget): Promise<RegisterResult> {
    if (this.running >= (this.options.concurrency ?? 8)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.registerOne(target);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async registerOne(target: RoleTarget): Promise<RegisterResult> {
    const { client, options } = this;
    const started = Date.now();
    const notes: string[] = [];
    const found: { duplicates: number[]; removed: number[]; others: number[] } = { duplicates: [], removed: [], others: [] };
    const done = (status: RegisterStatus, extra: Partial<RegisterResult> = {}): RegisterResult => {
      const result: RegisterResult = {
        accountId: target.accountId,
        roleArn: target.roleArn,
        displayName: target.displayName,
        status,
        ms: Date.now() - started,
        notes,
        ...(found.duplicates.length ? { duplicates: [...new Set(found.duplicates)] } : {}),
        ...(found.removed.length ? { removedDuplicates: [...new Set(found.removed)] } : {}),
        ...(found.others.length ? { otherConnectors: found.others } : {}),
        ...extra,
      };
      options.onResult?.(result);
      return result;
    };
    if (this.refused) return done("skipped", { error: "not tried: the manager refused the API key", fix: this.refused.message });
    const workspaces = options.workspacesEnabled ?? true;
    try {
      const existing = [...(this.index.get(target.accountId) ?? [])].sort(byId);
      const sameRole = existing.filter((c) => c.crossAccountRoleArn === target.roleArn);
      // The connector to keep: the lowest ID with this role, else the lowest ID (its role is changed).
      const current = sameRole[0] ?? existing[0];
      found.others = existing.filter((c) => c !== current && c.crossAccountRoleArn !== target.roleArn).map((c) => c.ID!);
      if (found.others.length)
        notes.push(`other connectors for this account use other roles (IDs ${found.others.join(", ")}); left as they are`);
      if (current?.ID !== undefined) {
        const duplicates = sameRole.slice(1);
        if (duplicates.length) {
          found.duplicates.push(...duplicates.map((c) => c.ID!));
          notes.push(
            `${duplicates.length} duplicate connector${duplicates.length > 1 ? "s" : ""} for this role (IDs ${duplicates.map((c) => c.ID).join(", ")}); keeping ${current.ID}${options.removeDuplicates ? "" : " (not removed: set removeDuplicates to remove them)"}`,
          );
          if (options.removeDuplicates) await removeDuplicates(client, target, current.ID, duplicates, found.removed, notes);
        }
        const change: AWSConnector = {};
        if (current.crossAccountRoleArn !== target.roleArn) {
          notes.push(`role changed from ${shown(current.crossAccountRoleArn) ?? "(none)"} to ${target.roleArn}`);
          change.crossAccountRoleArn = target.roleArn;
        }
        if (current.workspacesEnabled === undefined) {
          notes.push("the manager did not report the connector's WorkSpaces setting; left as it is");
        } else if (current.workspacesEnabled !== workspaces) {
          notes.push(`WorkSpaces ${workspaces ? "enabled" : "disabled"} (was ${current.workspacesEnabled ? "enabled" : "disabled"})`);
          change.workspacesEnabled = workspaces;
        }
        if (Object.keys(change).length === 0) {
          if (!options.sync) return done("unchanged", { connectorId: current.ID });
          await client.modifyConnector(current.ID, {}, { sync: true });
          return done("synced", { connectorId: current.ID });
        }
        const id = current.ID;
        const modified = await withPropagationRetry(
          () => client.modifyConnector(id, change, { sync: change.crossAccountRoleArn !== undefined || options.sync }),
          options,
          notes,
        );
        return done("updated", { connectorId: modified.ID });
      }
      const created = await this.createConverged(target, workspaces, notes, found);
      return done(created.status, { connectorId: created.connector.ID });
    } catch (error) {
      if (error instanceof ManagerError && error.exitCode === ExitCode.refused) this.refused = error;
      const message = (error as Error).message ?? String(error);
      return done("failed", { error: message, fix: fixFor(error) });
    }
  }

  /**
   * Once every account has been registered: the accounts with a create that the manager may
   * still have been carrying out when it was given up (see `mayStillRun`) are looked at once
   * more, when the landing window after that create has passed, so that a connector it made
   * late is removed as a duplicate; their results are brought up to date. Nothing tells one
   * run's late create from another run's, so the only sound test is to wait out the window. A
   * long run has usually waited it out already.
   */
  async settle(results: readonly RegisterResult[]): Promise<RegisterResult[]> {
    const late = this.unsettled.splice(0);
    const patched = new Map<string, RegisterResult>();
    const key = (t: { accountId: string; roleArn: string }) => `${t.accountId} ${t.roleArn}`;
    // Every window ends by the last one's end: wait for that, then look at each.
    const wait = Math.max(0, ...late.map((l) => l.until - Date.now()));
    if (late.length && wait > 0) {
      this.options.onWait?.(
        `waiting ${Math.ceil(wait / 1000)} s for ${late.length} create(s) that got no answer: the manager may still carry them out, and what they make is then removed as a duplicate`,
      );
      await sleep(wait);
    }
    await mapLimit(late, this.options.concurrency ?? 8, async ({ target, notes, found }) => {
      const before = results.find((r) => key(r) === key(target));
      if (!before) return;
      const removedBefore = found.removed.length;
      let kept: AWSConnector | undefined;
      try {
        kept = await converge(this.client, target, this.options, notes, found, true);
        const removed = found.removed.slice(removedBefore);
        notes.push(
          removed.length
            ? `a create that got no answer landed late; removed duplicate ${removed.join(", ")} once its landing window had passed`
            : "no connector from the create that got no answer appeared within its landing window",
        );
      } catch (error) {
        notes.push(`the last look for a late create failed (a rerun, or reconcile, would find a duplicate): ${(error as Error).message}`);
      } finally {
        patched.set(key(target), {
          ...before,
          ...(kept?.ID !== undefined ? { connectorId: kept.ID } : {}),
          ...(found.duplicates.length ? { duplicates: [...new Set(found.duplicates)] } : {}),
          ...(found.removed.length ? { removedDuplicates: [...new Set(found.removed)] } : {}),
        });
      }
    });
    return results.map((r) => patched.get(key(r)) ?? r);
  }

  /** Creates the connector, then converges with any run that created one at the same time. */
  private async createConverged(
    target: RoleTarget,
    workspaces: boolean,
    notes: string[],
    found: { duplicates: number[]; removed: number[] },
  ): Promise<{ connector: AWSConnector; status: RegisterStatus }> {
    const { client, options } = this;
    const rounds = options.createAttempts ?? 5;
    for (let round = 1; ; round++) {
      const { connector: mine, lost, mayStillRunAt } = await createOnce(client, target, options, notes, workspaces);
      if (options.checkConcurrentCreates === false) return { connector: mine, status: "created" };
      let kept = await converge(client, target, options, notes, found, lost);
      if (kept && lost) {
        // A create lost inside the manager may still land: look once more after a pause.
        await sleep(options.settleMs ?? 1000);
        kept = await converge(client, target, options, notes, found, lost);
      }
      if (kept && mayStillRunAt !== undefined) {
        // One the manager may still be carrying out: looked at again once its window has passed.
        const window = options.landingWindowMs ?? client.attemptTimeoutMs();
        this.unsettled.push({ target, notes, found, until: mayStillRunAt + window });
      }
      if (kept) {
        if (kept.ID !== mine.ID)
          notes.push(
            lost
              ? `kept connector ${kept.ID}, which appeared after this run's create (made by a create of this run whose answer was lost, or by another run at the same time)`
              : `another run registered this account at the same time; using its connector ${kept.ID}`,
          );
        if (kept.workspacesEnabled !== undefined && kept.workspacesEnabled !== workspaces) {
          notes.push(`WorkSpaces ${workspaces ? "enabled" : "disabled"} on connector ${kept.ID}`);
          await client.modifyConnector(kept.ID!, { workspacesEnabled: workspaces });
        }
        return { connector: kept, status: kept.ID === mine.ID ? "created" : "unchanged" };
      }
      // Every connector for this role is gone again (deleted by someone else meanwhile).
      notes.push(`connector ${mine.ID} was deleted by someone else right after it was created; creating it again`);
      if (round >= rounds)
        throw new ManagerError(
          "http",
          `The connector for ${target.roleArn} was deleted by someone else ${round} times right after it was created; another process is deregistering this account.`,
          {},
        );
    }
  }
}

const byId = (a: AWSConnector, b: AWSConnector) => (a.ID ?? 0) - (b.ID ?? 0);

/** An account with a create the manager may still be carrying out (see `settle`). */
interface Landing {
  readonly target: RoleTarget;
  readonly notes: string[];
  readonly found: { duplicates: number[]; removed: number[] };
  /** When its landing window ends. */
  readonly until: number;
}

/** A value the manager supplied, safe to put in a note (no control characters or escape sequences, bounded). */
function shown(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : stripControl(String(value)).slice(0, 300);
}

/**
 * Searches the account until exactly one connector has this role ARN, deleting the ones with
 * a higher ID (each read back first). Returns the one kept, or undefined if none is left.
 * `lost`: this run sent a create that got no answer, so an extra one may be its own.
 */
async function converge(
  client: ManagerClient,
  target: RoleTarget,
  options: RegisterOptions,
  notes: string[],
  found: { duplicates: number[]; removed: number[] },
  lost: boolean,
): Promise<AWSConnector | undefined> {
  for (let round = 1; ; round++) {
    const all = await outlastFailures(() => client.findConnectorsByAccount(target.accountId), options.createAttempts ?? 5);
    const same = all.filter((c) => c.accountId === target.accountId && c.crossAccountRoleArn === target.roleArn).sort(byId);
    if (same.length <= 1) return same[0];
    const [keep, ...extra] = same;
    found.duplicates.push(...extra.map((c) => c.ID!));
    const ids = extra.map((c) => c.ID).join(", ");
    notes.push(
      lost
        ? `connectors that appeared after this run's create (IDs ${ids}: made by a create of this run whose answer was lost, or by another run at the same time); keeping ${keep.ID}`
        : `connectors created at the same time by another run (IDs ${ids}); keeping ${keep.ID}`,
    );
    await removeDuplicates(client, target, keep.ID!, extra, found.removed, notes);
    if (round >= 10) return keep;
  }
}

/** Deletes each duplicate after reading it back and seeing this account and this role ARN; 404s are fine. */
async function removeDuplicates(
  client: ManagerClient,
  target: RoleTarget,
  keepId: number,
  duplicates: readonly AWSConnector[],
  removed: number[],
  notes: string[],
): Promise<void> {
  for (const d of duplicates) {
    if (d.ID === undefined || d.ID === keepId) continue;
    const id = d.ID;
    try {
      const now = await outlastFailures(() => client.describeConnector(id), 5);
      if (now.accountId !== target.accountId || now.crossAccountRoleArn !== target.roleArn) {
        notes.push(`connector ${id} now uses ${shown(now.crossAccountRoleArn) ?? "no role"}; not deleted`);
        continue;
      }
      await outlastFailures(() => client.deleteConnector(id), 5);
      removed.push(id);
      notes.push(`removed duplicate connector ${id} (kept ${keepId})`);
    } catch (error) {
      if (error instanceof ManagerError && error.kind === "not-found") {
        notes.push(
          `duplicate connector ${id} was gone when deleted (removed by another run, or by a try of this delete whose answer was lost)`,
        );
        continue;
      }
      throw error;
    }
  }
}

/** Removes the connectors of these roles' accounts that use these roles. */
export async function deregisterConnectors(
  client: ManagerClient,
  targets: readonly RoleTarget[],
  options: { concurrency?: number } = {},
): Promise<RegisterResult[]> {
  return mapLimit(targets, options.concurrency ?? 8, async (target) => {
    const started = Date.now();
    const base = { accountId: target.accountId, roleArn: target.roleArn, displayName: target.displayName, notes: [] as string[] };
    try {
      const found = (await client.findConnectorsByAccount(target.accountId)).filter((c) => c.crossAccountRoleArn === target.roleArn);
      for (const c of found) await client.deleteConnector(c.ID!);
      return { ...base, status: found.length ? "deregistered" : "unchanged", connectorId: found[0]?.ID, ms: Date.now() - started };
    } catch (error) {
      return { ...base, status: "failed", error: (error as Error).message, fix: fixFor(error), ms: Date.now() - started };
    }
  });
}

async function createOnce(
  client: ManagerClient,
  target: RoleTarget,
  options: RegisterOptions,
  notes: string[],
  workspacesEnabled: boolean,
): Promise<{ connector: AWSConnector; lost: boolean; mayStillRunAt?: number }> {
  const body: AWSConnector = { displayName: target.displayName, crossAccountRoleArn: target.roleArn, workspacesEnabled };
  let lostAnswers = 0;
  let mayStillRunAt: number | undefined;
  const deadline = Date.now() + (options.assumeRetryTimeoutMs ?? 180_000);
  let wait = options.assumeRetryDelayMs ?? 2000;
  for (;;) {
    try {
      return { connector: await client.createConnector(body), lost: lostAnswers > 0, mayStillRunAt };
    } catch (error) {
      if (!(error instanceof ManagerError)) throw error;
      const kind = classify(error);
      if (kind === "fatal") throw error;
      if (kind === "lost") {
        lostAnswers++;
        if (mayStillRun(error)) mayStillRunAt = Date.now();
        notes.push(`create answer lost (${error.details.code ?? `HTTP ${error.details.status}`}); searched before retrying`);
      } else {
        if (Date.now() + wait > deadline) {
          throw new ManagerError(
            "http",
            `The manager could not assume ${target.roleArn} for ${Math.round((options.assumeRetryTimeoutMs ?? 180_000) / 1000)} s: ${error.message}`,
            error.details,
            { cause: error },
          );
        }
        notes.push("the manager could not assume the role yet (IAM propagation); retried");
        await sleep(wait);
        wait = Math.min(wait * 2, 10_000);
      }
      // Never create twice: the lost create may have succeeded. This search must get through,
      // so it outlasts the transport's own retries.
      const found = await outlastFailures(() => client.findConnectorsByAccount(target.accountId), options.createAttempts ?? 5);
      const mine = found.filter((c) => c.crossAccountRoleArn === target.roleArn).sort(byId)[0];
      if (mine) {
        if (kind === "lost") notes.push(`found connector ${mine.ID} created by the lost request`);
        return { connector: mine, lost: lostAnswers > 0, mayStillRunAt };
      }
      if (kind === "lost") {
        if (lostAnswers >= (options.createAttempts ?? 5)) throw error;
        await sleep(Math.min(500 * 2 ** lostAnswers, 8000) * Math.random());
      }
    }
  }
}

/** Runs a read again, with backoff, while the manager fails in a passing way (5xx, 429, no answer). */
async function outlastFailures<T>(read: () => Promise<T>, rounds: number): Promise<T> {
  for (let round = 1; ; round++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof ManagerError) || classify(error) !== "lost" || round >= rounds) throw error;
      await sleep(Math.min(500 * 2 ** round, 8000) * (0.5 + Math.random() / 2));
    }
  }
}

async function withPropagationRetry<T>(fn: () => Promise<T>, options: RegisterOptions, notes: string[]): Promise<T> {
  const deadline = Date.now() + (options.assumeRetryTimeoutMs ?? 180_000);
  let wait = options.assumeRetryDelayMs ?? 2000;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof ManagerError) || classify(error) !== "propagation" || Date.now() + wait > deadline) throw error;
      notes.push("the manager could not assume the role yet (IAM propagation); retried");
      await sleep(wait);
      wait = Math.min(wait * 2, 10_000);
    }
  }
}

/**
 * Whether the manager may still be carrying out a request that failed this way: no answer came
 * from it. A timeout once the request was sent, a connection closed under it, a gateway's 502 or
 * 504. A refused connection or a connect timeout sent nothing; a 429, 500 or 503 came from a
 * manager that is done with the request, so what it made is already there to be found.
 */
function mayStillRun(error: ManagerError): boolean {
  if (error.kind === "timeout") return error.reason !== "connect";
  if (error.kind === "connection") return true;
  return error.details.status === 502 || error.details.status === 504;
}

/**
 * - `propagation`: the manager could not assume the role (a new role may not have propagated);
 * - `lost`: no answer, or a failure after which the create may have happened;
 * - `fatal`: refused key, missing right, invalid request: retrying cannot help.
 */
function classify(error: ManagerError): "propagation" | "lost" | "fatal" {
  if (error.kind === "timeout" || error.kind === "connection") return "lost";
  const status = error.details.status ?? 0;
  if (status >= 500 || status === 429) return "lost";
  if (status === 400 && ASSUME_FAILURE.test(error.message)) return "propagation";
  return "fatal";
}

/** How managers word "I could not assume the role" (the cause is often IAM still propagating it). */
const ASSUME_FAILURE = /\b(unable to|cannot|can't|could not|failed to) assume\b/i;

function fixFor(error: unknown): string {
  if (!(error instanceof ManagerError)) return "Run again with --verbose for details";
  if (ASSUME_FAILURE.test(error.message))
    return "Check the role's trust policy and permissions with `ds-onboard verify`; then run register again (it will not create duplicates)";
  if (error.exitCode === ExitCode.refused)
    return "Check the API key and the key's role (it needs to view, create, modify and delete AWS connectors)";
  if (classify(error) === "lost") return "The manager is failing or unreachable; run register again later (it will not create duplicates)";
  return "Check the values in the message, then run register again";
}
