import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import {
  AWS_PROVIDER_SOURCE,
  AWS_PROVIDER_VERSION_RANGE,
  addAccountStacks,
  DeepSecurityCrossAccountRole,
  ValidationError,
} from "../../constructs";
import { checkProviderVersion } from "../../constructs/provider-source";
import { synthJson, tempApp } from "../helpers/synth";

const ID = "tenant-external-id-1234";
const accounts = [{ accountId: "111111111111" }, { accountId: "222222222222" }];

/** The `terraform.required_providers.aws` block of every stack an app wrote. */
function writtenProviders(outdir: string, stacks: TerraformStack[]) {
  return stacks.map(
    (s) =>
      JSON.parse(readFileSync(join(outdir, "stacks", s.node.id, "cdk.tf.json"), "utf8")).terraform.required_providers.aws as {
        source: string;
        version: string;
      },
  );
}

describe("the AWS provider constraint", () => {
  it("is the documented range, itself a valid constraint", () => {
    expect(AWS_PROVIDER_VERSION_RANGE).toBe(">= 5.100.0, < 7.0.0");
    expect(() => checkProviderVersion(AWS_PROVIDER_VERSION_RANGE)).not.toThrow();
  });

  it("is written as the range with the qualified source for a single role", () => {
    const stack = new TerraformStack(Testing.app(), "one");
    new DeepSecurityCrossAccountRole(stack, "role", { externalIds: [ID] });
    expect(synthJson(stack).terraform.required_providers.aws).toEqual({ source: AWS_PROVIDER_SOURCE, version: AWS_PROVIDER_VERSION_RANGE });
  });

  it.each(["single-stack", "stack-per-account"] as const)("is written into every stack of the %s layout by a real App", (layout) => {
    const app = tempApp();
    const stacks = addAccountStacks(app, { layout, externalIds: [ID], accounts });
    app.synth();
    expect(stacks).toHaveLength(layout === "single-stack" ? 1 : 2);
    for (const aws of writtenProviders(app.outdir, stacks))
      expect(aws).toEqual({ source: "hashicorp/aws", version: ">= 5.100.0, < 7.0.0" });
  });

  it.each(["single-stack", "stack-per-account"] as const)("takes providerVersion from addAccountStacks (%s)", (layout) => {
    const app = tempApp();
    const stacks = addAccountStacks(app, { layout, externalIds: [ID], accounts, providerVersion: "~> 6.0" });
    app.synth();
    for (const aws of writtenProviders(app.outdir, stacks)) expect(aws).toEqual({ source: "hashicorp/aws", version: "~> 6.0" });
  });

  it("takes providerVersion on the single-account construct, with a token external ID", () => {
    const stack = new TerraformStack(Testing.app(), "one");
    const id = new TerraformVariable(stack, "ds_external_id", { type: "string", sensitive: true });
    new DeepSecurityCrossAccountRole(stack, "role", { externalIds: [id.stringValue], providerVersion: "= 5.100.0" });
    expect(synthJson(stack).terraform.required_providers.aws.version).toBe("= 5.100.0");
  });

  it("lets an explicit version in one construct win over the default of another in the same stack", () => {
    const stack = new TerraformStack(Testing.app(), "two");
    new DeepSecurityCrossAccountRole(stack, "a", { externalIds: [ID], roleName: "A" });
    new DeepSecurityCrossAccountRole(stack, "b", { externalIds: [ID], roleName: "B", providerVersion: ">= 6.0.0" });
    new DeepSecurityCrossAccountRole(stack, "c", { externalIds: [ID], roleName: "C" });
    expect(synthJson(stack).terraform.required_providers.aws.version).toBe(">= 6.0.0");
  });

  it("refuses two different explicit versions in one stack", () => {
    const stack = new TerraformStack(Testing.app(), "two");
    new DeepSecurityCrossAccountRole(stack, "a", { externalIds: [ID], roleName: "A", providerVersion: "~> 5.100" });
    expect(() => new DeepSecurityCrossAccountRole(stack, "b", { externalIds: [ID], roleName: "B", providerVersion: "~> 6.0" })).toThrow(
      /providerVersion: "~> 6.0" differs from "~> 5.100"/,
    );
  });

  it.each([
    ["5.100.0", true],
    ["~> 6.25", true],
    [">=5.100.0,<7.0.0", true],
    ["!= 6.1.0, >= 6.0.0", true],
    ["6.0.0-beta1", true],
    ["", false],
    ["latest", false],
    [">= 5.100.0 < 7.0.0", false],
    ["=> 5.0", false],
    ["5.100.0.1", false],
    ["~> 6.0,", false],
  ])("checks %j as a version constraint (valid: %s)", (value, valid) => {
    if (valid) expect(() => checkProviderVersion(value)).not.toThrow();
    else expect(() => checkProviderVersion(value)).toThrow(ValidationError);
  });

  it("names the prop and the fix when addAccountStacks gets a bad providerVersion, before creating any stack", () => {
    const app = Testing.app();
    expect(() => addAccountStacks(app, { layout: "stack-per-account", externalIds: [ID], accounts, providerVersion: "six" })).toThrow(
      /providerVersion: "six" is not a Terraform version constraint \(cannot read "six"\)\. Give a Terraform version constraint such as/,
    );
    expect(app.node.children).toHaveLength(0);
  });

  it("refuses a token as providerVersion, and a bad one on the single-account construct", () => {
    const stack = new TerraformStack(Testing.app(), "one");
    const v = new TerraformVariable(stack, "v", { type: "string" });
    expect(() => new DeepSecurityCrossAccountRole(stack, "a", { externalIds: [ID], providerVersion: v.stringValue })).toThrow(
      /providerVersion: is a token/,
    );
    expect(() => new DeepSecurityCrossAccountRole(stack, "b", { externalIds: [ID], providerVersion: "   " })).toThrow(
      /providerVersion: is empty/,
    );
  });
});
