/**
 * `ds-onboard migrate-external-id <phase>`: from user-defined external IDs to the tenant's,
 * with no moment of lost access. discover, plan, widen (roles accept both IDs), switch
 * (connectors move to the tenant's ID), narrow (roles accept the tenant's ID alone).
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { ExitCode, UsageError } from "../../errors";
import { writeFileAtomic } from "../../files";
import type { AccountMigration, MigrationState, Phase } from "../../migrate/state";
import type { RoleTarget, Targets } from "../../onboard/targets";
import { maskExternalId } from "../../redact";
import type { Context, GlobalArgs } from "../context";
import { command } from "../run";

interface MigrateArgs {
  phase: Phase;
  config?: string;
  state?: string;
  out?: string;
  dryRun: boolean;
  principalAccount?: string;
  principalArn?: string;
  deploymentRoleName?: string;
}

export const migrateCommand: CommandModule<GlobalArgs, GlobalArgs & MigrateArgs> = {
  command: "migrate-external-id <phase>",
  describe: "Move roles and connectors from a user-defined external ID to the manager-defined one, without lost access",
  builder: (y) =>
    y
      .positional("phase", {
        choices: ["discover", "plan", "widen", "switch", "narrow"] as const,
        demandOption: true,
        describe: "the step to run; each refuses to start before the one it needs",
      })
      .option("config", { type: "string", describe: "the onboarding config (default: the accounts of the manager's connectors)" })
      .option("state", {
        type: "string",
        describe: "the migration state file (default: beside the config, or ./ds-onboard-migration.json)",
      })
      .option("out", {
        type: "string",
        describe: "where widen and narrow write (default: the config's cdktf.out, or ./migration-trust-policies)",
      })
      .option("dry-run", { type: "boolean", default: false, describe: "say what would happen; write and change nothing" })
      .option("principal-account", {
        type: "string",
        describe: "without --config: an on-premises manager's AWS account (default: Workload Security)",
      })
      .option("principal-arn", { type: "string", describe: "without --config: the role or user an on-premises manager runs as" })
      .option("deployment-role-name", {
        type: "string",
        default: "OrganizationAccountAccessRole",
        describe: "without --config: the role to assume in each account to read its IAM",
      })
      .example("$0 migrate-external-id discover --config ds-onboard.yaml", "classify every account")
      .example(
        "$0 migrate-external-id widen --config ds-onboard.yaml",
        "write roles that accept both IDs; deploy; run it again to verify",
      ) as unknown as Argv<GlobalArgs & MigrateArgs>,
  handler: command<MigrateArgs>(async (ctx0, args) => {
    const m = require("../../migrate/state") as typeof import("../../migrate/state");
    const { ctx, targets, loaded } = await migrationTargets(ctx0, args);
    const statePath = resolve(
      args.state ?? (args.config ? `${args.config.replace(/\.(ya?ml|json)$/, "")}.migration.json` : "ds-onboard-migration.json"),
    );
    let state = m.loadState(statePath);
    m.checkPhaseOrder(args.phase, state);
    const gen = require("../../generator/synthesize") as typeof import("../../generator/synthesize");
    const tenant = await gen.resolveConfiguredExternalId(loaded, ctx);
    const save = (s: MigrationState) => {
      if (!args.dryRun) m.saveState(statePath, s);
    };
    const client = ctx.manager();
    const lines: string[] = [];
    let failed = 0;

    if (args.phase === "discover") {
      const connectors = new Map((await client.listConnectors()).map((c) => [c.accountId, c]));
      const live = await liveIds(targets, tenant.externalId);
      const next: MigrationState = { version: 1, principalArn: targets.principalArn, accounts: {} };
      for (const t of targets.roles) {
        const found = live.get(t.accountId)!;
        const before = state?.accounts[t.accountId];
        next.accounts[t.accountId] = {
          accountId: t.accountId,
          roleArn: t.roleArn,
          connectorId: connectors.get(t.accountId)?.ID,
          classification: found.classification,
          detail: found.detail ?? (connectors.has(t.accountId) ? undefined : "no connector in the manager for this account"),
          widened: before?.widened ?? found.classification === "both",
          switched: before?.switched ?? false,
          narrowed: before?.narrowed ?? false,
          updatedAt: new Date().toISOString(),
        };
      }
      state = next;
      save(state);
    } else if (args.phase === "plan") {
      for (const a of Object.values(state!.accounts)) lines.push(`${a.accountId}  ${a.classification.padEnd(12)} ${planFor(a)}`);
    } else if (args.phase === "widen" || args.phase === "narrow") {
      const widen = args.phase === "widen";
      const live = await liveIds(targets, tenant.externalId);
      const oldIds = new Map(
        [...live].filter(([id]) => m.migrating(state!).some((a) => a.accountId === id)).map(([id, v]) => [id, v.oldId]),
      );
      const out = await writeTrust(
        ctx,
        args,
        targets,
        loaded,
        widen ? (accountId, t) => (oldIds.get(accountId) ? [oldIds.get(accountId)!, t] : undefined) : () => undefined,
        tenant.externalId,
      );
      lines.push(
        args.dryRun
          ? `would write ${out}`
          : `wrote ${out}; deploy it, then run \`ds-onboard migrate-external-id ${args.phase}\` again to verify`,
      );
      for (const a of m.migrating(state!)) {
        const now = live.get(a.accountId)!;
        if (widen) a.widened = a.widened || now.classification === "both";
        else a.narrowed = now.classification === "migrated";
        a.updatedAt = new Date().toISOString();
        const done = widen ? a.widened : a.narrowed;
        lines.push(
          `${a.accountId}  ${done ? (widen ? "widened: accepts the old and the tenant's ID (verified)" : "narrowed: the old ID is refused (verified)") : "waiting for the deploy"}`,
        );
      }
      save(state!);
    } else {
      // switch: one connector at a time, the state saved after each, so that a kill loses nothing.
      for (const a of m.migrating(state!)) {
        if (a.switched) {
          lines.push(`${a.accountId}  already switched`);
          continue;
        }
        if (a.connectorId === undefined) {
          failed++;
          lines.push(`${a.accountId}  no connector: register the account instead (ds-onboard register)`);
          continue;
        }
        if (args.dryRun) {
          lines.push(`${a.accountId}  would modify connector ${a.connectorId} (same role ARN, no external ID, sync)`);
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
          lines.push(`${a.accountId}  switched connector ${a.connectorId} to the tenant's ID; the manager synchronized it`);
        } catch (error) {
          failed++;
          lines.push(`${a.accountId}  switch failed, the connector keeps its old ID: ${(error as Error).message}`);
        }
      }
    }

    const accounts = Object.values(state!.accounts);
    const summary = accounts.map(
      (a) =>
        `${a.accountId}  ${a.classification.padEnd(12)} widened=${yes(a.widened)} switched=${yes(a.switched)} narrowed=${yes(a.narrowed)}${a.detail ? `  (${a.detail})` : ""}`,
    );
    ctx.io.result(
      { phase: args.phase, dryRun: args.dryRun, statePath, tenantExternalId: maskExternalId(tenant.externalId), accounts, messages: lines },
      [
        `migrate-external-id ${args.phase}${args.dryRun ? " (dry run: nothing written or changed)" : ""}; tenant external ID ${maskExternalId(tenant.externalId)}; state ${statePath}`,
        ...lines,
        "",
        ...summary,
      ].join("\n"),
    );
    return failed ? ExitCode.failed : ExitCode.ok;
  }),
};

const yes = (b: boolean) => (b ? "yes" : "no");

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

/** The accounts: the config's, or those of the manager's connectors. */
async function migrationTargets(
  ctx: Context,
  args: MigrateArgs,
): Promise<{ ctx: Context; targets: Targets; loaded?: import("../../config/load").LoadedConfig }> {
  const { targetsOfConfig, principalFromFlags } = require("./onboard") as typeof import("./onboard");
  if (args.config) return targetsOfConfig(ctx, args.config);
  const t = require("../../onboard/targets") as typeof import("../../onboard/targets");
  const arns = (await ctx.manager().listConnectors()).map((c) => c.crossAccountRoleArn).filter((a): a is string => !!a);
  if (arns.length === 0) throw new UsageError("The manager has no connectors with a cross-account role; nothing to migrate.");
  return { ctx, targets: t.targetsFromArns(arns, { principal: principalFromFlags(args), deploymentRoleName: args.deploymentRoleName }) };
}

