/**
 * The whole flow on the bundled example, against the local sandbox, in seconds: synthesize,
 * deploy (with real Terraform when it can install the AWS provider here, else by loading the
 * roles into the local AWS endpoint, standing in for the deploy), verify, register.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Log } from "../app/log";
import { Project } from "../app/project";
import { Session } from "../app/session";
import { findTerraformOnPath, runTerraform, type TerraformRun, terraformError } from "../app/terraform";
import { type EngineName, loadEngine } from "../engine";
import { ExitCode, UserError } from "../errors";
import { WORKLOAD_SECURITY_ACCOUNT_ID } from "../policy/principal";
import type { LocalAws } from "../sandbox/aws";
import { SANDBOX_PIPELINE_ACCOUNT, seedFromTerraform } from "../sandbox/seed";
import { startSandbox } from "../sandbox/start";
import { packageRoot } from "../version";
import { type OnboardReport, onboardProject } from "./onboard";
import { type ReconcileReport, reconcileProject } from "./reconcile";

export interface DemoOptions {
  /** The onboarding config. @default the bundled examples/demo/ds-onboard.yaml */
  readonly config?: string;
  /** Where to write the Terraform JSON. @default a new temporary folder */
  readonly out?: string;
  /** Seconds before a new role can be assumed in the sandbox (IAM propagation). @default 1.5 */
  readonly propagationDelaySeconds?: number;
  /** The construct framework. @default cdktf when installed, else cdktn */
  readonly engine?: EngineName;
  /**
   * How the synthesized stacks reach the local AWS endpoint: `"terraform"` (`terraform init` and
   * `apply`; fails when Terraform cannot run here), `"load"` (the roles are loaded directly,
   * standing in for the deploy), or `"auto"`: Terraform when `terraform` is on PATH and
   * `terraform init` can install the hashicorp/aws provider (from a filesystem mirror, a plugin
   * cache or the registry, as the user's Terraform CLI config says), else load.
   * @default "auto"
   */
  readonly deploy?: DeployMode;
  /** Seconds the first `terraform init` may take before the demo gives up on it. @default 60 */
  readonly terraformInitTimeoutSeconds?: number;
  readonly log: Log;
  readonly onStep?: (line: string) => void;
}

export type DeployMode = "auto" | "terraform" | "load";

/** How the demo deployed the stacks, and why that way. */
export interface DemoDeploy {
  readonly method: "terraform" | "load";
  /** Why this method (for load: why not Terraform). */
  readonly reason: string;
  /** Terraform's version, when it ran. */
  readonly terraformVersion?: string;
  /** Seconds the deploy took (init and apply, or the load). */
  readonly seconds: number;
  /** Where Terraform kept the state (a folder of the demo's own), when it ran. */
  readonly stateDir?: string;
}

export interface DemoReport extends OnboardReport {
  readonly seconds: number;
  readonly outdir: string;
  /** The connectors the sandbox manager holds at the end. */
  readonly connectors: number;
  readonly deploy: DemoDeploy;
  /** What reconcile found after onboarding, accounts by state. */
  readonly reconcile: ReconcileReport["counts"];
}

