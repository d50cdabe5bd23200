/**
 * From an onboarding config to Terraform JSON: load and check the config, discover accounts
 * in AWS Organizations if asked, resolve the external ID once, build the stacks with the
 * constructs, and write them without ever leaving a half-written file.
 *
 * `ds-onboard synth` and the `main.ts` of a project made by `ds-onboard init` both call
 * `synthesizeOnboarding`, so that they write the same output.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { settingsFromEnvironment } from "../app/environment";
import { stderrLog } from "../app/log";
import { Project } from "../app/project";
import { Session } from "../app/session";
import type { AccountDecision } from "../aws/organizations";
import { readS3States } from "../aws/state";
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

import { describeSelection, inShard, isWholeProject, type Selection, selectionFlags, selectionSuffix } from "../policy/selection";
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
  const previous = previousManifest(project, manifestPath, layout);
  if (layout === "single-stack" && previous) {
    // A single stack's accounts live in its state: one now in another selection (moved OU, or a
    // new shard count) would be destroyed here and created there, where its role already exists.
    const elsewhere = previous.accounts.filter(
      (a) => inProject.has(a.accountId) && !project.selects(a.accountId) && !forget.has(a.accountId),
    );
    if (elsewhere.length) {
      throw new UsageError(
        `${elsewhere.map((a) => a.accountId).join(", ")} left this selection (${describeSelection(project.scope.selection)}) for another but ${elsewhere.length > 1 ? "are" : "is"} still in the project; with layout single-stack ${elsewhere.length > 1 ? "their roles are" : "its role is"} in this selection's state (stack ${stackName}). Nothing was written. Move the resources to the other selection's state (terraform state mv), then synthesize again forgetting ${elsewhere.length > 1 ? "them" : "it"} here: ds-onboard synth --config ${loaded.path}${selectionFlags(project.scope.selection)} ${elsewhere.map((a) => `--forget-removed ${a.accountId}`).join(" ")}. The stack-per-account layout has no such move.`,
      );
    }
  }
  // An S3 state is read for the stacks of accounts that left: once their resources are gone, they are forgotten.
  const s3States =
    deployment.backend?.type === "s3"
      ? await readS3States(deployment.backend, leavingStacks(previous, inProject), {
          region: deployment.region ?? DEFAULT_REGION,
          onError: (stack, message) =>
            log.warn(`state of stack ${stack} not read (${message}); its accounts that left are kept until it can be`),
        })
      : undefined;
  const lifecycle = planLifecycle(previous, manifestAccounts(project, stackOf), {
    // A retired account is dropped once its resources are gone from its state (or when told).
    gone: (r) =>
      forget.has(r.accountId) ||
      (localState && !localStateHolds(join(stateDir, `terraform.${r.stack}.tfstate`), r, layout)) ||
      (s3States?.has(r.stack) === true && !stateTextHolds(s3States.get(r.stack) ?? null, r, layout)),
    // Stack-per-account: an account still in the project but in another selection keeps its stack there.
    moved: (a) => layout !== "single-stack" && inProject.has(a.accountId) && !project.selects(a.accountId),
  });
  for (const line of lifecycleLines(lifecycle, loaded.path, project.scope.selection)) log.info(line);

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
    // Stacks no longer this selection's: dropped (resources gone), or moved to another selection
    // (stack per account: the same stack and state are that selection's now; never destroy them from here).
    const movedStacks = layout === "single-stack" ? [] : lifecycle.moved.map(stackOf);
    const dropped = new Set([...lifecycle.dropped.map((d) => d.stack), ...movedStacks]);
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
    if (layout !== "single-stack") for (const stack of dropped) rmSync(join(outdir, "stacks", stack), { recursive: true, force: true });
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
 * The record to compare with: this selection's own, unless records of the same OUs with another
 * shard count (or none) are newer, as after a change of the shard count, or when sharding begins
 * or ends. Then the newest of those, the accounts of this selection taken from each of its
 * records, so that an account that left meanwhile is still removed by exactly one selection
 * (stack per account: an account's stack and state do not depend on its shard). With a single
 * stack such a change moves accounts between states: refused.
 */
