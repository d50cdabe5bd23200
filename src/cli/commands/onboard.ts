/**
 * After deploy: verify, register, onboard (verify then register), deregister.
 */
import type { Argv, CommandModule } from "yargs";
import { ExitCode, UsageError } from "../../errors";
import type { RegisterResult } from "../../onboard/register";
import type { Targets } from "../../onboard/targets";
import type { VerifyResult } from "../../onboard/verify";
import type { ManagerPrincipal } from "../../policy/principal";
import type { Context, GlobalArgs } from "../context";
import { command } from "../run";

interface TargetArgs {
  config?: string;
  roleArn?: string[];
  principalAccount?: string;
  principalArn?: string;
  deploymentRoleName?: string;
  displayName?: string[];
  concurrency: number;
}

interface VerifyArgs extends TargetArgs {
  assumeAs?: string;
  propagationTimeout: number;
  alsoAccept?: string[];
}

interface RegisterArgs extends TargetArgs {
  sync: boolean;
  assumeRetryTimeout: number;
  checkTrust: boolean;
}

type OnboardArgs = VerifyArgs & RegisterArgs & { skipVerify: boolean };

function targetOptions<T>(y: Argv<T>) {
  return y
    .option("config", { type: "string", describe: "the onboarding config: its accounts (and discovery) and role settings" })
    .option("role-arn", { type: "string", array: true, describe: "a deployed role (repeat for more); the account is the one in the ARN" })
    .option("principal-account", {
      type: "string",
      describe: "with --role-arn: an on-premises manager's AWS account (default: Workload Security)",
    })
    .option("principal-arn", { type: "string", describe: "with --role-arn: the role or user ARN an on-premises manager runs as" })
    .option("deployment-role-name", {
      type: "string",
      describe: "with --role-arn: the role to assume in each member account to read its IAM",
    })
    .option("display-name", { type: "string", array: true, describe: "with --role-arn: the connector display names, in the same order" })
    .option("concurrency", { type: "number", default: 8, describe: "accounts handled at once" });
}

function verifyOptions<T>(y: Argv<T>) {
  return y
    .option("assume-as", {
      type: "string",
      describe: "a role that is (or is in the account of) the trusted principal, to run the assume-role check as",
    })
    .option("propagation-timeout", { type: "number", default: 60, describe: "seconds to wait for a new role to be visible and assumable" })
    .option("also-accept", { type: "string", array: true, describe: "another external ID the roles may accept (a migration window)" });
}

function registerOptions<T>(y: Argv<T>) {
  return y
    .option("sync", { type: "boolean", default: false, describe: "resynchronize connectors that are already right" })
    .option("assume-retry-timeout", {
      type: "number",
      default: 180,
      describe: "seconds to retry while the manager cannot assume a new role (IAM propagation)",
    })
    .option("check-trust", {
      type: "boolean",
      default: true,
      describe: "read each role first and refuse one whose trust policy is unsafe (needs AWS credentials; --no-check-trust skips)",
    });
}

/** The accounts of an onboarding config, with the config's manager settings as defaults. */
export async function targetsOfConfig(
  ctx: Context,
  configPath: string,
): Promise<{ targets: Targets; ctx: Context; loaded: import("../../config/load").LoadedConfig }> {
  const t = require("../../onboard/targets") as typeof import("../../onboard/targets");
  const { loadConfig } = require("../../config/load") as typeof import("../../config/load");
  const gen = require("../../generator/synthesize") as typeof import("../../generator/synthesize");
  const loaded = loadConfig(configPath);
  gen.applyConfigDefaults(ctx, loaded);
  const { accounts } = await gen.collectAccounts(loaded.config, ctx);
  if (accounts.length === 0) throw new UsageError(`${configPath} names no accounts.`);
  return { targets: t.targetsFromConfig(loaded.config, accounts), ctx, loaded };
}

/** The trusted principal given by flags: an on-premises manager's role or account, else Workload Security. */
export function principalFromFlags(args: { principalArn?: string; principalAccount?: string }): ManagerPrincipal {
  if (args.principalArn) return { type: "on-premises", arn: args.principalArn };
  if (args.principalAccount) return { type: "on-premises", accountId: args.principalAccount };
  return { type: "workload-security" };
}

