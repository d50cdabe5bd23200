/**
 * Real Terraform for the tests: finds the `terraform` binary and a filesystem mirror of the
 * `hashicorp/aws` provider, writes a CLI config that installs from that mirror only (no
 * registry is reachable), and runs Terraform in a stack folder with a clean environment that
 * points the AWS provider at a local AWS endpoint.
 *
 * `terraform init` from an unpacked filesystem mirror symlinks the provider into
 * `.terraform/providers` (no 700 MB copy, under a second), so each stack folder is initialized
 * on its own and no plugin cache is needed (TF_PLUGIN_CACHE_DIR is never passed on).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { LocalAws } from "../../src/sandbox/aws";
import { type Sandbox, startSandbox } from "../../src/sandbox/start";

/** Set to 1 to leave the real-Terraform tests (test/terraform) out of a run: jest.config.js reads it. */
export const SKIP_TERRAFORM_ENV = "DS_ONBOARD_SKIP_TERRAFORM";

const PROVIDER = "registry.terraform.io/hashicorp/aws";
/** Where the mirror is looked for, in order, unless `DS_ONBOARD_TF_MIRROR` names it. */
const MIRROR_CANDIDATES = ["/opt/tf-plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"];

export interface TerraformTools {
  /** The terraform binary. */
  readonly terraform: string;
  /** Its version, e.g. `1.11.4`. */
  readonly version: string;
  /** The mirror root: the folder that holds `registry.terraform.io/`. */
  readonly mirror: string;
  /** The provider versions the mirror holds for this platform. */
  readonly providerVersions: readonly string[];
}

export type TerraformAvailability = { ok: true; tools: TerraformTools } | { ok: false; missing: string; howTo: string };

let cached: TerraformAvailability | undefined;

/**
 * Whether real Terraform runs here: the binary (`DS_ONBOARD_TERRAFORM`, or `terraform` on PATH)
 * and a provider mirror (`DS_ONBOARD_TF_MIRROR`, or a known folder such as /opt/tf-plugins)
 * holding `hashicorp/aws` for this platform. When not, says what is missing and how to get it.
 * The answer for `process.env` is computed once per test file.
 */
export function terraformAvailability(env: NodeJS.ProcessEnv = process.env): TerraformAvailability {
  if (env === process.env) {
    cached ??= findTools(env);
    return cached;
  }
  return findTools(env);
}

function findTools(env: NodeJS.ProcessEnv): TerraformAvailability {
  const howTo =
    "Install Terraform 1.5 or later (https://developer.hashicorp.com/terraform/install) on PATH or point DS_ONBOARD_TERRAFORM at it, " +
    `and put the hashicorp/aws provider (5.100.0 or a 6.x release) into a filesystem mirror (\`terraform providers mirror <dir>\` in a folder with a main.tf requiring hashicorp/aws, on a machine with registry access), ` +
    `then point DS_ONBOARD_TF_MIRROR at <dir> (the folder holding ${PROVIDER.split("/")[0]}/). ` +
    `Or leave these tests out: ${SKIP_TERRAFORM_ENV}=1 npm test.`;
  const terraform = findTerraform(env);
  if (!terraform)
    return {
      ok: false,
      missing: env.DS_ONBOARD_TERRAFORM
        ? `the terraform binary (DS_ONBOARD_TERRAFORM=${env.DS_ONBOARD_TERRAFORM} does not exist)`
        : "the terraform binary (not on PATH, DS_ONBOARD_TERRAFORM not set)",
      howTo,
    };
  const run = spawnSync(terraform, ["version", "-json"], {
    encoding: "utf8",
    env: { PATH: env.PATH ?? "", HOME: tmpdir(), CHECKPOINT_DISABLE: "1" },
  });
  let version = "";
  try {
    version = (JSON.parse(run.stdout) as { terraform_version: string }).terraform_version;
  } catch {
    return { ok: false, missing: `a working terraform (${terraform} version -json failed: ${run.stderr || run.error})`, howTo };
  }
  const platform = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
  // An explicit mirror is the only one looked at; otherwise the known places.
  const mirrors = env.DS_ONBOARD_TF_MIRROR ? [env.DS_ONBOARD_TF_MIRROR] : MIRROR_CANDIDATES;
  for (const mirror of mirrors) {
    const versions = providerVersions(join(mirror, PROVIDER), platform);
    if (versions.length > 0) return { ok: true, tools: { terraform, version, mirror, providerVersions: versions } };
  }
  return { ok: false, missing: `a filesystem mirror of ${PROVIDER} for ${platform} (looked in ${mirrors.join(", ")})`, howTo };
}

