/**
 * Text tables of the command results (the JSON output is the results themselves).
 */
import type { RegisterResult } from "../onboard/register";
import { REGISTERED, settledState } from "../onboard/status";
import type { VerifyResult } from "../onboard/verify";
import type { DoctorCheck } from "../workflows/doctor";
import type { MigrationReport } from "../workflows/migrate";
import type { OnboardRow } from "../workflows/onboard";
import type { ReconcileReport } from "../workflows/reconcile";
import type { StatusReport } from "../workflows/status";

export function verifyTable(results: readonly VerifyResult[]): string {
  const mark = (s: string) => (s === "pass" ? "pass" : s === "fail" ? "FAIL" : "not run");
  const lines = results.flatMap((r) => [
    `${r.accountId}  ${r.displayName}  ${r.ok ? "OK" : "FAILED"}  (${r.ms} ms)`,
    ...(["role", "trust", "permissions", "assumeRole"] as const).flatMap((k) => [
      `    ${k.padEnd(12)} ${mark(r.checks[k].status).padEnd(8)} ${r.checks[k].detail}`,
      ...(r.checks[k].status === "fail"
        ? [...(r.checks[k].drift ?? []).map((d) => `        - ${d}`), ...(r.checks[k].fix ? [`        fix: ${r.checks[k].fix}`] : [])]
        : []),
    ]),
  ]);
  const failed = results.filter((r) => !r.ok).length;
  return [...lines, `${results.length - failed} of ${results.length} role(s) verified${failed ? `; ${failed} failed` : ""}`].join("\n");
}

export function registerTable(results: readonly RegisterResult[], verb = "registered"): string {
  const lines = results.map((r) => {
    const head = `${r.accountId}  ${r.status.padEnd(12)} ${r.connectorId !== undefined ? `connector ${r.connectorId}` : ""}  ${r.ms} ms`;
    return [head, ...r.notes.map((n) => `    note: ${n}`), ...(r.error ? [`    error: ${r.error}`, `    fix: ${r.fix}`] : [])].join("\n");
  });
  const failed = results.filter((r) => r.status === "failed" || r.status === "skipped").length;
  return [...lines, `${results.length - failed} of ${results.length} account(s) ${verb}${failed ? `; ${failed} failed` : ""}`].join("\n");
}

export function onboardTable(rows: readonly OnboardRow[]): string {
  const w = (s: string, n: number) => s.padEnd(n);
  const header = `${w("account", 14)}${w("name", 22)}${w("status", 15)}${w("connector", 11)}${w("time", 9)}what failed / what to do`;
  const lines = rows.map(
    (r) =>
      `${w(r.accountId, 14)}${w(r.displayName.slice(0, 20), 22)}${w(r.status, 15)}${w(r.connectorId === undefined ? "-" : String(r.connectorId), 11)}${w(`${(r.ms / 1000).toFixed(1)} s`, 9)}${r.failed ? `${r.failed} -> ${r.fix ?? ""}` : ""}`,
  );
  const good = rows.filter((r) => REGISTERED.has(r.status)).length;
  return [header, ...lines, `${good} of ${rows.length} account(s) onboarded`].join("\n");
}

export function doctorTable(checks: readonly DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`).join("\n");
}

export function migrationText(report: MigrationReport): string {
  const yes = (b: boolean) => (b ? "yes" : "no");
  const summary = report.accounts.map(
    (a) =>
      `${a.accountId}  ${a.classification.padEnd(12)} widened=${yes(a.widened)} switched=${yes(a.switched)} narrowed=${yes(a.narrowed)}${a.detail ? `  (${a.detail})` : ""}`,
  );
  return [
    `migrate-external-id ${report.phase}${report.dryRun ? " (dry run: nothing written or changed)" : ""}; tenant external ID ${report.tenantExternalId}; state ${report.statePath}`,
    ...report.messages,
    "",
    ...summary,
  ].join("\n");
}

/** Reconcile's table: one line per account that is not healthy (healthy ones are counted), then the counts. */
export function reconcileTable(report: ReconcileReport): string {
  const w = (s: string, n: number) => s.padEnd(n);
  const shown = report.accounts.filter((a) => a.state !== "healthy" || a.action);
  const lines = shown.flatMap((a) => [
    `${w(a.accountId, 14)}${w(a.displayName.slice(0, 20), 22)}${w(a.state, 12)}${a.action ? `${w(a.action, 13)}-> ${a.after}` : ""}`,
    ...a.reasons.map((r) => `    ${r}`),
    ...(a.error ? [`    error: ${a.error}`] : []),
    ...(a.fix && !(a.after && settledState(a.after)) ? [`    fix: ${a.fix}`] : []),
  ]);
  // The counts hold every state, in the workflow's order.
  const counts = (c: Readonly<Record<string, number>>) =>
    Object.entries(c)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(", ") || "no accounts";
  return [
    `reconcile (${report.selection}): ${counts(report.counts)}`,
    ...(lines.length
      ? ["", `${w("account", 14)}${w("name", 22)}${w("state", 12)}${report.applied ? "action       -> after" : ""}`, ...lines]
      : []),
    "",
    report.countsAfter
      ? `after applying: ${counts(report.countsAfter)}`
      : report.ok
        ? "nothing to do"
        : "report only: --apply-registration registers, repairs and deregisters connectors",
    report.ok ? "in sync" : "needs action (exit code 4)",
  ].join("\n");
}

export function statusTable(report: StatusReport): string {
  const w = (s: string, n: number) => s.padEnd(n);
  const header = `${w("ID", 7)}${w("account", 14)}${w("name", 22)}${w("state", 14)}${w("last sync", 22)}${report.unowned ? w("owner", 9) : ""}role`;
  const lines = report.connectors.map(
    (c) =>
      `${w(String(c.id), 7)}${w(c.accountId ?? "-", 14)}${w((c.displayName ?? "").slice(0, 20), 22)}${w(c.state, 14)}${w(c.lastSyncTime?.replace(/\.\d+Z$/, "Z") ?? "never", 22)}${report.unowned ? w(c.owned ? "known" : "UNKNOWN", 9) : ""}${c.roleArn ?? "-"}${c.sameAccount.length ? `  (same account: ${c.sameAccount.join(", ")})` : ""}`,
  );
  return [
    header,
    ...lines,
    `${report.connectors.length} AWS connector(s)${report.unowned ? `; ${report.unowned.length} owned by no account of the config; ${report.withoutConnector!.length} account(s) of the config without a connector` : ""}`,
  ].join("\n");
}
