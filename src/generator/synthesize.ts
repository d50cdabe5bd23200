/**
 * From an onboarding config to Terraform JSON: load and check the config, discover accounts
 * in AWS Organizations if asked, resolve the external ID once, build the stacks with the
 * constructs, and write them without ever leaving a half-written file.
 *
 * `ds-onboard synth` and the `main.ts` of a project made by `ds-onboard init` both call
 * `synthesizeOnboarding`, so that they write the same output.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { settingsFromEnvironment } from "../app/environment";
import { stderrLog } from "../app/log";
import { Project } from "../app/project";
import { Session } from "../app/session";
import type { AccountDecision } from "../aws/organizations";
import { ExitCode, UsageError, UserError } from "../errors";
import { publishDirectory, writeFileAtomic } from "../files";
import { type AccountTarget, DEFAULT_DEPLOYMENT_ROLE_NAME, DEFAULT_REGION, deploymentRoleArn } from "../policy/accounts";
import {
  type LifecyclePlan,
  type Manifest,
  type ManifestAccount,
  manifestPathOf,
  parseManifest,
  planLifecycle,
  type RetiredAccount,
  stateHoldsAccount,
} from "./lifecycle";

export { manifestPathOf };

import { describeSelection, inShard, isWholeProject, selectionSuffix } from "../policy/selection";
import { maskExternalId } from "../redact";

export interface SynthesizeOptions {
  /** The config file (JSON or YAML). */
  readonly configPath: string;
  /** Where to write. @default `CDKTF_OUTDIR`, else `cdktf.out` beside the config */
  readonly outdir?: string;
  /** The manager settings and log. @default settings from the environment (`DS_MANAGER_URL`, `DS_API_KEY`, ...), notes on stderr */
  readonly session?: Session;
  /** Only discover and list the accounts; write nothing, resolve no external ID. @default false */
  readonly listOnly?: boolean;
  /**
   * Per-account external IDs, given the tenant's (a migration: the old user-defined ID and the
   * tenant's). `undefined` for an account keeps the tenant's alone. @default none
   */
  readonly accountExternalIds?: (accountId: string, tenantExternalId: string) => string[] | undefined;
  /**
   * Accounts that left and whose resources cannot be destroyed (a closed account): forget them
   * (then remove their resources from the state by hand). @default none
   */
  readonly forgetRemoved?: readonly string[];
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
  /** Stack folders left in the output that the config no longer has and no record names. */
  readonly staleStacks?: readonly string[];
  /** Stacks of accounts that left, kept with only their provider until an apply destroys the rest. */
  readonly retiredStacks?: readonly { readonly name: string; readonly dir: string }[];
  /** Accounts added, kept and removed since the last synthesis; retired: still being removed. */
  readonly lifecycle?: {
    readonly added: readonly string[];
    readonly kept: readonly string[];
    readonly removed: readonly string[];
    readonly retired: readonly string[];
    /** Left this selection for another (stack-per-account): their stacks are that selection's now. */
    readonly moved: readonly string[];
  };
  /** The record of this synthesis' accounts. */
  readonly manifestPath?: string;
}

/**
 * From a config file to Terraform JSON. `ds-onboard synth` and a project's own `main.ts` (made by
 * `ds-onboard init`) both call it, so that they write the same output.
 */
export async function synthesizeOnboarding(options: SynthesizeOptions): Promise<SynthesisResult> {
  const session = options.session ?? new Session(settingsFromEnvironment(), stderrLog());
  try {
    const project = await Project.fromConfig(session, options.configPath);
    return await synthesizeProject(project, options);
  } finally {
    // A session made here is closed here (an open HTTP client would keep main.ts running).
    if (!options.session) await session.close();
  }
}