function findTerraform(env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.DS_ONBOARD_TERRAFORM;
  if (explicit) return existsSync(explicit) && statSync(explicit).isFile() ? explicit : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "terraform");
    if (dir && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Versions under `<mirror>/registry.terraform.io/hashicorp/aws/<version>/<platform>/` (unpacked layout). */
function providerVersions(providerDir: string, platform: string): string[] {
  if (!existsSync(providerDir)) return [];
  return readdirSync(providerDir).filter((v) => {
    const dir = join(providerDir, v, platform);
    return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith("terraform-provider-aws"));
  });
}

/**
 * `describe` when Terraform runs here; otherwise a failing test that names what is missing, how
 * to install it, and how to leave these tests out (`DS_ONBOARD_SKIP_TERRAFORM=1`).
 */
export function describeWithTerraform(name: string, body: () => void): void {
  const availability = terraformAvailability();
  if (availability.ok) {
    describe(name, body);
    return;
  }
  const message = `Real-Terraform tests "${name}" need ${availability.missing}. ${availability.howTo}`;
  describe(name, () => {
    it("has Terraform and the provider mirror", () => {
      throw new Error(message);
    });
  });
}

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

export interface TerraformEnv {
  /** The local AWS endpoint (`AWS_ENDPOINT_URL`). */
  readonly endpoint: string;
  /** Default: us-east-1. */
  readonly region?: string;
  /** The base credentials' access key ID (its identity is the endpoint's business). Default: a fake pipeline key. */
  readonly accessKeyId?: string;
}

/**
 * Runs Terraform for one test file: a temporary folder holds the CLI config (provider
 * installation from the mirror only) and a HOME, so nothing is written elsewhere.
 */
export class TerraformRunner {
  readonly dir: string;
  readonly cliConfig: string;
  /** Wall times of the runs, by subcommand, for reporting. */
  readonly timings: { command: string; ms: number }[] = [];