function previousManifest(project: Project, manifestPath: string, layout: string): Manifest | undefined {
  const own = readManifest(manifestPath);
  const configPath = project.config!.path;
  const dir = dirname(configPath);
  const stem = basename(configPath).replace(/\.(ya?ml|json)$/, "");
  const ous = selectionSuffix({ ous: project.scope.selection.ous });
  const shard = project.scope.selection.shard;
  const whole = `${stem}${ous ? `.${ous}` : ""}.accounts.json`;
  const sharded = new RegExp(`^${escapeRegExp(`${stem}.${ous ? `${ous}-` : ""}`)}shard-\\d+-of-(\\d+)\\.accounts\\.json$`);
  // Records by shard count ("" for none), leaving out this selection's own count.
  const groups = new Map<string, { written: string; records: Manifest[] }>();
  for (const name of readdirSync(dir)) {
    const count = name === whole ? "" : sharded.exec(name)?.[1];
    if (count === undefined || count === String(shard?.count ?? "")) continue;
    const record = readManifest(join(dir, name));
    if (!record) continue;
    const group = groups.get(count) ?? { written: "", records: [] };
    group.records.push(record);
    if ((record.written ?? "") > group.written) group.written = record.written ?? "";
    groups.set(count, group);
  }
  const newest = [...groups.entries()].sort((x, y) => y[1].written.localeCompare(x[1].written))[0];
  if (!newest || (own && (own.written ?? "") >= newest[1].written)) return own;
  if (layout === "single-stack") {
    throw new UsageError(
      `The accounts records of ${configPath} for ${newest[0] ? `${newest[0]} shards` : "the whole project"} are newer than this selection's (${describeSelection(project.scope.selection)}): the shard count changed. With layout single-stack each selection's accounts are in its own state, so a new count moves them between states; nothing was written. Keep the shard count, or move the resources (terraform state mv) and delete the older records; the stack-per-account layout has no such move.`,
    );
  }
  // This selection's accounts of now, and those gone from the project that hash to its shard.
  const inProject = new Set(project.scope.allAccounts.map((a) => a.accountId));
  const mine = (a: ManifestAccount) => (inProject.has(a.accountId) ? project.selects(a.accountId) : inShard(a.accountId, shard));
  const accounts = new Map<string, ManifestAccount>();
  const retired = new Map<string, RetiredAccount>();
  for (const record of newest[1].records) {
    for (const a of record.accounts) if (mine(a)) accounts.set(a.accountId, a);
    for (const r of record.retired) if (mine(r)) retired.set(r.accountId, r);
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
  return stateTextHolds(existsSync(statePath) ? readFileSync(statePath, "utf8") : null, account, layout);
}

/** Whether a state (its JSON; null: none) still holds resources of an account. */
function stateTextHolds(state: string | null, account: RetiredAccount, layout: string): boolean {
  return state !== null && stateHoldsAccount(state, account.accountId, layout !== "single-stack");
}

/**
 * The stacks of the accounts that left the project or are leaving it (retired before, or in the
 * record and gone now). An account moved to another selection keeps its stack there: not read.
 */
function leavingStacks(previous: Manifest | undefined, inProject: ReadonlySet<string>): string[] {
  if (!previous) return [];
  return [...previous.retired, ...previous.accounts].filter((a) => !inProject.has(a.accountId)).map((a) => a.stack);
}

/** What a synthesis will add, keep and remove, said before anything is written. */
export function lifecycleLines(plan: LifecyclePlan, configPath: string, selection?: Selection): string[] {
  const list = (ids: readonly string[]) => (ids.length > 8 ? `${ids.slice(0, 8).join(", ")} and ${ids.length - 8} more` : ids.join(", "));
  const lines = [
    `accounts: ${plan.added.length} to add${plan.added.length ? ` (${list(plan.added)})` : ""}, ${plan.kept.length} kept, ${plan.removed.length} removed${plan.removed.length ? ` (${list(plan.removed)})` : ""}`,
  ];
  for (const r of plan.dropped)
    lines.push(`  account ${r.accountId} left earlier and its resources are gone from the state: it is forgotten`);
  if (plan.moved.length) lines.push(`  now in another shard or OU selection, whose stacks hold them: ${list(plan.moved)}`);
  for (const r of plan.retired) {
    lines.push(
      `  account ${r.accountId} left the config or the organization: its AWS provider stays in stack ${r.stack}, without resources, so that the next apply destroys its role. Deregister its connector first: ds-onboard offboard --config ${configPath}${selectionFlags(selection)} (or keep it: deployment.removedAccounts: keep).`,
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
