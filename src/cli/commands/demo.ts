/**
 * The whole flow on the bundled example, against the local sandbox, in seconds: synthesize,
 * load the roles into the local AWS endpoint (standing in for `cdktf deploy`), verify, register.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { ExitCode } from "../../errors";
import { Context, type GlobalArgs } from "../context";
import { command } from "../run";

interface DemoArgs {
  config?: string;
  out?: string;
  propagationDelay: number;
}

export const demoCommand: CommandModule<GlobalArgs, GlobalArgs & DemoArgs> = {
  command: "demo",
  describe: "The whole flow against the local sandbox, on the bundled example (no AWS account or manager needed)",
  builder: (y) =>
    y
      .option("config", { type: "string", describe: "onboarding config to use (default: the bundled examples/demo/ds-onboard.yaml)" })
      .option("out", { type: "string", describe: "where to write the Terraform JSON (default: a temporary folder)" })
      .option("propagation-delay", {
        type: "number",
        default: 1.5,
        describe: "seconds before a new role can be assumed (IAM propagation) in the sandbox",
      }) as unknown as Argv<GlobalArgs & DemoArgs>,
  handler: command<DemoArgs>(async (ctx, args) => {
    const { startSandbox } = require("../../sandbox/start") as typeof import("../../sandbox/start");
    const { seedFromTerraform, SANDBOX_PIPELINE_ACCOUNT } = require("../../sandbox/seed") as typeof import("../../sandbox/seed");
    const { WORKLOAD_SECURITY_ACCOUNT_ID } = require("../../policy/principal") as typeof import("../../policy/principal");
    const { synthesizeOnboarding } = require("../../generator/synthesize") as typeof import("../../generator/synthesize");
    const { targetsFromConfig } = require("../../onboard/targets") as typeof import("../../onboard/targets");
    const { loadConfig } = require("../../config/load") as typeof import("../../config/load");
    const { onboard, onboardTable } = require("./onboard") as typeof import("./onboard");
    const started = Date.now();
    const step = (text: string) => ctx.io.info(`==> ${text}`);

    step("starting the sandbox manager and the local AWS endpoint (127.0.0.1 only)");
    const sandbox = await startSandbox();
    let demoCtx: Context | undefined;
    try {
      // Against real AWS the vendor's account cannot be acted as; the sandbox lends the demo a
      // role there, so that the assume-role check (with, without and with a wrong ID) runs too.
      const vendorRole = sandbox.aws.iam.createRole(
        WORKLOAD_SECURITY_ACCOUNT_ID,
        "DemoVendorCheck",
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:root` }, Action: "sts:AssumeRole" }],
        }),
      );
      sandbox.aws.iam.propagationDelayMs = args.propagationDelay * 1000;
      // The demo's "pipeline": the AWS SDK talks to the local endpoint, the CLI to the sandbox manager.
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: sandbox.aws.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIADEMOPIPELINE0000",
        AWS_SECRET_ACCESS_KEY: "demo",
      });
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;
      demoCtx = new Context(
        {
          ...ctx.args,
          managerUrl: sandbox.manager.url,
          apiKeyFile: undefined,
          apiKey: undefined,
          externalId: undefined,
          externalIdFrom: undefined,
        },
        { DS_API_KEY: sandbox.manager.keys.admin },
        ctx.io,
      );

      const configPath = args.config ?? join(__dirname, "..", "..", "..", "..", "examples", "demo", "ds-onboard.yaml");
      const outdir = args.out ?? join(mkdtempSync(join(tmpdir(), "ds-onboard-demo-")), "cdktf.out");
      step(`synthesizing ${configPath} (external ID from the sandbox manager's API)`);
      const synth = await synthesizeOnboarding({ configPath, outdir, context: demoCtx });
      ctx.io.info(`    wrote ${synth.stacks.length} stack(s) to ${outdir}`);

      step("loading the synthesized roles into the local AWS endpoint: this stands in for `cdktf deploy`, which needs real AWS");
      for (const stack of synth.stacks)
        seedFromTerraform(sandbox.aws.iam, JSON.parse(readFileSync(join(stack.dir, "cdk.tf.json"), "utf8")));
      ctx.io.info(
        `    ${readdirSync(join(outdir, "stacks")).length} stack(s) applied; new roles become assumable after ${args.propagationDelay} s`,
      );

      const loaded = loadConfig(configPath);
      const targets = targetsFromConfig(loaded.config, synth.accounts);
      step("verifying each role (trust, permissions, assume-role), then registering each account with the manager");
      const result = await onboard(
        demoCtx,
        {
          assumeAs: vendorRole.arn,
          propagationTimeout: 60,
          concurrency: 8,
          sync: false,
          assumeRetryTimeout: 60,
          skipVerify: false,
        } as Parameters<typeof onboard>[1],
        targets,
        loaded,
      );
      const connectors = sandbox.manager.connectors.length;
      ctx.io.result(
        { ok: result.ok, seconds: (Date.now() - started) / 1000, outdir, accounts: result.rows, connectors, verify: result.verified },
        `${onboardTable(result.rows)}\n\nThe sandbox manager now holds ${connectors} AWS connector(s). Done in ${((Date.now() - started) / 1000).toFixed(1)} s.\nNext: \`ds-onboard init\` for your own project, or \`ds-onboard sandbox\` to try the commands one by one.`,
      );
      return result.ok ? ExitCode.ok : ExitCode.failed;
    } finally {
      await demoCtx?.close();
      await sandbox.stop();
    }
  }),
};