  constructor(
    readonly tools: TerraformTools,
    readonly env: TerraformEnv,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "ds-onboard-tf-"));
    this.cliConfig = join(this.dir, "terraform.rc");
    writeFileSync(
      this.cliConfig,
      `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(tools.mirror)}\n    include = ["${PROVIDER}"]\n  }\n}\n`,
    );
  }

  /**
   * The whole environment Terraform runs with: nothing is inherited but PATH (no
   * TF_PLUGIN_CACHE_DIR, no AWS profile or real credentials: fake keys the endpoint maps to its
   * default identity).
   */
  environment(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? dirname(this.tools.terraform),
      HOME: this.dir,
      TF_CLI_CONFIG_FILE: this.cliConfig,
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      AWS_ENDPOINT_URL: this.env.endpoint,
      AWS_REGION: this.env.region ?? "us-east-1",
      AWS_ACCESS_KEY_ID: this.env.accessKeyId ?? "AKIAPIPELINE00000000",
      AWS_SECRET_ACCESS_KEY: "pipeline-secret-not-checked",
      AWS_EC2_METADATA_DISABLED: "true",
      CHECKPOINT_DISABLE: "1",
      ...extra,
    };
  }

  /** `terraform <args>` in `cwd`; never throws for a non-zero exit. */
  run(cwd: string, args: readonly string[], extraEnv: Record<string, string> = {}): Promise<TerraformResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(this.tools.terraform, args, { cwd, env: this.environment(extraEnv), stdio: ["ignore", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => err.push(c));
      child.on("error", reject);
      child.on("close", (code) => {
        const ms = Date.now() - started;
        this.timings.push({ command: args[0], ms });
        resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms });
      });
    });
  }

  /** `terraform init` from the mirror; throws with Terraform's output when it fails. */
  async init(cwd: string): Promise<TerraformResult> {
    return this.ok(cwd, ["init", "-input=false", "-no-color"]);
  }

  /** `terraform apply -auto-approve`; throws with Terraform's output when it fails. */
  async apply(cwd: string, args: readonly string[] = []): Promise<TerraformResult> {
    return this.ok(cwd, ["apply", "-auto-approve", "-input=false", "-no-color", ...args]);
  }

  /**
   * `terraform plan -detailed-exitcode` (exit code 0: no changes, 2: changes, 1: an error),
   * with the changes Terraform listed, read from its output.
   */
  async plan(cwd: string, args: readonly string[] = []): Promise<TerraformResult & { changes: PlanChanges }> {
    const result = await this.run(cwd, ["plan", "-detailed-exitcode", "-input=false", "-no-color", ...args]);
    return { ...result, changes: planChanges(result.stdout) };
  }

  /**
   * Saves a plan to a file and reads it with `terraform show -json`; `terraform apply <file>`
   * applies exactly that plan.
   */
  async savedPlan(cwd: string, args: readonly string[] = []): Promise<{ file: string; json: PlanJson }> {
    const file = join(this.dir, `plan-${this.timings.length}.tfplan`);
    await this.ok(cwd, ["plan", "-input=false", "-no-color", `-out=${file}`, ...args]);
    return { file, json: JSON.parse((await this.ok(cwd, ["show", "-json", "-no-color", file])).stdout) as PlanJson };
  }

  /** `terraform destroy -auto-approve`; throws with Terraform's output when it fails. */
  async destroy(cwd: string, args: readonly string[] = []): Promise<TerraformResult> {
    return this.ok(cwd, ["destroy", "-auto-approve", "-input=false", "-no-color", ...args]);
  }

  /** Runs and throws unless the exit code is 0. */
  async ok(cwd: string, args: readonly string[], extraEnv: Record<string, string> = {}): Promise<TerraformResult> {
    const result = await this.run(cwd, args, extraEnv);
    if (result.code !== 0)
      throw new Error(`terraform ${args.join(" ")} exited ${result.code} in ${cwd}:\n${result.stderr}\n${result.stdout}`);
    return result;
  }

  /** A one-line summary of the wall times, by subcommand. */
  summary(): string {
    const by = new Map<string, number[]>();
    for (const t of this.timings) by.set(t.command, [...(by.get(t.command) ?? []), t.ms]);
    return [...by].map(([c, ms]) => `${c}: ${ms.length}× ${ms.map((m) => (m / 1000).toFixed(1)).join("/")} s`).join("; ");
  }
}

/**
 * Runs `fn` over `items`, at most `limit` at a time (default: the machine's parallelism, at
 * least 2): Terraform runs spend much of their time starting the provider and waiting on the
 * endpoint. Results in the order of `items`; the first failure rejects.
 */
export async function eachLimit<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = Math.max(2, availableParallelism()),
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Resource addresses by what a plan does to them, and the plan's summary line. */
export interface PlanChanges {
  readonly create: string[];
  readonly update: string[];
  readonly delete: string[];
  readonly replace: string[];
  /** `Plan: 3 to add, 0 to change, 0 to destroy.`, or `No changes.` */
  readonly summary: string;
}

