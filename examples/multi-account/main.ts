/**
 * The role in three accounts of an organization, each reached through its deployment role,
 * trusted by an on-premises Deep Security Manager that runs as an IAM role in its own account.
 *
 *   DS_EXTERNAL_ID=<your tenant's ID> node dist/examples/multi-account/main.js
 *
 * One stack per account (`deep-security-roles-<account>`): small states, one account's failure
 * stays in that account. Deploy all of them with `cdktf deploy '*'`.
 */
import { App, type TerraformStack } from "cdktf";
import { addAccountStacks, ManagerPrincipals } from "../../constructs";

export const PLACEHOLDER_EXTERNAL_ID = "placeholder-external-id-0000";

export function build(app: App, externalId: string): TerraformStack[] {
  return addAccountStacks(app, {
    layout: "stack-per-account",
    externalIds: [externalId],
    principal: ManagerPrincipals.onPremisesIdentity("arn:aws:iam::444455556666:role/DeepSecurityManager"),
    region: "eu-west-1",
    accounts: [
      { accountId: "111111111111", displayName: "production" },
      { accountId: "222222222222", displayName: "staging" },
      {
        accountId: "333333333333",
        displayName: "sandbox (Control Tower)",
        deploymentRoleArn: "arn:aws:iam::333333333333:role/AWSControlTowerExecution",
      },
    ],
  });
}

if (require.main === module) {
  const app = new App();
  const stacks = build(app, process.env.DS_EXTERNAL_ID || PLACEHOLDER_EXTERNAL_ID);
  app.synth();
  console.error(`wrote ${stacks.length} stacks to ${app.outdir}/stacks/`);
}
