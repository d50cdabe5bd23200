import { defineCommand } from "../define";

interface DeploymentRoleArgs {
  config: string;
  format: "cloudformation" | "cdktf";
  out?: string;
}

export const deploymentRoleCommand = defineCommand<DeploymentRoleArgs>({
  command: "deployment-role",
  describe: "Write the least-privilege deployment role (deployment.deploymentRole) as a StackSet template or a cdktf bootstrap stack",
  builder: (y) =>
    y
      .option("config", { type: "string", demandOption: true, describe: "the onboarding config (YAML or JSON)" })
      .option("format", {
        choices: ["cloudformation", "cdktf"] as const,
        default: "cloudformation" as const,
        describe:
          "cloudformation: a template for a service-managed StackSet (or AFT); cdktf: one stack assuming OrganizationAccountAccessRole in each account",
      })
      .option("out", {
        type: "string",
        describe: "the template file, or the cdktf output folder (default: beside the config)",
      })
      .example("$0 deployment-role --config ds-onboard.yaml --out deployer.json", "a template to deploy with a StackSet")
      .example("$0 deployment-role --config ds-onboard.yaml --format cdktf", "a bootstrap stack for terraform apply"),
  handler: async ({ io, session }, args) => {
    const { writeDeploymentRoleArtifacts } = require("../../workflows/deployment-role") as typeof import("../../workflows/deployment-role");
    const result = await writeDeploymentRoleArtifacts({ configPath: args.config, format: args.format, out: args.out, session });
    const next =
      result.format === "cloudformation"
        ? [
            "Deploy it to every member account with a service-managed StackSet and automatic deployment, e.g.:",
            `  aws cloudformation create-stack-set --stack-set-name ds-onboard-deployment-role --template-body file://${result.path} --permission-model SERVICE_MANAGED --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false --capabilities CAPABILITY_NAMED_IAM`,
            "  aws cloudformation create-stack-instances --stack-set-name ds-onboard-deployment-role --deployment-targets OrganizationalUnitIds=<root or OU> --regions us-east-1",
            "StackSets skip the management account: create a plain stack from the template there if it is onboarded too.",
          ]
        : [
            `Apply it once with credentials that may assume the bootstrap role: terraform -chdir=${result.path} init && terraform -chdir=${result.path} apply`,
          ];
    io.result(
      result,
      [
        `wrote the deployment role ${result.roleName} (${result.format}) to ${result.path}${result.accountIds ? ` for ${result.accountIds.length} account(s)` : ""}`,
        `it may call only: ${result.actions.join(", ")} (on the Deep Security role and policy)`,
        "",
        ...next,
        "Then synth: the stacks assume it instead of OrganizationAccountAccessRole.",
      ].join("\n"),
    );
    return undefined;
  },
});
