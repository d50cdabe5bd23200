/**
 * From an onboarding config to Terraform JSON: load and check the config, discover accounts
 * in AWS Organizations if asked, resolve the external ID once, build the stacks with the
 * constructs, and write them without ever leaving a half-written file.
 *
 * `ds-onboard synth` and the `main.ts` of a project made by `ds-onboard init` both call
 * `synthesizeOnboarding`, so that they write the same output.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { AccountDecision } from "../aws/organizations";
import { Context } from "../cli/context";
import { type LoadedConfig, loadConfig } from "../config/load";
import type { OnboardingConfig } from "../config/schema";
import { UsageError, UserError } from "../errors";
import type { ExternalIdSources } from "../external-id/resolve";
import type { AccountTarget } from "../policy/accounts";
import type { ManagerPrincipal } from "../policy/principal";
import { maskExternalId } from "../redact";

export interface SynthesizeOptions {
  /** The config file (JSON or YAML). */
  readonly configPath: string;
  /** Where to write. Default: `CDKTF_OUTDIR`, else `cdktf.out` beside the config. */
  readonly outdir?: string;
  /** The CLI's flags and environment. Default: the process environment, text output. */
  readonly context?: Context;
  /** Only discover and list the accounts; write nothing, resolve no external ID. */
  readonly listOnly?: boolean;
  /**
   * Per-account external IDs, given the tenant's (a migration: the old user-defined ID and the
   * tenant's). `undefined` for an account keeps the tenant's alone. Default: none.
   */
  readonly accountExternalIds?: (accountId: string, tenantExternalId: string) => string[] | undefined;
}

export interface SynthesizedStack {
  readonly name: string;
  /** The stack's folder, holding cdk.tf.json. */
  readonly dir: string;
  readonly accountIds: readonly string[];
}

export interface SynthesisResult {
  readonly outdir: string;
  readonly stacks: readonly SynthesizedStack[];
  readonly accounts: readonly AccountTarget[];
  /** Where the external ID came from (never the ID itself). */
  readonly externalIdSource?: string;
  readonly maskedExternalId?: string;
  /** Organizations decisions, when discovery ran. */
  readonly discovery?: readonly AccountDecision[];
}

export async function synthesizeOnboarding(options: SynthesizeOptions): Promise<SynthesisResult> {
  const ctx = options.context ?? new Context({ output: "text", verbose: false });
  try {
    return await synthesize(options, ctx);
  } finally {
    // A context made here is closed here (an open HTTP client would keep main.ts running).
    if (!options.context) await ctx.close();
  }
}

