/**
 * Offboarding accounts that left: the manager's connector first (deregistered, or kept when the
 * config says so), then the role, by Terraform. Never the other way round: a connector whose role
 * is gone fails every synchronization.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Project, RoleTarget } from "../app/project";
import { UsageError } from "../errors";
import { manifestPathOf, parseManifest } from "../generator/lifecycle";
import { deregisterConnectors, type RegisterResult } from "../onboard/register";
import { selectionFlags, selectionSuffix } from "../policy/selection";

export interface OffboardOptions {
  /** Keep the connectors (report them only). @default the config's `deployment.removedAccounts`, else deregister */
  readonly keepConnectors?: boolean;
  /** Accounts handled at once. @default 8 */
  readonly concurrency?: number;
  /**
   * A config never synthesized (no accounts record) has no account known to have left: report
   * none instead of refusing (a pipeline's first run). @default false: refuse
   */
  readonly ifRecorded?: boolean;
}

export interface OffboardRow {
  readonly accountId: string;
  readonly roleArn: string;
  /** `deregistered`, `kept`, `none` (no connector), or `failed`. */
  readonly connector: "deregistered" | "kept" | "none" | "failed";
  readonly connectorIds: readonly number[];
  readonly error?: string;
}

export interface OffboardReport {
  readonly ok: boolean;
  readonly accounts: readonly OffboardRow[];
  /** What removes the roles (the tool does not deploy). */
  readonly next: string;
}

/**
 * The roles to offboard: for a project from role ARNs, its roles; for a config, the accounts its
 * record of the last synthesis holds that the config (or discovery) no longer has.
 */
export function leavingTargets(project: Project, options: { ifRecorded?: boolean } = {}): RoleTarget[] {
  if (!project.config) return [...project.targets];
  const path = manifestPathOf(project.config.path, selectionSuffix(project.scope.selection));
  if (!existsSync(path) && options.ifRecorded) return [];
  if (!existsSync(path))
    throw new UsageError(
      `${path} does not exist: no synthesis of ${project.config.path} was recorded, so no account is known to have left. Name the roles instead (by ARN).`,
    );
  const manifest = parseManifest(readFileSync(path, "utf8"));
  if (!manifest)
    throw new UsageError(`${path} is not a ds-onboard accounts record; restore it from version control, or name the roles by ARN.`);
  // Accounts of another shard or OU selection have not left.
  const now = new Set(project.scope.allAccounts.map((a) => a.accountId));
  const config = project.config.config;
  const partition = config.role?.partition ?? "aws";
  const roleArn = (accountId: string) =>
    `arn:${partition}:iam::${accountId}:role${config.role?.path ?? "/"}${config.role?.roleName ?? "DeepSecurityCrossAccountRole"}`;
  const seen = new Set<string>();
  return [...manifest.retired, ...manifest.accounts]
    .filter((a) => !now.has(a.accountId) && !seen.has(a.accountId) && seen.add(a.accountId) !== undefined)
    .map((a) => ({
      accountId: a.accountId,
      roleArn: roleArn(a.accountId),
      displayName: a.displayName ?? a.accountId,
      deploymentRoleArn: a.deploymentRoleArn,
    }));
}

export async function offboardProject(project: Project, options: OffboardOptions = {}): Promise<OffboardReport> {
  const targets = leavingTargets(project, options);
  const keep = options.keepConnectors ?? project.config?.config.deployment?.removedAccounts === "keep";
  const next = project.config
    ? `Now remove the roles: ds-onboard synth --config ${project.config.path}${selectionFlags(project.scope.selection)}, then terraform apply (or cdktf deploy) of its stacks: the providers of the accounts that left stay until their roles are destroyed.`
    : "Now remove the roles: drop the accounts from the Terraform configuration that made them and apply it.";
  if (targets.length === 0) return { ok: true, accounts: [], next: "No account has left since the last synthesis." };
  let results: readonly RegisterResult[];
  if (keep) {
    const client = project.session.manager();
    results = await Promise.all(
      targets.map(async (t) => {
        const found = (await client.findConnectorsByAccount(t.accountId)).filter((c) => c.crossAccountRoleArn === t.roleArn);
        return {
          accountId: t.accountId,
          roleArn: t.roleArn,
          displayName: t.displayName,
          status: found.length ? "unchanged" : "skipped",
          connectorId: found[0]?.ID,
          ms: 0,
          notes: [],
        } as RegisterResult;
      }),
    );
  } else {
    results = await deregisterConnectors(project.session.manager(), targets, { concurrency: options.concurrency });
  }
  const accounts = results.map(
    (r): OffboardRow => ({
      accountId: r.accountId,
      roleArn: r.roleArn,
      connector:
        r.status === "failed"
          ? "failed"
          : keep
            ? r.connectorId !== undefined
              ? "kept"
              : "none"
            : r.status === "deregistered"
              ? "deregistered"
              : "none",
      connectorIds: r.connectorId !== undefined ? [r.connectorId] : [],
      error: r.error,
    }),
  );
  return { ok: accounts.every((a) => a.connector !== "failed"), accounts, next };
}