/** The bundled demo config. */
export const demoConfig = () => join(packageRoot(), "examples", "demo", "ds-onboard.yaml");

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const started = Date.now();
  const { log } = options;
  const step = (text: string) => log.info(`==> ${text}`);
  const delay = options.propagationDelaySeconds ?? 1.5;

  step("starting the sandbox manager and the local AWS endpoint (127.0.0.1 only)");
  const sandbox = await startSandbox();
  let session: Session | undefined;
  try {
    // Against real AWS the vendor's account cannot be acted as; the sandbox lends the demo a role
    // there, so that the assume-role check (with, without and with a wrong ID) runs too.
    const vendorRole = sandbox.aws.iam.createRole(
      WORKLOAD_SECURITY_ACCOUNT_ID,
      "DemoVendorCheck",
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:root` }, Action: "sts:AssumeRole" }],
      }),
    );
    sandbox.aws.iam.propagationDelayMs = delay * 1000;
    // The demo's "pipeline": the AWS SDK talks to the local endpoint, the session to the sandbox manager.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: sandbox.aws.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIADEMOPIPELINE0000",
      AWS_SECRET_ACCESS_KEY: "demo",
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    session = new Session(
      {
        managerUrl: { value: sandbox.manager.url, origin: "the sandbox" },
        apiKey: { value: sandbox.manager.keys.admin, origin: "the sandbox" },
      },
      log,
    );

    const work = mkdtempSync(join(tmpdir(), "ds-onboard-demo-"));
    // The bundled config is used from a copy in the demo's folder: synthesis keeps its record of
    // the accounts beside the config, and the package's own folder stays as installed.
    let configPath = options.config;
    if (!configPath) {
      configPath = join(work, "ds-onboard.yaml");
      copyFileSync(demoConfig(), configPath);
    }
    const outdir = options.out ?? join(work, "cdktf.out");
    step(
      `synthesizing ${options.config ? configPath : `the bundled example (a copy of ${demoConfig()})`} (external ID from the sandbox manager's API)`,
    );
    const project = await Project.fromConfig(session, configPath);
    const synth = await loadEngine(options.engine).generator.synthesizeProject(project, { outdir });
    log.info(`    wrote ${synth.stacks.length} stack(s) to ${outdir}`);

    const stacks = synth.stacks.map((s) => ({ ...s, json: JSON.parse(readFileSync(join(s.dir, "cdk.tf.json"), "utf8")) as StackJson }));
    const deployStarted = Date.now();
    const mode = options.deploy ?? "auto";
    let deploy: DemoDeploy | undefined;
    let notTerraform = "asked to load the roles directly";
    if (mode !== "load") {
      const terraform = findTerraformOnPath(process.env);
      if (!terraform) notTerraform = "terraform not found on PATH";
      else {
        const stateDir = join(work, "terraform");
        mkdirSync(stateDir);
        const applied = await terraformDeploy({
          terraform,
          stacks,
          workDir: stateDir,
          aws: sandbox.aws,
          log,
          step,
          initTimeoutMs: (options.terraformInitTimeoutSeconds ?? 60) * 1000,
        });
        if (applied.ok) {
          deploy = {
            method: "terraform",
            reason: applied.reason,
            terraformVersion: applied.version,
            seconds: (Date.now() - deployStarted) / 1000,
            stateDir,
          };
          log.info(
            `    ${stacks.length} stack(s) applied by Terraform${applied.version ? ` ${applied.version}` : ""}; state in ${stateDir}`,
          );
        } else notTerraform = applied.reason;
      }
      if (!deploy && mode === "terraform")
        throw new UserError(`Cannot deploy the demo with Terraform: ${notTerraform}.`, ExitCode.failed, { data: { deploy: "terraform" } });
    }
    if (!deploy) {
      step(`${notTerraform}: loading the roles directly, standing in for the deploy`);
      log.info(
        "    (the synthesized roles go straight into the local AWS endpoint: this stands in for `cdktf deploy` or `terraform apply`)",
      );
      for (const stack of stacks) seedFromTerraform(sandbox.aws.iam, stack.json);
      deploy = { method: "load", reason: notTerraform, seconds: (Date.now() - deployStarted) / 1000 };
      log.info(`    ${stacks.length} stack(s) loaded; new roles become assumable after ${delay} s`);
    }

    step("verifying each role (trust, permissions, assume-role), then registering each account with the manager");
    const result = await onboardProject(project, {
      assumeAs: vendorRole.arn,
      propagationTimeoutMs: 60_000,
      assumeRetryTimeoutMs: 60_000,
      concurrency: 8,
      onStep: options.onStep,
    });
    // The day after: what the scheduled pipeline's reconcile reports (nothing to do, or what is left).
    step("reconciling, as a scheduled pipeline would: accounts, connectors and live roles compared");
    const reconcile = await reconcileProject(project);
    log.info(
      `    ${Object.entries(reconcile.counts)
        .filter(([, n]) => n > 0)
        .map(([state, n]) => `${n} ${state}`)
        .join(", ")}`,
    );
    return {
      ...result,
      seconds: (Date.now() - started) / 1000,
      outdir,
      connectors: sandbox.manager.connectors.length,
      deploy,
      reconcile: reconcile.counts,
    };
  } finally {
    await session?.close();
    await sandbox.stop();
  }
}

/** The parts of a synthesized stack the demo reads: its AWS providers. */
interface StackJson {
  provider?: { aws?: { alias?: string; allowed_account_ids?: string[]; assume_role?: { role_arn?: string }[] }[] };
}