async function resolveTargets(
  ctx: Context,
  args: TargetArgs,
): Promise<{ targets: Targets; ctx: Context; loaded?: import("../../config/load").LoadedConfig }> {
  const t = require("../../onboard/targets") as typeof import("../../onboard/targets");
  if (args.config && args.roleArn?.length) throw new UsageError("Give --config or --role-arn, not both.");
  if (args.config) return targetsOfConfig(ctx, args.config);
  if (!args.roleArn?.length) throw new UsageError("Name the roles: --config <file> or --role-arn <arn> (repeatable).");
  return {
    targets: t.targetsFromArns(args.roleArn, {
      principal: principalFromFlags(args),
      deploymentRoleName: args.deploymentRoleName,
      displayNames: args.displayName,
    }),
    ctx,
  };
}

async function externalIds(
  ctx: Context,
  loaded: import("../../config/load").LoadedConfig | undefined,
  alsoAccept: string[] | undefined,
): Promise<string[]> {
  const gen = require("../../generator/synthesize") as typeof import("../../generator/synthesize");
  const resolved = await gen.resolveConfiguredExternalId(loaded, ctx);
  return [resolved.externalId, ...(alsoAccept ?? [])];
}

async function runVerify(args: VerifyArgs, targets: Targets, ids: string[], progress: Progress): Promise<VerifyResult[]> {
  const { verifyRoles } = require("../../onboard/verify") as typeof import("../../onboard/verify");
  return verifyRoles(targets.roles, {
    principalArn: targets.principalArn,
    externalIds: ids,
    assumeAs: args.assumeAs,
    propagationTimeoutMs: args.propagationTimeout * 1000,
    concurrency: args.concurrency,
    onResult: (r) => progress.tick(`verified ${r.accountId}: ${r.ok ? "ok" : "FAILED"}`),
  });
}

/**
 * Register's safety check: read each role and refuse to register one whose trust policy lets
 * in a caller without the tenant's ID, another principal, or the wrong ID. A role that cannot
 * be read (no credentials, not yet visible) is registered anyway: the manager's own assume is
 * then the check.
 */
