/**
 * The config option `deployment.deploymentRole`: the stacks then assume the least-privilege
 * deployment role; bad values are refused with their path, what is wrong and how to fix it.
 */
import { stringify } from "yaml";
import { parseConfig } from "../../src/config/load";
import { ValidationError } from "../../src/validation";

const PIPELINE = "arn:aws:iam::999988887777:role/ci-pipeline";
const base = { externalId: "literal-tenant-id", accounts: [{ accountId: "111122223333" }] };

function problems(config: unknown): string[] {
  try {
    parseConfig(stringify(config), "ds-onboard.yaml");
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return error.issues.map((i) => `${i.path}: ${i.problem}. ${i.fix}`);
  }
  return [];
}

describe("deployment.deploymentRole", () => {
  it("makes the deployment role the role Terraform assumes", () => {
    const config = parseConfig(stringify({ ...base, deployment: { deploymentRole: { trustedPrincipals: [PIPELINE] } } }), "c.yaml");
    expect(config.deployment?.deploymentRoleName).toBe("DeepSecurityDeployer");
    const named = parseConfig(
      stringify({ ...base, deployment: { deploymentRole: { trustedPrincipals: [PIPELINE], name: "DsDeployer" } } }),
      "c.yaml",
    );
    expect(named.deployment?.deploymentRoleName).toBe("DsDeployer");
  });

  it("without it, OrganizationAccountAccessRole stays the default (no deploymentRoleName is invented)", () => {
    expect(parseConfig(stringify(base), "c.yaml").deployment?.deploymentRoleName).toBeUndefined();
  });

  it("accepts the same name given twice", () => {
    expect(
      problems({
        ...base,
        deployment: { deploymentRoleName: "DsDeployer", deploymentRole: { trustedPrincipals: [PIPELINE], name: "DsDeployer" } },
      }),
    ).toEqual([]);
  });

  it.each<[string, unknown, RegExp]>([
    [
      "no trusted principals",
      { trustedPrincipals: [] },
      /^deployment\.deploymentRole\.trustedPrincipals: is empty\. Name the pipeline's role ARN/,
    ],
    ["trusted principals missing", {}, /^deployment\.deploymentRole\.trustedPrincipals: is missing/],
    [
      "a principal that is not an ARN",
      { trustedPrincipals: ["ci-pipeline"] },
      /^deployment\.deploymentRole\.trustedPrincipals\[0\]: "ci-pipeline" is not an ARN\. Use a full ARN/,
    ],
    [
      "a principal that is a policy",
      { trustedPrincipals: ["arn:aws:iam::999988887777:policy/x"] },
      /^deployment\.deploymentRole\.trustedPrincipals\[0\]: .*names a policy; expected a role or a user or a root/,
    ],
    [
      "a principal in another partition",
      { trustedPrincipals: ["arn:aws-cn:iam::999988887777:role/ci"] },
      /^deployment\.deploymentRole\.trustedPrincipals\[0\]: .*is in partition aws-cn but the roles are in aws\. A role can trust only/,
    ],
    [
      "a bad name",
      { trustedPrincipals: [PIPELINE], name: "has space" },
      /^deployment\.deploymentRole\.name: .*is not a valid IAM role name/,
    ],
    [
      "the Deep Security role's own name",
      { trustedPrincipals: [PIPELINE], name: "DeepSecurityCrossAccountRole" },
      /^deployment\.deploymentRole\.name: "DeepSecurityCrossAccountRole" is a name the deployment role may manage.*\. Give the deployment role a name outside/,
    ],
    [
      "a bad organization ID",
      { trustedPrincipals: [PIPELINE], organizationId: "r-abcd" },
      /^deployment\.deploymentRole\.organizationId: .*is not an organization ID\. Use the ID AWS Organizations shows/,
    ],
    [
      "a session too short",
      { trustedPrincipals: [PIPELINE], maxSessionDurationSeconds: 900 },
      /^deployment\.deploymentRole\.maxSessionDurationSeconds: number 900 is outside 3,600 to 43,200 seconds/,
    ],
    ["an unknown key", { trustedPrincipals: [PIPELINE], principals: [] }, /^deployment\.deploymentRole: has unknown key "principals"/],
  ])("refuses %s", (_name, deploymentRole, expected) => {
    const found = problems({ ...base, deployment: { deploymentRole } });
    expect(found).toEqual([expect.stringMatching(expected)]);
  });

  it("refuses another deploymentRoleName beside it", () => {
    expect(problems({ ...base, deployment: { deploymentRoleName: "Other", deploymentRole: { trustedPrincipals: [PIPELINE] } } })).toEqual([
      expect.stringMatching(
        /^deployment\.deploymentRoleName: is Other but deploymentRole creates DeepSecurityDeployer\. Remove deploymentRoleName/,
      ),
    ]);
  });

  it("checks the name against the role's prefix", () => {
    expect(
      problems({ ...base, role: { roleNamePrefix: "DeepSec" }, deployment: { deploymentRole: { trustedPrincipals: [PIPELINE] } } }),
    ).toEqual([
      expect.stringMatching(/^deployment\.deploymentRole\.name: "DeepSecurityDeployer" is a name the deployment role may manage/),
    ]);
  });
});
