/**
 * IAM propagation after deploy, end to end: verify polls a role IAM does not show yet, and
 * register retries while the manager cannot assume a new role (20 s here), with no fixed sleep.
 * In a file of its own: these tests mostly wait, and run beside the others.
 */
import { runCli } from "../helpers/cli";
import { useWorld } from "../helpers/world";

const world = useWorld();
const { deploy, cliEnv: env, roleArgs, connectorsOf } = world;

describe("IAM propagation", () => {
  it("verify polls a role that is not visible yet, within the bound, and says when it never appears", async () => {
    world.sb.aws.iam.visibilityDelayMs = 3000;
    try {
      const { roleArn } = deploy();
      const started = Date.now();
      const r = await runCli(["verify", ...roleArgs(roleArn), "--output", "json"], env());
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).results[0].checks.role.status).toBe("pass");
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
      const missing = await runCli(
        [
          "verify",
          "--role-arn",
          roleArn.replace("DeepSecurityCrossAccountRole", "NoSuchRole"),
          "--deployment-role-name",
          "OrganizationAccountAccessRole",
          "--propagation-timeout",
          "2",
        ],
        env(),
      );
      expect(missing.code).toBe(4);
      expect(missing.stdout).toMatch(/role\s+FAIL\s+.*NoSuchRole does not exist \(waited for IAM to propagate\)/);
    } finally {
      world.sb.aws.iam.visibilityDelayMs = 0;
    }
  });

  it("a 20-second propagation delay: register succeeds after retries, with no fixed sleep", async () => {
    world.sb.aws.iam.propagationDelayMs = 20_000;
    try {
      const { accountId, roleArn } = deploy();
      const started = Date.now();
      const r = await runCli(["register", ...roleArgs(roleArn), "--output", "json"], env(), { timeoutMs: 120_000 });
      const elapsed = Date.now() - started;
      expect(r.code).toBe(0);
      const [result] = JSON.parse(r.stdout).results;
      expect(result.status).toBe("created");
      expect(result.notes).toContain("the manager could not assume the role yet (IAM propagation); retried");
      expect(elapsed).toBeGreaterThanOrEqual(19_000);
      expect(elapsed).toBeLessThan(60_000);
      expect(connectorsOf(accountId)).toHaveLength(1);
    } finally {
      world.sb.aws.iam.propagationDelayMs = 0;
    }
  }, 130_000);
});
