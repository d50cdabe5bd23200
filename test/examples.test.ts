import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as multi from "../examples/multi-account/main";
import * as single from "../examples/single-account/main";
import { checkTrustPolicy } from "../src/policy/trust";
import { simulateAssumeRole } from "./helpers/simulate";
import { tempApp } from "./helpers/synth";

const ID = "example-tenant-id-5678";

function synthesizedRoles(build: (app: ReturnType<typeof tempApp>, id: string) => unknown) {
  const app = tempApp();
  build(app, ID);
  app.synth();
  const stacksDir = join(app.outdir, "stacks");
  return readdirSync(stacksDir).flatMap((stack) => {
    const json = JSON.parse(readFileSync(join(stacksDir, stack, "cdk.tf.json"), "utf8"));
    return Object.values<{ assume_role_policy: string }>(json.resource.aws_iam_role).map((role) => ({
      stack,
      policy: role.assume_role_policy,
    }));
  });
}

describe.each([
  ["single-account", single.build, "arn:aws:iam::147995105371:root", "arn:aws:iam::147995105371:role/connector", 1],
  [
    "multi-account",
    multi.build,
    "arn:aws:iam::444455556666:role/DeepSecurityManager",
    "arn:aws:iam::444455556666:role/DeepSecurityManager",
    3,
  ],
])("example %s", (_name, build, principalArn, caller, count) => {
  const roles = synthesizedRoles(build);

  it(`synthesizes ${count} role(s)`, () => {
    expect(roles).toHaveLength(count);
  });

  it("passes the trust checker", () => {
    for (const { policy } of roles) expect(checkTrustPolicy(policy, { principalArn, externalIds: [ID] }).findings).toEqual([]);
  });

  it("passes the iam-simulate proof", async () => {
    for (const { policy } of roles) {
      expect(await simulateAssumeRole(policy, { caller, externalId: ID })).toBe("Allowed");
      expect(await simulateAssumeRole(policy, { caller })).not.toBe("Allowed");
      expect(await simulateAssumeRole(policy, { caller, externalId: "wrong-id-0000" })).not.toBe("Allowed");
      expect(await simulateAssumeRole(policy, { caller, externalId: ID.toUpperCase() })).not.toBe("Allowed");
      expect(await simulateAssumeRole(policy, { caller: "arn:aws:iam::999988887777:root", externalId: ID })).not.toBe("Allowed");
      expect(await simulateAssumeRole(policy, { caller: "anonymous", externalId: ID })).not.toBe("Allowed");
    }
  });
});
