/**
 * Register a project's accounts with the manager, exactly once each, after a safety check of
 * each role's live trust policy; and deregister them.
 */
import type { Project, RoleTarget } from "../app/project";
import { deregisterConnectors, type RegisterOptions, type RegisterResult, registerConnectors } from "../onboard/register";
import { REGISTERED } from "../onboard/status";
import { verifyRoles } from "../onboard/verify";

export interface RegisterProjectOptions {
  /** Read each role first and refuse one whose trust policy is unsafe or wrong. @default true */
  readonly checkTrust?: boolean;
  /** Resynchronize connectors that are already right. @default false */
  readonly sync?: boolean;
  /** Accounts handled at once. @default 8 */
  readonly concurrency?: number;
  /** How long to retry while the manager cannot assume a new role (IAM propagation), in ms. @default 180000 */
  readonly assumeRetryTimeoutMs?: number;
  /** Delete connectors that duplicate an account's kept one (same role ARN) found from earlier runs. @default false: reported only */
  readonly removeDuplicates?: boolean;
  readonly onResult?: (result: RegisterResult) => void;
}

export interface RegisterReport {
  readonly ok: boolean;
  /** One result per account, in the project's order. */
  readonly results: readonly RegisterResult[];
}

export { REGISTERED };

export async function registerProject(project: Project, options: RegisterProjectOptions = {}): Promise<RegisterReport> {
  const targets = project.targets;
  const { safe, refused } = options.checkTrust === false ? { safe: targets, refused: [] } : await trustPrecheck(project, targets, options);
  for (const r of refused) options.onResult?.(r);
  const registered = safe.length ? await registerConnectors(project.session.manager(), safe, registerSettings(project, options)) : [];
  const results = targets.map((t) => [...registered, ...refused].find((r) => r.accountId === t.accountId)!);
  return { ok: results.every((r) => REGISTERED.has(r.status)), results };
}

/** The registration settings of a project: the connectors follow the role options. */
export function registerSettings(project: Project, options: RegisterProjectOptions): RegisterOptions {
  return {
    sync: options.sync,
    concurrency: options.concurrency,
    assumeRetryTimeoutMs: options.assumeRetryTimeoutMs,
    workspacesEnabled: project.includeWorkspaces,
    removeDuplicates: options.removeDuplicates,
    onResult: options.onResult,
    onWait: (message) => project.session.log.info(message),
  };
}

/**
 * Register's safety check: read each role and refuse to register one whose trust policy lets in a
 * caller without the tenant's ID, another principal, or the wrong ID. A role that cannot be read
 * (no credentials, not yet visible) is registered anyway: the manager's own assume-role is then
 * the check.
 */
export async function trustPrecheck(
  project: Project,
  targets: readonly RoleTarget[],
  options: { concurrency?: number },
): Promise<{ safe: RoleTarget[]; refused: RegisterResult[] }> {
  const log = project.session.log;
  let results: Awaited<ReturnType<typeof verifyRoles>>;
  try {
    const tenant = await project.externalId();
    results = await verifyRoles(targets, {
      principalArn: project.principalArn,
      externalIds: [tenant.externalId],
      trustOnly: true,
      propagationTimeoutMs: 0,
      concurrency: options.concurrency,
    });
  } catch (error) {
    log.warn(`trust policies not checked before registering (${(error as Error).message}); the manager's assume-role is the only check.`);
    return { safe: [...targets], refused: [] };
  }
  const refused = results
    .filter((r) => r.checks.trust.status === "fail")
    .map(
      (r): RegisterResult => ({
        accountId: r.accountId,
        roleArn: r.roleArn,
        displayName: r.displayName,
        status: "failed",
        ms: r.ms,
        notes: r.checks.trust.drift ?? [],
        error: `not registered: the role's trust policy is unsafe or wrong (${r.checks.trust.detail})`,
        fix: r.checks.trust.fix,
      }),
    );
  for (const r of results.filter((x) => x.checks.role.status === "fail"))
    log.debug(`trust of ${r.roleArn} not checked: ${r.checks.role.detail}`);
  return { safe: targets.filter((t) => !refused.some((r) => r.accountId === t.accountId)), refused };
}

export interface DeregisterProjectOptions {
  /** Accounts handled at once. @default 8 */
  readonly concurrency?: number;
  readonly onResult?: (result: RegisterResult) => void;
}

/** Deletes the connectors of the project's roles (the roles themselves stay). */
export async function deregisterProject(project: Project, options: DeregisterProjectOptions = {}): Promise<RegisterReport> {
  const results = await deregisterConnectors(project.session.manager(), project.targets, { concurrency: options.concurrency });
  for (const r of results) options.onResult?.(r);
  return { ok: results.every((r) => r.status !== "failed"), results };
}
