/** `ds-onboard deployment-role`: the StackSet template from a config, and a clear refusal without the option. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { buildDeploymentPolicy } from "../../src/policy/deployment-role";
import { resolveTemplatePolicy } from "../../src/policy/deployment-role-template";
import { runCli } from "../helpers/cli";

const dir = mkdtempSync(join(tmpdir(), "ds-deployer-cli-"));
const base = { externalId: "literal-tenant-id", accounts: [{ accountId: "111122223333" }] };

it("writes the CloudFormation template for the config's role options", async () => {
  const config = join(dir, "with.yaml");
  const role = { roleName: "DsRole", path: "/security/" };
  writeFileSync(
    config,
    stringify({ ...base, role, deployment: { deploymentRole: { trustedPrincipals: ["arn:aws:iam::999988887777:role/ci"] } } }),
  );
  const out = join(dir, "deployer.json");
  const r = await runCli(["deployment-role", "--config", config, "--out", out]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/wrote the deployment role DeepSecurityDeployer \(cloudformation\)/);
  expect(r.stdout).toMatch(/--permission-model SERVICE_MANAGED --auto-deployment Enabled=true/);
  const template = JSON.parse(readFileSync(out, "utf8"));
  expect(resolveTemplatePolicy(template, "444455556666")).toEqual(buildDeploymentPolicy(role, "444455556666"));
});

it("refuses a config without deployment.deploymentRole, saying what to add", async () => {
  const config = join(dir, "without.yaml");
  writeFileSync(config, stringify(base));
  const r = await runCli(["deployment-role", "--config", config]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/has no deployment\.deploymentRole.*\n.*deploymentRole:\n\s+trustedPrincipals/s);
});
