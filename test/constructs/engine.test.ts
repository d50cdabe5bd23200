/**
 * The construct tests run on the engine DS_ONBOARD_ENGINE names (cdktf by default; CI runs them
 * on cdktn too): this proves which one actually ran.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack } from "cdktf";
import { DeepSecurityCrossAccountRole } from "../../constructs";
import { tempApp } from "../helpers/synth";
import { ENGINE } from "../setup";

it(`synthesizes with ${ENGINE}, whose version stamps the output`, () => {
  const app = tempApp();
  const stack = new TerraformStack(app, "engine");
  new AwsProvider(stack, "aws", {});
  new DeepSecurityCrossAccountRole(stack, "role", { externalIds: ["engine-check-1234"] });
  app.synth();
  const json = JSON.parse(readFileSync(join(app.outdir, "stacks", "engine", "cdk.tf.json"), "utf8")) as {
    "//": { metadata: { version: string } };
  };
  const installed = JSON.parse(readFileSync(join(__dirname, "..", "..", "node_modules", ENGINE, "package.json"), "utf8")) as {
    version: string;
  };
  expect(json["//"].metadata.version).toBe(installed.version);
  expect((require("cdktf/package.json") as { name: string }).name).toBe(ENGINE);
});