interface TerraformDeployInput {
  readonly terraform: string;
  readonly stacks: readonly { readonly name: string; readonly dir: string; readonly json: StackJson }[];
  /** Where Terraform runs and keeps the state: a folder per stack, and `<stack>.tfstate`. */
  readonly workDir: string;
  readonly aws: LocalAws;
  readonly log: Log;
  readonly step: (text: string) => void;
  readonly initTimeoutMs: number;
}

/**
 * `terraform init` and `apply -auto-approve` of every stack against the local AWS endpoint. The
 * sandbox first gets an organization holding each stack's accounts, each with the deployment
 * role its provider assumes. Terraform runs on a copy of each stack in `workDir`, whose state
 * goes there too (an override file replaces the config's backend): never beside the user's
 * config, and the output folder is left as synthesis wrote it. The first init is the probe: when it
 * cannot install the AWS provider, nothing was applied and the answer says why.
 */
async function terraformDeploy(
  input: TerraformDeployInput,
): Promise<{ ok: true; reason: string; version?: string } | { ok: false; reason: string }> {
  const { terraform, stacks, log, step } = input;
  const env: NodeJS.ProcessEnv = { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" };
  const run = (cwd: string, args: string[], timeoutMs?: number) => runTerraform(terraform, args, { cwd, env, timeoutMs });
  const version = await run(input.workDir, ["version", "-json"], 15_000).then(
    (r) => (r.code === 0 ? (JSON.parse(r.stdout) as { terraform_version?: string }).terraform_version : undefined),
    () => undefined,
  );

  // The accounts, as the providers name them, with the deployment roles they assume.
  const accounts = new Map<string, string>();
  for (const stack of stacks)
    for (const p of stack.json.provider?.aws ?? []) {
      const account = p.allowed_account_ids?.[0];
      const role = p.assume_role?.[0]?.role_arn;
      if (account && role) accounts.set(account, role);
    }
  if (accounts.size > 0) input.aws.addOrganization({ accounts: [...accounts].map(([id, deploymentRole]) => ({ id, deploymentRole })) });

  // Terraform runs on copies of the stacks in the demo's own folder, each with an override file
  // that puts its state there too: the output folder gets no .terraform, lock file or state.
  const dirs = stacks.map((stack) => {
    const dir = join(input.workDir, stack.name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(stack.dir, "cdk.tf.json"), join(dir, "cdk.tf.json"));
    const override = { terraform: { backend: { local: { path: join(input.workDir, `${stack.name}.tfstate`) } } } };
    writeFileSync(join(dir, "ds_onboard_demo_override.tf.json"), `${JSON.stringify(override, null, 2)}\n`);
    return { name: stack.name, dir };
  });

  step(`deploying with Terraform${version ? ` ${version}` : ""} (${terraform}): terraform init, then apply -auto-approve, per stack`);
  const init = (dir: string, timeoutMs?: number) => run(dir, ["init", "-input=false", "-no-color", "-reconfigure"], timeoutMs);
  const failed = (r: TerraformRun, seconds: number) =>
    r.timedOut
      ? `terraform init did not finish within ${seconds} s`
      : `terraform init could not install hashicorp/aws: ${terraformError(r)}`;
  const first = await init(dirs[0].dir, input.initTimeoutMs);
  if (first.code !== 0) return { ok: false, reason: failed(first, input.initTimeoutMs / 1000) };
  log.info(`    terraform init: ${dirs[0].name} in ${(first.ms / 1000).toFixed(1)} s`);
  // The provider can be installed here: the other stacks at once.
  const rest = await Promise.all(dirs.slice(1).map((s) => init(s.dir, input.initTimeoutMs)));
  const badInit = rest.findIndex((r) => r.code !== 0);
  if (badInit >= 0) return { ok: false, reason: failed(rest[badInit], input.initTimeoutMs / 1000) };

  const applies = await Promise.all(
    dirs.map(async (s) => ({ stack: s, run: await run(s.dir, ["apply", "-auto-approve", "-input=false", "-no-color"]) })),
  );
  for (const { stack, run: r } of applies)
    log.info(`    terraform apply: ${stack.name} ${r.code === 0 ? "applied" : "FAILED"} in ${(r.ms / 1000).toFixed(1)} s`);
  const badApply = applies.find((a) => a.run.code !== 0);
  if (badApply)
    throw new UserError(`terraform apply of ${badApply.stack.name} failed: ${terraformError(badApply.run)}`, ExitCode.failed, {
      data: { stack: badApply.stack.name },
    });
  return { ok: true, reason: "terraform is on PATH and terraform init installed hashicorp/aws", version };
}
