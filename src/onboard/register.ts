/**
 * Registration: one AWS connector per account, exactly once.
 *
 * One list call indexes the existing connectors by account. Then, per account: the same role
 * is left alone (or resynchronized), a different role is modified, a missing connector is
 * created. A create is never repeated blindly: before any retry the account is searched again,
 * so a create that timed out but succeeded is found, not duplicated. The manager's "cannot
 * assume the role" answers (IAM still propagating a new role) are retried with backoff within
 * a bound; refused keys fail at once; other answers fail the account.
 */
import { ExitCode } from "../errors";
import type { ManagerClient } from "../manager/client";
import { ManagerError } from "../manager/errors";
import type { AWSConnector } from "../manager/types";
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
  /** The connectors' WorkSpaces setting; follows the role's `includeWorkspaces`. Default: true. */
  readonly workspacesEnabled?: boolean;
  readonly onResult?: (result: RegisterResult) => void;
}

export async function registerConnectors(
  client: ManagerClient,
  targets: readonly RoleTarget[],
  options: RegisterOptions = {},
): Promise<RegisterResult[]> {
  const registrar = await Registrar.open(client, options);
  const results = await Promise.all(targets.map((t) => registrar.register(t)));
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
  private readonly waiting: (() => void)[] = [];

  private constructor(
    private readonly client: ManagerClient,
    private readonly index: Map<string, AWSConnector[]>,
    private readonly options: RegisterOptions,
  ) {}

  static async open(client: ManagerClient, options: RegisterOptions = {}): Promise<Registrar> {
    const index = new Map<string, AWSConnector[]>();
    for (const c of await client.listConnectors()) {
      if (c.accountId) index.set(c.accountId, [...(index.get(c.accountId) ?? []), c]);
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
    const done = (status: RegisterStatus, extra: Partial<RegisterResult> = {}): RegisterResult => {
      const result = {
        accountId: target.accountId,
        roleArn: target.roleArn,
        displayName: target.displayName,
        status,
        ms: Date.now() - started,
        notes,
        ...extra,
      };
      options.onResult?.(result);
      return result;
    };
    if (this.refused) return done("skipped", { error: "not tried: the manager refused the API key", fix: this.refused.message });
    try {
      const existing = (this.index.get(target.accountId) ?? []).sort((a, b) => (a.ID ?? 0) - (b.ID ?? 0));
      if (existing.length > 1)
        notes.push(
          `${existing.length} connectors exist for this account (IDs ${existing.map((c) => c.ID).join(", ")}); using ${existing[0].ID}`,
        );
      const current = existing[0];
      if (current?.ID !== undefined) {
        if (current.crossAccountRoleArn === target.roleArn) {
          if (!options.sync) return done("unchanged", { connectorId: current.ID });
          await client.modifyConnector(current.ID, {}, { sync: true });
          return done("synced", { connectorId: current.ID });
        }
        notes.push(`role changed from ${current.crossAccountRoleArn ?? "(none)"} to ${target.roleArn}`);
        const modified = await withPropagationRetry(
          () => client.modifyConnector(current.ID!, { crossAccountRoleArn: target.roleArn }, { sync: true }),
          options,
          notes,
        );
        return done("updated", { connectorId: modified.ID });
      }
      const created = await createOnce(client, target, options, notes);
      return done("created", { connectorId: created.ID });
    } catch (error) {
      if (error instanceof ManagerError && error.exitCode === ExitCode.refused) this.refused = error;
      const message = (error as Error).message ?? String(error);
      return done("failed", { error: message, fix: fixFor(error) });
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

async function createOnce(client: ManagerClient, target: RoleTarget, options: RegisterOptions, notes: string[]): Promise<AWSConnector> {
  const body: AWSConnector = { displayName: target.displayName, crossAccountRoleArn: target.roleArn };
  let lostAnswers = 0;
  const deadline = Date.now() + (options.assumeRetryTimeoutMs ?? 180_000);
  let wait = options.assumeRetryDelayMs ?? 2000;
  for (;;) {
    try {
      return await client.createConnector(body);
    } catch (error) {
      if (!(error instanceof ManagerError)) throw error;
      const kind = classify(error);
      if (kind === "fatal") throw error;
      if (kind === "lost") {
        lostAnswers++;
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
      const mine = found.find((c) => c.crossAccountRoleArn === target.roleArn) ?? found[0];
      if (mine) {
        if (kind === "lost") notes.push(`found connector ${mine.ID} created by the lost request`);
        return mine;
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
    return "Check DS_API_KEY and the key's role (it needs to view, create and modify AWS connectors)";
  if (classify(error) === "lost") return "The manager is failing or unreachable; run register again later (it will not create duplicates)";
  return "Check the values in the message, then run register again";
}
