/**
 * One AWS account, trusted by Cloud One Workload Security.
 *
 *   DS_EXTERNAL_ID=<your tenant's ID> node dist/examples/single-account/main.js
 *
 * writes cdktf.out/stacks/deep-security-role/cdk.tf.json. Without DS_EXTERNAL_ID it uses a
 * placeholder, which is fine for a look at the output and useless for a deploy.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import { DeepSecurityCrossAccountRole, ManagerPrincipals } from "../../constructs";

export const PLACEHOLDER_EXTERNAL_ID = "placeholder-external-id-0000";

export function build(app: App, externalId: string): TerraformStack {
  const stack = new TerraformStack(app, "deep-security-role");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  new DeepSecurityCrossAccountRole(stack, "deep-security", {
    externalIds: [externalId],
    principal: ManagerPrincipals.workloadSecurity(),
    tags: { "managed-by": "ds-onboard" },
  });
  return stack;
}

if (require.main === module) {
  const app = new App();
  build(app, process.env.DS_EXTERNAL_ID || PLACEHOLDER_EXTERNAL_ID);
  app.synth();
  if (!process.env.DS_EXTERNAL_ID) console.error(`note: DS_EXTERNAL_ID is not set; used the placeholder "${PLACEHOLDER_EXTERNAL_ID}"`);
  console.error(`wrote ${app.outdir}/stacks/deep-security-role/cdk.tf.json`);
}
