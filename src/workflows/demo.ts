/**
 * The whole flow on the bundled example, against the local sandbox, in seconds: synthesize, load
 * the roles into the local AWS endpoint (standing in for a deploy), verify, register.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Log } from "../app/log";
import { Project } from "../app/project";
import { Session } from "../app/session";
import { type EngineName, loadEngine } from "../engine";
import { WORKLOAD_SECURITY_ACCOUNT_ID } from "../policy/principal";
import { SANDBOX_PIPELINE_ACCOUNT, seedFromTerraform } from "../sandbox/seed";
import { startSandbox } from "../sandbox/start";
import { packageRoot } from "../version";
import { type OnboardReport, onboardProject } from "./onboard";

export interface DemoOptions {
  /** The onboarding config. @default the bundled examples/demo/ds-onboard.yaml */
  readonly config?: string;
  /** Where to write the Terraform JSON. @default a new temporary folder */
  readonly out?: string;
  /** Seconds before a new role can be assumed in the sandbox (IAM propagation). @default 1.5 */
  readonly propagationDelaySeconds?: number;
  /** The construct framework. @default cdktf when installed, else cdktn */
  readonly engine?: EngineName;
  readonly log: Log;
  readonly onStep?: (line: string) => void;
}

export interface DemoReport extends OnboardReport {
  readonly seconds: number;
  readonly outdir: string;
  /** The connectors the sandbox manager holds at the end. */
  readonly connectors: number;
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

    const configPath = options.config ?? demoConfig();
    const outdir = options.out ?? join(mkdtempSync(join(tmpdir(), "ds-onboard-demo-")), "cdktf.out");
    step(`synthesizing ${configPath} (external ID from the sandbox manager's API)`);
    const project = await Project.fromConfig(session, configPath);
    const synth = await loadEngine(options.engine).generator.synthesizeProject(project, { outdir });
    log.info(`    wrote ${synth.stacks.length} stack(s) to ${outdir}`);

    step("loading the synthesized roles into the local AWS endpoint: this stands in for `cdktf deploy` (or `terraform apply`)");
    for (const stack of synth.stacks) seedFromTerraform(sandbox.aws.iam, JSON.parse(readFileSync(join(stack.dir, "cdk.tf.json"), "utf8")));
    log.info(`    ${synth.stacks.length} stack(s) applied; new roles become assumable after ${delay} s`);

    step("verifying each role (trust, permissions, assume-role), then registering each account with the manager");
    const result = await onboardProject(project, {
      assumeAs: vendorRole.arn,
      propagationTimeoutMs: 60_000,
      assumeRetryTimeoutMs: 60_000,
      concurrency: 8,
      onStep: options.onStep,
    });
    return { ...result, seconds: (Date.now() - started) / 1000, outdir, connectors: sandbox.manager.connectors.length };
  } finally {
    await session?.close();
    await sandbox.stop();
  }
}