/** Reads the `# <address> will be created` lines and the summary of `terraform plan -no-color`. */
export function planChanges(output: string): PlanChanges {
  const changes: PlanChanges = { create: [], update: [], delete: [], replace: [], summary: "" };
  const kinds: [RegExp, keyof Omit<PlanChanges, "summary">][] = [
    [/ will be created$/, "create"],
    [/ will be updated in-place$/, "update"],
    [/ will be destroyed$/, "delete"],
    [/ must be replaced$/, "replace"],
  ];
  for (const line of output.split("\n")) {
    const m = /^\s*# (\S+)( .*)$/.exec(line);
    if (m) for (const [pattern, kind] of kinds) if (pattern.test(m[2])) changes[kind].push(m[1]);
  }
  const summary = /^(Plan: .*|No changes\..*)$/m.exec(output);
  return { ...changes, summary: summary?.[1] ?? "" };
}

/** The part of `terraform show -json <plan>` the tests read. */
export interface PlanJson {
  resource_changes?: { address: string; type: string; provider_name: string; change: { actions: string[] } }[];
}

/** Addresses by action in a plan: `create`, `update`, `delete` (a replacement counts as both). */
export function planActions(plan: PlanJson): Record<"create" | "update" | "delete", string[]> {
  const out = { create: [] as string[], update: [] as string[], delete: [] as string[] };
  for (const rc of plan.resource_changes ?? []) {
    for (const action of rc.change.actions)
      if (action === "create" || action === "update" || action === "delete") out[action].push(rc.address);
  }
  return out;
}

/** What a file of real-Terraform tests shares; set before its tests run. */
export interface TerraformOnLocalAws {
  /** A fresh folder for the file's stacks and states. */
  readonly work: string;
  readonly aws: LocalAws;
  readonly tf: TerraformRunner;
}

/** The same, with the sandbox manager beside the local AWS endpoint. */
export interface TerraformOnSandbox extends TerraformOnLocalAws {
  readonly sb: Sandbox;
}

/**
 * Inside `describeWithTerraform`: before the tests, a work folder (`prefix`), the local AWS
 * endpoint and a runner pointed at it; after them, the runner's timings on the console (as
 * `label`) and everything stopped and removed.
 */
export function terraformOnLocalAws(label: string, prefix: string): TerraformOnLocalAws {
  return terraformAgainst(label, prefix, async () => ({ aws: await LocalAws.start(), stop: (aws) => aws.stop() }));
}

/** As {@link terraformOnLocalAws}, with the whole sandbox (manager and local AWS endpoint). */
export function terraformOnSandbox(label: string, prefix: string): TerraformOnSandbox {
  const shared = terraformAgainst(label, prefix, async () => {
    const sb = await startSandbox({ manager: { record: false } });
    return { aws: sb.aws, sb, stop: () => sb.stop() };
  });
  return shared as TerraformOnSandbox;
}

function terraformAgainst(
  label: string,
  prefix: string,
  start: () => Promise<{ aws: LocalAws; sb?: Sandbox; stop: (aws: LocalAws) => Promise<void> }>,
): TerraformOnLocalAws & { sb?: Sandbox } {
  const shared = {} as { work: string; aws: LocalAws; tf: TerraformRunner; sb?: Sandbox };
  let stop: ((aws: LocalAws) => Promise<void>) | undefined;
  beforeAll(async () => {
    const availability = terraformAvailability();
    if (!availability.ok) throw new Error("unreachable: describeWithTerraform checked");
    shared.work = mkdtempSync(join(tmpdir(), prefix));
    const started = await start();
    Object.assign(shared, { aws: started.aws, sb: started.sb });
    stop = started.stop;
    shared.tf = new TerraformRunner(availability.tools, { endpoint: shared.aws.url });
  });
  afterAll(async () => {
    const { work, aws, tf } = shared;
    if (tf) console.log(`terraform timings, ${label} (${tf.tools.version}, aws ${tf.tools.providerVersions.join(",")}): ${tf.summary()}`);
    if (aws && stop) await stop(aws);
    if (work) rmSync(work, { recursive: true, force: true });
    if (tf) rmSync(tf.dir, { recursive: true, force: true });
  });
  return shared;
}