/** Reads each role's trust policy and classifies it (the old ID stays in memory only). */
async function liveIds(targets: Targets, tenant: string) {
  const { readTrustPolicies } = require("../../onboard/verify") as typeof import("../../onboard/verify");
  const { checkTrustPolicy } = require("../../policy/trust") as typeof import("../../policy/trust");
  const { classify } = require("../../migrate/state") as typeof import("../../migrate/state");
  const result = new Map<string, ReturnType<typeof classify>>();
  for (const { target, document, error } of await readTrustPolicies(targets.roles)) {
    if (document === undefined) {
      result.set(target.accountId, { classification: "unknown", detail: `the trust policy could not be read: ${error}` });
      continue;
    }
    const check = checkTrustPolicy(document, { principalArn: targets.principalArn, externalIds: [tenant] });
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
 * Writes the roles with the given IDs: through the config's synthesis (same stacks, so the
 * deploy updates the roles in place), or, without a config, one trust policy file per account.
 */
async function writeTrust(
  ctx: Context,
  args: MigrateArgs,
  targets: Targets,
  loaded: import("../../config/load").LoadedConfig | undefined,
  ids: (accountId: string, tenant: string) => string[] | undefined,
  tenant: string,
): Promise<string> {
  if (loaded) {
    const outdir = resolve(args.out ?? join(loaded.dir, "cdktf.out"));
    if (args.dryRun) return outdir;
    const { synthesizeOnboarding } = require("../../generator/synthesize") as typeof import("../../generator/synthesize");
    await synthesizeOnboarding({ configPath: loaded.path, outdir, context: ctx, accountExternalIds: ids });
    return outdir;
  }
  const outdir = resolve(args.out ?? "migration-trust-policies");
  if (args.dryRun) return outdir;
  const { buildTrustPolicy } = require("../../policy/trust") as typeof import("../../policy/trust");
  mkdirSync(outdir, { recursive: true, mode: 0o700 });
  chmodSync(outdir, 0o700);
  for (const t of targets.roles as RoleTarget[]) {
    const policy = buildTrustPolicy({ principalArn: targets.principalArn, externalIds: ids(t.accountId, tenant) ?? [tenant] });
    writeFileAtomic(join(outdir, `${t.accountId}.trust-policy.json`), `${JSON.stringify(policy, null, 2)}\n`, 0o600);
  }
  return join(outdir, "<account>.trust-policy.json");
}
