/**
 * State backends: each stack gets its own state (file, key or workspace), S3 locks with a
 * lockfile, and bad settings are refused with the field named, in the constructs and the config.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { addAccountStacks, ValidationError } from "../../constructs";
import { parseConfig } from "../../src/config/load";
import { tempApp } from "../helpers/synth";

const accounts = [{ accountId: "111111111111" }, { accountId: "222222222222" }];
const ID = "tenant-external-id-1234";

function backends(props: Parameters<typeof addAccountStacks>[1]) {
  const app = tempApp();
  const stacks = addAccountStacks(app, props);
  app.synth();
  return Object.fromEntries(
    stacks.map((s) => [
      s.node.id,
      (JSON.parse(readFileSync(join(app.outdir, "stacks", s.node.id, "cdk.tf.json"), "utf8")) as { terraform: { backend?: unknown } })
        .terraform.backend,
    ]),
  );
}

it("S3: one key per stack, native locking and encryption on, the stacks' region by default", () => {
  const b = backends({
    externalIds: [ID],
    accounts,
    layout: "stack-per-account",
    region: "eu-west-1",
    backend: { type: "s3", bucket: "my-state", keyPrefix: "ds/" },
  });
  expect(b).toEqual({
    "deep-security-roles-111111111111": {
      s3: {
        bucket: "my-state",
        key: "ds/deep-security-roles-111111111111.tfstate",
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
      },
    },
    "deep-security-roles-222222222222": {
      s3: {
        bucket: "my-state",
        key: "ds/deep-security-roles-222222222222.tfstate",
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
      },
    },
  });
});

it("S3 at a custom endpoint: path-style, no AWS account lookup; no lockfile when asked", () => {
  const b = backends({
    externalIds: [ID],
    accounts,
    backend: { type: "s3", bucket: "state", endpoint: "http://127.0.0.1:9000", useLockfile: false },
  });
  expect(b["deep-security-roles"]).toEqual({
    s3: {
      bucket: "state",
      key: "ds-onboard/deep-security-roles.tfstate",
      region: "us-east-1",
      encrypt: true,
      endpoints: { s3: "http://127.0.0.1:9000" },
      use_path_style: true,
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
    },
  });
});

it("remote (HCP Terraform): one workspace per stack", () => {
  const b = backends({ externalIds: [ID], accounts, layout: "stack-per-account", backend: { type: "remote", organization: "my-org" } });
  expect(b["deep-security-roles-111111111111"]).toEqual({
    remote: { organization: "my-org", hostname: "app.terraform.io", workspaces: { name: "ds-onboard-deep-security-roles-111111111111" } },
  });
});

it("local: a state file per stack in the folder named", () => {
  const b = backends({ externalIds: [ID], accounts, layout: "stack-per-account", backend: { type: "local", directory: "../../state" } });
  expect(b["deep-security-roles-222222222222"]).toEqual({
    local: { path: "../../state/terraform.deep-security-roles-222222222222.tfstate" },
  });
});

it("refuses bad settings, naming the field, in the constructs and in the config alike", () => {
  expect(() => backends({ externalIds: [ID], accounts, backend: { type: "s3", bucket: "Not_A_Bucket" } })).toThrow(ValidationError);
  expect(() => backends({ externalIds: [ID], accounts, backend: { type: "s3", bucket: "Not_A_Bucket" } })).toThrow(
    /backend\.bucket: "Not_A_Bucket" is not an S3 bucket name/,
  );
  expect(() =>
    parseConfig(
      'accounts: [{accountId: "111111111111"}]\ndeployment: { backend: { type: s3, bucket: Not_A_Bucket }, providerVersion: "six" }\n',
      "c.yaml",
    ),
  ).toThrow(
    /deployment\.backend\.bucket: "Not_A_Bucket" is not an S3 bucket name[\s\S]*deployment\.providerVersion: "six" is not a Terraform version constraint/,
  );
  expect(() => parseConfig('accounts: [{accountId: "111111111111"}]\ndeployment: { backend: { type: gcs } }\n', "c.yaml")).toThrow(
    /deployment\.backend/,
  );
});