async function trustPrecheck(
  ctx: Context,
  args: RegisterArgs,
  targets: Targets,
  loaded?: import("../../config/load").LoadedConfig,
): Promise<{ safe: Targets["roles"]; refused: RegisterResult[] }> {
  if (!args.checkTrust) return { safe: targets.roles, refused: [] };
  const { verifyRoles } = require("../../onboard/verify") as typeof import("../../onboard/verify");
  let results: VerifyResult[];
  try {
    const ids = await externalIds(ctx, loaded, undefined);
    results = await verifyRoles(targets.roles, {
      principalArn: targets.principalArn,
      externalIds: ids,
      trustOnly: true,
      propagationTimeoutMs: 0,
      concurrency: args.concurrency,
    });
  } catch (error) {
    ctx.io.warn(
      `trust policies not checked before registering (${(error as Error).message}); the manager's assume-role is the only check. --no-check-trust silences this.`,
    );
    return { safe: targets.roles, refused: [] };
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
    ctx.io.debug(`trust of ${r.roleArn} not checked: ${r.checks.role.detail}`);
  return { safe: targets.roles.filter((t) => !refused.some((r) => r.accountId === t.accountId)), refused };
}

function registerSettings(args: RegisterArgs, progress: Progress): import("../../onboard/register").RegisterOptions {
  return {
    sync: args.sync,
    concurrency: args.concurrency,
    assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
    onResult: (r) => progress.tick(`${r.status} ${r.accountId}${r.connectorId !== undefined ? ` (connector ${r.connectorId})` : ""}`),
  };
}

async function runRegister(ctx: Context, args: RegisterArgs, targets: Targets["roles"], progress: Progress): Promise<RegisterResult[]> {
  const { registerConnectors } = require("../../onboard/register") as typeof import("../../onboard/register");
  return registerConnectors(ctx.manager(), targets, registerSettings(args, progress));
}

/** A progress bar on a terminal; one line per account otherwise (both on stderr). */
interface Progress {
  tick(line: string): void;
  stop(): void;
}

function progress(ctx: Context, total: number, label: string): Progress {
  if (process.stderr.isTTY && !ctx.args.verbose) {
    const { SingleBar, Presets } = require("cli-progress") as typeof import("cli-progress");
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} {last}`, stream: process.stderr, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0, { last: "" });
    return { tick: (line) => bar.increment(1, { last: line }), stop: () => bar.stop() };
  }
  return { tick: (line) => ctx.io.info(line), stop: () => undefined };
}

function verifyTable(results: VerifyResult[]): string {
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

function registerTable(results: RegisterResult[]): string {
  const lines = results.map((r) => {
    const head = `${r.accountId}  ${r.status.padEnd(12)} ${r.connectorId !== undefined ? `connector ${r.connectorId}` : ""}  ${r.ms} ms`;
    return [head, ...r.notes.map((n) => `    note: ${n}`), ...(r.error ? [`    error: ${r.error}`, `    fix: ${r.fix}`] : [])].join("\n");
  });
  const failed = results.filter((r) => r.status === "failed" || r.status === "skipped").length;
  return [...lines, `${results.length - failed} of ${results.length} account(s) registered${failed ? `; ${failed} failed` : ""}`].join(
    "\n",
  );
}

export const verifyCommand: CommandModule<GlobalArgs, GlobalArgs & VerifyArgs> = {
  command: "verify",
  describe: "Check deployed roles: trust, permissions, and the assume-role where the caller can do it",
  builder: (y) => verifyOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & VerifyArgs>,
  handler: command<VerifyArgs>(async (ctx0, args) => {
    const { targets, ctx, loaded } = await resolveTargets(ctx0, args);
    const ids = await externalIds(ctx, loaded, args.alsoAccept);
    const bar = progress(ctx, targets.roles.length, "verify");
    const results = await runVerify(args, targets, ids, bar).finally(() => bar.stop());
    ctx.io.result({ ok: results.every((r) => r.ok), principalArn: targets.principalArn, results }, verifyTable(results));
    return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.verification;
  }),
};

export const registerCommand: CommandModule<GlobalArgs, GlobalArgs & RegisterArgs> = {
  command: "register",
  describe: "Create or update the manager's AWS connectors, exactly once per account",
  builder: (y) => registerOptions(targetOptions(y)) as unknown as Argv<GlobalArgs & RegisterArgs>,
  handler: command<RegisterArgs>(async (ctx0, args) => {
    const { targets, ctx, loaded } = await resolveTargets(ctx0, args);
    const { safe, refused } = await trustPrecheck(ctx, args, targets, loaded);
    const bar = progress(ctx, safe.length, "register");
    const registered = await runRegister(ctx, args, safe, bar).finally(() => bar.stop());
    const results = targets.roles.map((t) => [...registered, ...refused].find((r) => r.accountId === t.accountId)!);
    const ok = results.every((r) => r.status !== "failed" && r.status !== "skipped");
    ctx.io.result({ ok, results }, registerTable(results));
    return ok ? ExitCode.ok : ExitCode.failed;
  }),
};

export const deregisterCommand: CommandModule<GlobalArgs, GlobalArgs & TargetArgs> = {
  command: "deregister",
  describe: "Delete the manager's AWS connectors for these roles (the roles themselves stay)",
  builder: (y) => targetOptions(y) as unknown as Argv<GlobalArgs & TargetArgs>,
  handler: command<TargetArgs>(async (ctx0, args) => {
    const { targets, ctx } = await resolveTargets(ctx0, args);
    const { deregisterConnectors } = require("../../onboard/register") as typeof import("../../onboard/register");
    const results = await deregisterConnectors(ctx.manager(), targets.roles, { concurrency: args.concurrency });
    const ok = results.every((r) => r.status !== "failed");
    ctx.io.result({ ok, results }, registerTable(results));
    return ok ? ExitCode.ok : ExitCode.failed;
  }),
};

export interface OnboardRow {
  accountId: string;
  displayName: string;
  status: string;
  connectorId?: number;
  ms: number;
  failed?: string;
  fix?: string;
}

export const onboardCommand: CommandModule<GlobalArgs, GlobalArgs & OnboardArgs> = {
  command: "onboard",
  describe: "Verify the deployed roles, then register the accounts that passed",
  builder: (y) =>
    registerOptions(verifyOptions(targetOptions(y))).option("skip-verify", {
      type: "boolean",
      default: false,
      describe: "register without verifying first",
    }) as unknown as Argv<GlobalArgs & OnboardArgs>,
  handler: command<OnboardArgs>(async (ctx0, args) => {
    const { targets, ctx, loaded } = await resolveTargets(ctx0, args);
    const { rows, ok } = await onboard(ctx, { ...args, checkTrust: false }, targets, loaded);
    ctx.io.result({ ok, accounts: rows }, onboardTable(rows));
    return ok ? ExitCode.ok : ExitCode.failed;
  }),
};

export async function onboard(
  ctx: Context,
  args: OnboardArgs,
  targets: Targets,
  loaded?: import("../../config/load").LoadedConfig,
): Promise<{ rows: OnboardRow[]; ok: boolean; verified: VerifyResult[]; registered: RegisterResult[] }> {
  let verified: VerifyResult[] = [];
  let registered: RegisterResult[];
  if (args.skipVerify) {
    const bar = progress(ctx, targets.roles.length, "register");
    registered = await runRegister(ctx, args, targets.roles, bar).finally(() => bar.stop());
  } else {
    // Each account is registered as soon as it is verified: verification and the manager's
    // rate-limited registration overlap instead of running one after the other.
    const ids = await externalIds(ctx, loaded, args.alsoAccept);
    const { Registrar } = require("../../onboard/register") as typeof import("../../onboard/register");
    const { verifyRoles } = require("../../onboard/verify") as typeof import("../../onboard/verify");
    const bar = progress(ctx, targets.roles.length * 2, "onboard");
    const registrar = await Registrar.open(ctx.manager(), registerSettings(args, bar));
    const pending: Promise<RegisterResult>[] = [];
    try {
      verified = await verifyRoles(targets.roles, {
        principalArn: targets.principalArn,
        externalIds: ids,
        assumeAs: args.assumeAs,
        propagationTimeoutMs: args.propagationTimeout * 1000,
        concurrency: args.concurrency,
        onResult: (v) => {
          bar.tick(`verified ${v.accountId}: ${v.ok ? "ok" : "FAILED"}`);
          const target = targets.roles.find((t) => t.accountId === v.accountId);
          if (v.ok && target) pending.push(registrar.register(target));
          else bar.tick(`skipped ${v.accountId}`);
        },
      });
      registered = await Promise.all(pending);
    } finally {
      bar.stop();
    }
    registrar.throwIfRefused();
  }
  const rows: OnboardRow[] = targets.roles.map((t) => {
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
  const ok = rows.every((r) => ["created", "updated", "unchanged", "synced"].includes(r.status));
  return { rows, ok, verified, registered };
}

export function onboardTable(rows: OnboardRow[]): string {
  const w = (s: string, n: number) => s.padEnd(n);
  const header = `${w("account", 14)}${w("name", 22)}${w("status", 15)}${w("connector", 11)}${w("time", 9)}what failed / what to do`;
  const lines = rows.map(
    (r) =>
      `${w(r.accountId, 14)}${w(r.displayName.slice(0, 20), 22)}${w(r.status, 15)}${w(r.connectorId === undefined ? "-" : String(r.connectorId), 11)}${w(`${(r.ms / 1000).toFixed(1)} s`, 9)}${r.failed ? `${r.failed} -> ${r.fix ?? ""}` : ""}`,
  );
  const good = rows.filter((r) => ["created", "updated", "unchanged", "synced"].includes(r.status)).length;
  return [header, ...lines, `${good} of ${rows.length} account(s) onboarded`].join("\n");
}