async function synthesize(options: SynthesizeOptions, ctx: Context): Promise<SynthesisResult> {
  const loaded = loadConfig(options.configPath);
  applyConfigDefaults(ctx, loaded);
  const { accounts, discovery } = await collectAccounts(loaded.config, ctx);
  const outdir = resolve(options.outdir ?? process.env.CDKTF_OUTDIR ?? join(loaded.dir, "cdktf.out"));
  if (options.listOnly) return { outdir, stacks: [], accounts, discovery };
  if (accounts.length === 0)
    throw new UserError(
      "No accounts to onboard: the config lists none and discovery included none. See `ds-onboard synth --list-accounts` for why each account was left out.",
    );

  checkWritableDir(outdir);
  const { externalId, source } = await resolveConfiguredExternalId(loaded, ctx);
  ctx.io.debug(`external ID ${maskExternalId(externalId)} from ${source}`);

  // cdktf and the constructs load only here: listing accounts does not pay for them.
  const { App, LocalBackend } = require("cdktf") as typeof import("cdktf");
  const { addAccountStacks } = require("../../constructs/multi-account") as typeof import("../../constructs/multi-account");
  const staging = `${outdir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const app = new App({ outdir: staging, skipValidation: false });
    const config = loaded.config;
    const withOwnIds = options.accountExternalIds
      ? accounts.map((a) => ({ ...a, externalIds: options.accountExternalIds!(a.accountId, externalId) }))
      : accounts;
    const stacks = addAccountStacks(app, {
      ...config.role,
      externalIds: [externalId],
      principal: (config.manager?.principal as ManagerPrincipal | undefined) ?? { type: "workload-security" },
      accounts: withOwnIds,
      deploymentRoleName: config.deployment?.deploymentRoleName,
      region: config.deployment?.region,
      layout: config.deployment?.layout,
      stackName: config.deployment?.stackName,
      registration: config.deployment?.registration && { ...config.deployment.registration, managerUrl: config.manager?.url },
    });
    for (const stack of stacks) {
      // State lives beside the config, outside the output folder, by a relative path: the
      // project can move, and re-synthesizing never touches it.
      const stackDir = join(outdir, "stacks", stack.node.id);
      new LocalBackend(stack, { path: relative(stackDir, join(loaded.dir, `terraform.${stack.node.id}.tfstate`)) });
    }
    app.synth();
    const names = new Set(stacks.map((s) => s.node.id));
    const stale = existsSync(join(outdir, "stacks")) ? readdirSync(join(outdir, "stacks")).filter((n) => !names.has(n)) : [];
    for (const name of stale) {
      ctx.io.warn(
        `stack ${name} in ${outdir} is no longer in the config; if it was deployed, destroy it (its state is terraform.${name}.tfstate beside the config) before removing its folder`,
      );
    }
    publish(staging, outdir);
    return {
      outdir,
      stacks: stacks.map((s, i) => ({
        name: s.node.id,
        dir: join(outdir, "stacks", s.node.id),
        // stack-per-account makes one stack per account, in the order of the accounts
        accountIds: stacks.length === 1 ? accounts.map((a) => a.accountId) : [accounts[i].accountId],
      })),
      accounts,
      externalIdSource: source,
      maskedExternalId: maskExternalId(externalId),
      discovery,
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Config values are the lowest priority: flags, then the environment, then the config. */
export function applyConfigDefaults(ctx: Context, loaded: LoadedConfig): void {
  const m = loaded.config.manager;
  if (!m) return;
  ctx.useDefaults({
    managerUrl: m.url,
    auth: m.auth ?? (m.product === "deep-security-manager" ? "api-secret-key" : undefined),
    caBundle: m.caBundle && resolve(loaded.dir, m.caBundle),
  });
}

export async function collectAccounts(
  config: OnboardingConfig,
  ctx: Context,
): Promise<{ accounts: AccountTarget[]; discovery?: AccountDecision[] }> {
  const listed: AccountTarget[] = [...(config.accounts ?? [])];
  if (!config.organizations) return { accounts: listed };
  const orgs = require("../aws/organizations") as typeof import("../aws/organizations");
  const { OrganizationsClient } = require("@aws-sdk/client-organizations") as typeof import("@aws-sdk/client-organizations");
  const client = new OrganizationsClient({ region: "us-east-1", maxAttempts: 10, retryMode: "standard" });
  try {
    const tree = await orgs.readOrganization(client);
    ctx.io.debug(`organizations: ${tree.accounts.length} accounts in ${tree.units.size} roots and OUs, ${tree.calls} calls`);
    const unknown = orgs.unknownUnits(tree, config.organizations);
    if (unknown.length)
      throw new UserError(
        `organizations names OUs that are not in the organization: ${unknown.join(", ")}. Check the IDs (aws organizations list-organizational-units-for-parent).`,
      );
    const discovery = orgs.selectAccounts(tree, config.organizations);
    const byId = new Map(listed.map((a) => [a.accountId, a]));
    const accounts = [...listed];
    for (const d of discovery) {
      if (d.included && !byId.has(d.accountId)) accounts.push({ accountId: d.accountId, displayName: d.name });
    }
    return { accounts, discovery };
  } finally {
    client.destroy();
  }
}

/**
 * The external ID, resolved once: `--external-id`/`DS_EXTERNAL_ID`, then
 * `--external-id-from`/`DS_EXTERNAL_ID_FROM`, then the config's `externalId` (when there is a
 * config), then the manager.
 */
export async function resolveConfiguredExternalId(loaded: LoadedConfig | undefined, ctx: Context) {
  const { resolveExternalId } = require("../external-id/resolve") as typeof import("../external-id/resolve");
  const sources: ExternalIdSources = ctx.externalIdSources();
  if (!loaded) return resolveExternalId(sources);
  const configured = loaded.config.externalId ?? "manager";
  if (sources.explicit || sources.from || configured === "manager") return resolveExternalId(sources);
  const m = /^(env|ssm|secretsmanager|file):(.*)$/.exec(configured);
  if (m) {
    const location = m[1] === "file" ? `file:${resolve(loaded.dir, m[2])}` : configured;
    return resolveExternalId({ from: { location, origin: `externalId in ${loaded.path}` } });
  }
  return resolveExternalId({ explicit: { value: configured.replace(/^literal:/, ""), origin: `externalId in ${loaded.path}` } });
}

/** Fails early, before any work, when the output folder cannot be written. */
function checkWritableDir(outdir: string): void {
  if (existsSync(outdir) && !statSync(outdir).isDirectory())
    throw new UsageError(`--out ${outdir} is a file, not a folder; nothing was written. Name a folder.`);
  let parent = dirname(outdir);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`--out ${outdir}: ${parent} is a file, not a folder; nothing was written.`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`--out ${outdir}: ${parent} is not writable; nothing was written.`);
  }
}

/**
 * Moves the staged output into place file by file, each with an atomic rename, so that a
 * reader sees the old or the new cdk.tf.json and never a mix. Files cdktf does not write
 * (a stack folder's .terraform, lock files) are left alone.
 */
function publish(staging: string, outdir: string): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
  // Stack files first, the manifest (which lists the stacks) last.
  const files = walk(staging).sort((a, b) => Number(a.endsWith("manifest.json")) - Number(b.endsWith("manifest.json")));
  for (const file of files) {
    const target = join(outdir, relative(staging, file));
    mkdirSync(dirname(target), { recursive: true });
    renameSync(file, target);
  }
}

export function deployCommands(result: SynthesisResult, cwd = process.cwd()): string[] {
  const shown = (path: string) => {
    const rel = relative(cwd, path);
    return rel === "" ? "." : rel.startsWith("..") ? path : rel;
  };
  const out = shown(result.outdir);
  const names = result.stacks.map((s) => s.name);
  const first = result.stacks[0];
  const dir = first ? shown(first.dir) : `${out}/stacks/<stack>`;
  return [
    `cdktf deploy ${names.length > 1 ? "'*'" : (names[0] ?? "<stack>")}            # with cdktf-cli; run from the project folder`,
    `terraform -chdir=${dir} init && terraform -chdir=${dir} apply`,
    `tofu -chdir=${dir} init && tofu -chdir=${dir} apply`,
    ...(names.length > 1 ? [`for d in ${out}/stacks/*/; do terraform -chdir="$d" init && terraform -chdir="$d" apply; done`] : []),
  ];
}
