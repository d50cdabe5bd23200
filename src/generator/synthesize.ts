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
import { settingsFromEnvironment } from "../app/environment";
import { stderrLog } from "../app/log";
import { Project } from "../app/project";
import { Session } from "../app/session";
import type { AccountDecision } from "../aws/organizations";
import { ExitCode, UsageError, UserError } from "../errors";
import type { AccountTarget } from "../policy/accounts";
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
  /** Stack folders left in the output that the config no longer has (destroy them first). */
  readonly staleStacks?: readonly string[];
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
  const outdir = resolve(options.outdir ?? process.env.CDKTF_OUTDIR ?? join(loaded.dir, "cdktf.out"));
  if (options.listOnly) return { outdir, stacks: [], accounts, discovery };
  if (accounts.length === 0) {
    throw new UserError("No accounts to onboard: the config lists none and discovery included none.", ExitCode.failed, {
      errorCode: "no-accounts",
    });
  }

  checkWritableDir(outdir);
  const { externalId, source } = await project.externalId();
  log.debug(`external ID ${maskExternalId(externalId)} from ${source}`);

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
      ...project.role,
      externalIds: [externalId],
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
    const staleStacks = existsSync(join(outdir, "stacks")) ? readdirSync(join(outdir, "stacks")).filter((n) => !names.has(n)) : [];
    for (const name of staleStacks) {
      log.warn(
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
      staleStacks,
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
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
