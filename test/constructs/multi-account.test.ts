import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { type AccountTarget, addAccountStacks, DeepSecurityAccountRoles, ValidationError } from "../../constructs";
import { resources, synthJson, tempApp } from "../helpers/synth";

const ID = "tenant-external-id-1234";
const accounts = (n: number): AccountTarget[] =>
  Array.from({ length: n }, (_, i) => ({ accountId: String(100000000000 + i), displayName: `acct-${i}` }));

describe("DeepSecurityAccountRoles", () => {
  it("gives each account an aliased provider assuming its deployment role, locked to that account", () => {
    const stack = new TerraformStack(Testing.app(), "multi");
    new DeepSecurityAccountRoles(stack, "accounts", {
      externalIds: [ID],
      region: "eu-central-1",
      accounts: [
        { accountId: "111111111111" },
        { accountId: "222222222222", deploymentRoleName: "AWSControlTowerExecution", region: "us-west-2" },
        { accountId: "333333333333", deploymentRoleArn: "arn:aws:iam::333333333333:role/path/Deployer" },
      ],
    });
    const json = synthJson(stack);
    expect(json.provider!.aws).toEqual([
      {
        alias: "account_111111111111",
        region: "eu-central-1",
        allowed_account_ids: ["111111111111"],
        assume_role: [{ role_arn: "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", session_name: "ds-onboard" }],
      },
      {
        alias: "account_222222222222",
        region: "us-west-2",
        allowed_account_ids: ["222222222222"],
        assume_role: [{ role_arn: "arn:aws:iam::222222222222:role/AWSControlTowerExecution", session_name: "ds-onboard" }],
      },
      {
        alias: "account_333333333333",
        region: "eu-central-1",
        allowed_account_ids: ["333333333333"],
        assume_role: [{ role_arn: "arn:aws:iam::333333333333:role/path/Deployer", session_name: "ds-onboard" }],
      },
    ]);
    const roles = resources(json, "aws_iam_role");
    expect(roles.map((r) => r.provider).sort()).toEqual([
      "aws.account_111111111111",
      "aws.account_222222222222",
      "aws.account_333333333333",
    ]);
    for (const type of ["aws_iam_policy", "aws_iam_role_policy_attachment"]) {
      expect(resources(json, type).every((r) => /^aws\.account_\d{12}$/.test(r.provider))).toBe(true);
    }
    expect(json.terraform.required_providers.aws.source).toBe("hashicorp/aws");
  });

  it("builds deployment role ARNs in the role's partition", () => {
    const stack = new TerraformStack(Testing.app(), "gov");
    new DeepSecurityAccountRoles(stack, "accounts", {
      externalIds: [ID],
      partition: "aws-us-gov",
      principal: { type: "on-premises", accountId: "444455556666" },
      region: "us-gov-west-1",
      accounts: [{ accountId: "111111111111" }],
    });
    expect(synthJson(stack).provider!.aws[0].assume_role[0].role_arn).toBe(
      "arn:aws-us-gov:iam::111111111111:role/OrganizationAccountAccessRole",
    );
  });

  it.each<[string, Partial<Parameters<typeof addAccountStacks>[1]>, string, RegExp]>([
    ["an empty list", { accounts: [] }, "accounts", /non-empty list/],
    ["a short account ID", { accounts: [{ accountId: "1234" }] }, "accounts[0].accountId", /not an AWS account ID/],
    ["a numeric account ID", { accounts: [{ accountId: 123456789012 as never }] }, "accounts[0].accountId", /not an AWS account ID/],
    [
      "a duplicate account",
      { accounts: [{ accountId: "111111111111" }, { accountId: "111111111111" }] },
      "accounts[1].accountId",
      /listed already at accounts\[0\]/,
    ],
    [
      "a deployment role in another account",
      { accounts: [{ accountId: "111111111111", deploymentRoleArn: "arn:aws:iam::222222222222:role/X" }] },
      "accounts[0].deploymentRoleArn",
      /another account/,
    ],
    [
      "a bad deployment role ARN",
      { accounts: [{ accountId: "111111111111", deploymentRoleArn: "arn:aws:iam::111111111111:user/X" }] },
      "accounts[0].deploymentRoleArn",
      /expected a role/,
    ],
    ["a bad region", { accounts: [{ accountId: "111111111111", region: "Frankfurt" }] }, "accounts[0].region", /not an AWS region/],
    [
      "a bad default role name",
      { deploymentRoleName: "a/b", accounts: [{ accountId: "111111111111" }] },
      "deploymentRoleName",
      /not a valid IAM role name/,
    ],
  ])("rejects %s", (_name, props, path, message) => {
    let error: unknown;
    try {
      addAccountStacks(Testing.app(), { externalIds: [ID], accounts: [], ...props });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const issue = (error as ValidationError).issues.find((i) => i.path === path);
    expect(issue?.problem).toMatch(message);
  });

  it("refuses a token external ID with one stack per account, and says why", () => {
    const app = Testing.app();
    const holder = new TerraformStack(app, "vars");
    const v = new TerraformVariable(holder, "external_id", { type: "string" });
    expect(() => addAccountStacks(app, { layout: "stack-per-account", externalIds: [v.stringValue], accounts: accounts(2) })).toThrow(
      /uses a Terraform token, but stack-per-account puts each account in its own stack/,
    );
  });
});

describe("addAccountStacks", () => {
  it("lays out one stack with every account, or one stack per account", () => {
    expect(addAccountStacks(Testing.app(), { externalIds: [ID], accounts: accounts(3) }).map((s) => s.node.id)).toEqual([
      "deep-security-roles",
    ]);
    expect(
      addAccountStacks(Testing.app(), { layout: "stack-per-account", stackName: "ds", externalIds: [ID], accounts: accounts(2) }).map(
        (s) => s.node.id,
      ),
    ).toEqual(["ds-100000000000", "ds-100000000001"]);
  });

  it("synthesizes 1,000 accounts through app.synth(), one provider and one role each", () => {
    const app = tempApp();
    addAccountStacks(app, { externalIds: [ID], accounts: accounts(1000) });
    app.synth();
    const dir = join(app.outdir, "stacks");
    expect(readdirSync(dir)).toEqual(["deep-security-roles"]);
    const json = JSON.parse(readFileSync(join(dir, "deep-security-roles", "cdk.tf.json"), "utf8"));
    expect(json.provider.aws).toHaveLength(1000);
    expect(Object.keys(json.resource.aws_iam_role)).toHaveLength(1000);
    expect(new Set(Object.values<{ provider: string }>(json.resource.aws_iam_role).map((r) => r.provider)).size).toBe(1000);
  });
});
