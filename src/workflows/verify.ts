/**
 * Verify a project's deployed roles: trust, permissions (with the project's role options), and
 * the assume-role where the caller can act as the trusted principal.
 */
import type { Project } from "../app/project";
import { type VerifyOptions, type VerifyResult, verifyRoles } from "../onboard/verify";

export interface VerifyProjectOptions {
  /** A role that is (or is in the account of) the trusted principal, to run the assume-role check as. @default none: the caller itself, where the principal covers it */
  readonly assumeAs?: string;
  /** How long to wait for a new role to be visible and assumable, in ms. @default 60000 */
  readonly propagationTimeoutMs?: number;
  /** Accounts checked at once. @default 8 */
  readonly concurrency?: number;
  /** Other external IDs the roles may accept (a migration window). @default none */
  readonly alsoAccept?: readonly string[];
  readonly onResult?: (result: VerifyResult) => void;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly principalArn: string;
  readonly results: readonly VerifyResult[];
}

export async function verifyProject(project: Project, options: VerifyProjectOptions = {}): Promise<VerifyReport> {
  const results = await verifyRoles(project.targets, await verifySettings(project, options));
  return { ok: results.every((r) => r.ok), principalArn: project.principalArn, results };
}

/** What verification of a project checks: its principal, the tenant's ID (and others allowed), its role options. */
export async function verifySettings(project: Project, options: VerifyProjectOptions): Promise<VerifyOptions> {
  const tenant = await project.externalId();
  return {
    principalArn: project.principalArn,
    externalIds: [tenant.externalId, ...(options.alsoAccept ?? [])],
    includeWorkspaces: project.includeWorkspaces,
    assumeAs: options.assumeAs,
    propagationTimeoutMs: options.propagationTimeoutMs,
    concurrency: options.concurrency,
    onResult: options.onResult,
  };
}
