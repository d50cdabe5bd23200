/**
 * Onboard a project's accounts: verify each deployed role, and register each account as soon as
 * its role passed, so that verification and the manager's rate-limited registration overlap.
 */
import type { Project } from "../app/project";
import { type RegisterResult, Registrar } from "../onboard/register";
import { type VerifyResult, verifyRoles } from "../onboard/verify";
import { REGISTERED, type RegisterProjectOptions, registerProject, registerSettings } from "./register";
import { type VerifyProjectOptions, verifySettings } from "./verify";

export interface OnboardOptions extends Omit<VerifyProjectOptions, "onResult">, Omit<RegisterProjectOptions, "onResult"> {
  /**
   * Register without verifying first. The trust pre-check (`checkTrust`) still refuses roles
   * whose trust policy is unsafe; with verification, the full check covers it. @default false
   */
  readonly skipVerify?: boolean;
  /** Called once per step done: each account verified, then registered (or skipped). */
  readonly onStep?: (line: string) => void;
}

/** One account's outcome. */
export interface OnboardRow {
  readonly accountId: string;
  readonly displayName: string;
  /** `created`, `updated`, `unchanged`, `synced`, `verify failed`, `failed` or `skipped`. */
  readonly status: string;
  readonly connectorId?: number;
  readonly ms: number;
  readonly failed?: string;
  readonly fix?: string;
}

export interface OnboardReport {
  readonly ok: boolean;
  readonly rows: readonly OnboardRow[];
  readonly verified: readonly VerifyResult[];
  readonly registered: readonly RegisterResult[];
}

/** How many steps {@link onboardProject} reports through `onStep`, for a progress bar. */
export function onboardSteps(project: Project, options: Pick<OnboardOptions, "skipVerify">): number {
  return project.targets.length * (options.skipVerify ? 1 : 2);
}

export async function onboardProject(project: Project, options: OnboardOptions = {}): Promise<OnboardReport> {
  const step = options.onStep ?? (() => undefined);
  const targets = project.targets;
  const registeredStep = (r: RegisterResult) =>
    step(`${r.status} ${r.accountId}${r.connectorId !== undefined ? ` (connector ${r.connectorId})` : ""}`);
  let verified: VerifyResult[] = [];
  let registered: RegisterResult[];
  if (options.skipVerify) {
    registered = [...(await registerProject(project, { ...options, onResult: registeredStep })).results];
  } else {
    const registrar = await Registrar.open(project.session.manager(), registerSettings(project, { ...options, onResult: registeredStep }));
    const pending: Promise<RegisterResult>[] = [];
    verified = await verifyRoles(
      targets,
      await verifySettings(project, {
        ...options,
        onResult: (v) => {
          step(`verified ${v.accountId}: ${v.ok ? "ok" : "FAILED"}`);
          const target = targets.find((t) => t.accountId === v.accountId);
          if (v.ok && target) pending.push(registrar.register(target));
          else step(`skipped ${v.accountId}`);
        },
      }),
    );
    registered = await registrar.settle(await Promise.all(pending));
    registrar.throwIfRefused();
  }
  const rows = targets.map((t): OnboardRow => {
    const v = verified.find((x) => x.accountId === t.accountId);
    const r = registered.find((x) => x.accountId === t.accountId);
    if (v && !v.ok) {
      const [name, check] = Object.entries(v.checks).find(([, c]) => c.status === "fail")!;
      return {
        accountId: t.accountId,
        displayName: t.displayName,
        status: "verify failed",
        ms: v.ms,
        failed: `${name}: ${check.detail}`,
        fix: check.fix,
      };
    }
    return {
      accountId: t.accountId,
      displayName: t.displayName,
      status: r?.status ?? "skipped",
      connectorId: r?.connectorId,
      ms: (v?.ms ?? 0) + (r?.ms ?? 0),
      failed: r?.error,
      fix: r?.fix,
    };
  });
  return { ok: rows.every((r) => REGISTERED.has(r.status)), rows, verified, registered };
}