/** Synthesizes an opened project (the project must come from a config). */
export async function synthesizeProject(
  project: Project,
  options: Omit<SynthesizeOptions, "configPath" | "session"> = {},
): Promise<SynthesisResult> {
  const loaded = project.config;
  if (!loaded) throw new UsageError("Synthesis needs an onboarding config.");
  const { accounts, discovery } = project;
  const log = project.session.log;
  // A selection (a shard, OUs) has its own output folder, accounts record and single stack (so its own state).
  const suffix = selectionSuffix(project.scope.selection);
  const outdir = resolve(options.outdir ?? process.env.CDKTF_OUTDIR ?? join(loaded.dir, "cdktf.out", suffix));
  if (options.listOnly) return { outdir, stacks: [], accounts, discovery };
  // A shard or OU with no account is fine (a small organization, many pipeline jobs); a project with none is not.
  if (accounts.length === 0 && isWholeProject(project.scope.selection)) {
    throw new UserError("No accounts to onboard: the config lists none and discovery included none.", ExitCode.failed, {
      errorCode: "no-accounts",
    });
  }

  checkWritableDir(outdir);
  const { externalId, source } = await project.externalId();
  log.debug(`external ID ${maskExternalId(externalId)} from ${source}`);

  const config = loaded.config;
  const deployment = config.deployment ?? {};
  const layout = deployment.layout ?? "single-stack";
  const baseName = deployment.stackName ?? "deep-security-roles";
  // Stack-per-account names do not depend on the selection: an account keeps its stack and state in any shard.
  const stackName = layout === "single-stack" && suffix ? `${baseName}-${suffix}` : baseName;
  const stackOf = (accountId: string) => (layout === "single-stack" ? stackName : `${stackName}-${accountId}`);

  // Accounts joining and leaving: compare with what the last synthesis wrote.
  const manifestPath = manifestPathOf(loaded.path, suffix);
  const inProject = new Set(project.scope.allAccounts.map((a) => a.accountId));
  const stateDir = resolve(loaded.dir, deployment.backend?.type === "local" ? (deployment.backend.directory ?? ".") : ".");
  const localState = (deployment.backend?.type ?? "local") === "local";
  const forget = new Set(options.forgetRemoved ?? []);
  const previous = readManifest(manifestPath) ?? (layout === "single-stack" ? undefined : reshardedManifest(project, manifestPath));
  const lifecycle = planLifecycle(previous, manifestAccounts(project, stackOf), {
    // A retired account is dropped once its resources are gone from a local state (or when told).
    gone: (r) => forget.has(r.accountId) || (localState && !localStateHolds(join(stateDir, `terraform.${r.stack}.tfstate`), r, layout)),
    // Stack-per-account: an account still in the project but in another selection keeps its stack there.
    moved: (a) => layout !== "single-stack" && inProject.has(a.accountId) && !project.selects(a.accountId),
  });
  for (const line of lifecycleLines(lifecycle, loaded.path)) log.info(line);

  // cdktf and the constructs load only here: listing accounts does not pay for them.
  const { synthesizeAccountStacks } = require("../../constructs/multi-account") as typeof import("../../constructs/multi-account");
  const staging = `${outdir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const withOwnIds = options.accountExternalIds
      ? accounts.map((a) => ({ ...a, externalIds: options.accountExternalIds!(a.accountId, externalId) }))
      : accounts;
    // Local state lives beside the config, outside the output folder, by a relative path: the
    // project can move, and re-synthesizing never touches it.
    const backend =
      deployment.backend?.type === "s3" || deployment.backend?.type === "remote"
        ? deployment.backend
        : { type: "local" as const, directory: relative(join(outdir, "stacks", "stack"), stateDir) || "." };
    // Stack-per-account is built and written in batches: memory does not grow with the accounts.
    // A shard left without any account, current or retired, gets an empty output.
    const empty = accounts.length === 0 && lifecycle.retired.length === 0;
    if (empty) log.info(`no accounts in ${describeSelection(project.scope.selection)}: no stacks to write`);
    const { stackNames } = empty
      ? synthesizeEmpty(staging)
      : synthesizeAccountStacks({
          outdir: staging,
          app: { skipValidation: false },
          ...project.role,
          externalIds: [externalId],
          accounts: withOwnIds,
          deploymentRoleName: deployment.deploymentRoleName,
          region: deployment.region,
          layout,
          stackName,
          providerVersion: deployment.providerVersion,
          backend,
          retiredAccounts: lifecycle.retired,
          registration: deployment.registration && { ...deployment.registration, managerUrl: config.manager?.url },
        });
    const names = new Set(stackNames);
    const retiredStacks = new Set(lifecycle.retired.map((r) => r.stack));
    const dropped = new Set(lifecycle.dropped.map((d) => d.stack));
    const staleStacks = existsSync(join(outdir, "stacks"))
      ? readdirSync(join(outdir, "stacks")).filter((n) => !names.has(n) && !dropped.has(n))
      : [];
    for (const name of staleStacks) {
      log.warn(
        `stack ${name} in ${outdir} is no longer in the config and ds-onboard has no record of its account; if it was deployed, destroy it (terraform -chdir=${join(outdir, "stacks", name)} destroy) before removing its folder`,
      );
    }
    // Stack files first, cdktf's manifest (which lists the stacks) last.
    publishDirectory(staging, outdir, (file) => file.endsWith("manifest.json"));
    // The stacks folder exists even when empty, so that a pipeline's loop over it finds no stack.
    mkdirSync(join(outdir, "stacks"), { recursive: true });
    // A retired account's own stack whose resources are gone: its folder goes too (its state file stays).
    for (const d of lifecycle.dropped)
      if (layout !== "single-stack") rmSync(join(outdir, "stacks", d.stack), { recursive: true, force: true });
    writeFileAtomic(manifestPath, `${JSON.stringify(lifecycle.manifest, null, 2)}\n`);
    const current = stackNames.filter((name) => !retiredStacks.has(name) || layout === "single-stack");
    return {
      outdir,
      stacks: current.map((name) => ({
        name,
        dir: join(outdir, "stacks", name),
        accountIds: layout === "single-stack" ? accounts.map((a) => a.accountId) : [name.slice(stackName.length + 1)],
      })),
      retiredStacks: layout === "single-stack" ? [] : [...retiredStacks].map((name) => ({ name, dir: join(outdir, "stacks", name) })),
      accounts,
      externalIdSource: source,
      maskedExternalId: maskExternalId(externalId),
      discovery,
      staleStacks,
      lifecycle: {
        added: lifecycle.added,
        kept: lifecycle.kept,
        removed: lifecycle.removed,
        retired: lifecycle.retired.map((r) => r.accountId),
        moved: lifecycle.moved,
      },
      manifestPath,
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** An output with no stack: cdktf's manifest lists none. */
function synthesizeEmpty(staging: string): { stackNames: string[] } {
  const { App } = require("cdktf") as typeof import("cdktf");
  new App({ outdir: staging, skipValidation: false }).synth();
  return { stackNames: [] };
}

function readManifest(path: string): Manifest | undefined {
  if (!existsSync(path)) return undefined;
  const manifest = parseManifest(readFileSync(path, "utf8"));
  if (!manifest) {
    throw new UsageError(
      `${path} is not a ds-onboard accounts record (truncated or edited?); nothing was written. Restore it from version control, or delete it: then accounts removed since the last synthesis are no longer known, and their deployed roles must be destroyed by hand.`,
    );
  }
  return manifest;
}

/**
 * A shard's first synthesis (a new shard count, or sharding a project synthesized whole): its
 * accounts from the records of the other counts, so that an account that left meanwhile is still
 * retired (stack per account: an account's stack and state do not depend on its shard).
 */
function reshardedManifest(project: Project, manifestPath: string): Manifest | undefined {
  const shard = project.scope.selection.shard;
  if (!shard) return undefined;
  const configPath = project.config!.path;
  const ous = selectionSuffix({ ous: project.scope.selection.ous });
  const dir = dirname(configPath);
  const base = manifestPathOf(configPath, ous)
    .slice(dir.length + 1)
    .replace(/\.accounts\.json$/, "");
  const others = readdirSync(dir)
    .filter(
      (name) => name === `${base}.accounts.json` || new RegExp(`^${escapeRegExp(base)}\\.shard-\\d+-of-\\d+\\.accounts\\.json$`).test(name),
    )
    .map((name) => join(dir, name))
    .filter((path) => path !== manifestPath);
  if (others.length === 0) return undefined;
  // This shard's accounts of now, and those gone from the project that hash to this shard.
  const inProject = new Set(project.scope.allAccounts.map((a) => a.accountId));
  const mine = (a: ManifestAccount) => (inProject.has(a.accountId) ? project.selects(a.accountId) : inShard(a.accountId, shard));
  const accounts = new Map<string, ManifestAccount>();
  const retired = new Map<string, RetiredAccount>();
  for (const path of others) {
    const m = readManifest(path)!;
    for (const a of m.accounts) if (mine(a)) accounts.set(a.accountId, a);
    for (const r of m.retired) if (mine(r)) retired.set(r.accountId, r);
  }
  return { version: 1, accounts: [...accounts.values()], retired: [...retired.values()].filter((r) => !accounts.has(r.accountId)) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The accounts of now, with what their providers need. */
function manifestAccounts(project: Project, stackOf: (accountId: string) => string): ManifestAccount[] {
  const config = project.config!.config;
  const partition = config.role?.partition ?? "aws";
  const defaultRole = config.deployment?.deploymentRoleName ?? DEFAULT_DEPLOYMENT_ROLE_NAME;
  return project.accounts.map((a) => ({
    accountId: a.accountId,
    ...(a.displayName ? { displayName: a.displayName } : {}),
    deploymentRoleArn: a.deploymentRoleArn ?? deploymentRoleArn(partition, a.accountId, a.deploymentRoleName ?? defaultRole),
    region: a.region ?? config.deployment?.region ?? DEFAULT_REGION,
    stack: stackOf(a.accountId),
  }));
}

function localStateHolds(statePath: string, account: RetiredAccount, layout: string): boolean {
  if (!existsSync(statePath)) return false;
  return stateHoldsAccount(readFileSync(statePath, "utf8"), account.accountId, layout !== "single-stack");
}

/** What a synthesis will add, keep and remove, said before anything is written. */
export function lifecycleLines(plan: LifecyclePlan, configPath: string): string[] {
  const list = (ids: readonly string[]) => (ids.length > 8 ? `${ids.slice(0, 8).join(", ")} and ${ids.length - 8} more` : ids.join(", "));
  const lines = [
    `accounts: ${plan.added.length} to add${plan.added.length ? ` (${list(plan.added)})` : ""}, ${plan.kept.length} kept, ${plan.removed.length} removed${plan.removed.length ? ` (${list(plan.removed)})` : ""}`,
  ];
  for (const r of plan.dropped)
    lines.push(`  account ${r.accountId} left earlier and its resources are gone from the state: it is forgotten`);
  if (plan.moved.length) lines.push(`  now in another shard or OU selection, whose stacks hold them: ${list(plan.moved)}`);
  for (const r of plan.retired) {
    lines.push(
      `  account ${r.accountId} left the config or the organization: its AWS provider stays in stack ${r.stack}, without resources, so that the next apply destroys its role. Deregister its connector first: ds-onboard offboard --config ${configPath} (or keep it: deployment.removedAccounts: keep).`,
    );
  }
  return lines;
}

/** Fails early, before any work, when the output folder cannot be written. */
function checkWritableDir(outdir: string): void {
  if (existsSync(outdir) && !statSync(outdir).isDirectory())
    throw new UsageError(`The output folder ${outdir} is a file, not a folder; nothing was written. Name a folder.`);
  let parent = dirname(outdir);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new UsageError(`The output folder ${outdir}: ${parent} is a file, not a folder; nothing was written.`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`The output folder ${outdir}: ${parent} is not writable; nothing was written.`);
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
