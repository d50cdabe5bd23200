import { ENGINES, type EngineName } from "../../engine/engines";
import { ExitCode } from "../../errors";
import { defineCommand } from "../define";
import { seconds } from "../options";
import { onboardTable } from "../render";

interface DemoArgs {
  config?: string;
  out?: string;
  propagationDelay: number;
  engine?: EngineName;
  deploy: "auto" | "terraform" | "load";
}

export const demoCommand = defineCommand<DemoArgs>({
  command: "demo",
  describe: "The whole flow against the local sandbox, on the bundled example (no AWS account or manager needed)",
  builder: (y) =>
    y
      .option("config", { type: "string", describe: "onboarding config to use (default: the bundled examples/demo/ds-onboard.yaml)" })
      .option("out", { type: "string", describe: "where to write the Terraform JSON (default: a temporary folder)" })
      .option("engine", { choices: ENGINES, describe: "the construct framework (default: cdktf when installed, else cdktn)" })
      .option("deploy", {
        choices: ["auto", "terraform", "load"] as const,
        default: "auto" as const,
        describe:
          "how the roles reach the local AWS endpoint: terraform (init and apply, fails when Terraform cannot run), load (directly, standing in for the deploy), or auto (terraform when it is on PATH and terraform init can install hashicorp/aws, else load)",
      })
      .option("propagation-delay", {
        type: "string",
        default: 1.5,
        coerce: seconds("propagation-delay", 0, 600),
        describe: "seconds before a new role can be assumed (IAM propagation) in the sandbox",
      }),
  handler: async ({ io }, args) => {
    const { runDemo } = require("../../workflows/demo") as typeof import("../../workflows/demo");
    const report = await runDemo({
      config: args.config,
      out: args.out,
      propagationDelaySeconds: args.propagationDelay,
      engine: args.engine,
      deploy: args.deploy,
      log: io,
    });
    io.result(
      {
        ok: report.ok,
        seconds: report.seconds,
        outdir: report.outdir,
        accounts: report.rows,
        connectors: report.connectors,
        deploy: report.deploy,
        verify: report.verified,
        reconcile: report.reconcile,
      },
      `${onboardTable(report.rows)}\n\nDeployed by ${report.deploy.method === "terraform" ? `Terraform${report.deploy.terraformVersion ? ` ${report.deploy.terraformVersion}` : ""} (init and apply against the local AWS endpoint)` : `loading the roles directly, standing in for the deploy (${report.deploy.reason.split(":")[0]})`} in ${report.deploy.seconds.toFixed(1)} s.\n\nThe sandbox manager now holds ${report.connectors} AWS connector(s); reconcile finds ${report.reconcile.healthy} healthy. Done in ${report.seconds.toFixed(1)} s.\nNext: \`ds-onboard init\` for your own project, or \`ds-onboard sandbox\` to try the commands one by one.`,
    );
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
