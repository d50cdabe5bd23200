/**
 * The Terraform test harness: it finds Terraform and the provider mirror, says what is missing
 * and how to get it; when Terraform is missing, the suites that need it fail, saying so, unless
 * DS_ONBOARD_SKIP_TERRAFORM=1 leaves them out of the run.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalAws } from "../../src/sandbox/aws";
import { describeWithTerraform, SKIP_TERRAFORM_ENV, TerraformRunner, terraformAvailability } from "../helpers/terraform";

const root = join(__dirname, "..", "..");

/** Runs jest on the fixture suite with `env` added; returns its exit code and output. */
function runFixture(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(root, "node_modules", "jest", "bin", "jest.js"),
        "--rootDir",
        root,
        "--roots",
        join(root, "test", "terraform", "fixtures"),
        "--testMatch",
        "**/needs-terraform.fixture.ts",
        "--verbose",
        "--ci",
      ],
      { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

describe("terraformAvailability", () => {
  it("names a missing terraform binary and says how to get one", () => {
    const a = terraformAvailability({ PATH: "/nonexistent-bin" });
    expect(a).toMatchObject({ ok: false, missing: "the terraform binary (not on PATH, DS_ONBOARD_TERRAFORM not set)" });
    if (!a.ok)
      expect(a.howTo).toMatch(
        /Install Terraform .* DS_ONBOARD_TF_MIRROR .* Or leave these tests out: DS_ONBOARD_SKIP_TERRAFORM=1 npm test\./,
      );
    expect(terraformAvailability({ PATH: process.env.PATH, DS_ONBOARD_TERRAFORM: "/nonexistent/terraform" })).toMatchObject({
      ok: false,
      missing: "the terraform binary (DS_ONBOARD_TERRAFORM=/nonexistent/terraform does not exist)",
    });
  });

  it("fails a suite that needs Terraform when it is missing, saying what is missing and how to get it", async () => {
    const r = await runFixture({ DS_ONBOARD_TERRAFORM: "/nonexistent/terraform" });
    expect(r.code).toBe(1);
    expect(r.output).toContain("✕ has Terraform and the provider mirror");
    expect(r.output).toContain(
      'Real-Terraform tests "a suite that needs Terraform" need the terraform binary (DS_ONBOARD_TERRAFORM=/nonexistent/terraform does not exist). Install Terraform',
    );
    expect(r.output).toMatch(/Tests: +1 failed, 1 total/);
  }, 60_000);

  it("DS_ONBOARD_SKIP_TERRAFORM=1 leaves test/terraform out of the run, and nothing else", async () => {
    const list = (extra: Record<string, string>) =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, [join(root, "node_modules", "jest", "bin", "jest.js"), "--listTests", "--json"], {
          cwd: root,
          env: { ...process.env, [SKIP_TERRAFORM_ENV]: "", ...extra },
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.on("error", reject);
        child.on("close", () => {
          try {
            resolve((JSON.parse(out) as string[]).map((f) => f.slice(root.length + 1)).sort());
          } catch (error) {
            reject(new Error(`jest --listTests printed no JSON list: ${out.slice(0, 500)}`, { cause: error }));
          }
        });
      });
    const [all, without] = await Promise.all([list({}), list({ [SKIP_TERRAFORM_ENV]: "1" })]);
    expect(all).toContain("test/terraform/harness.test.ts");
    expect(without).toEqual(all.filter((f) => !f.startsWith("test/terraform/")));
    expect(without.length).toBeGreaterThan(20);
  }, 60_000);
});

describeWithTerraform("the Terraform harness, with Terraform", () => {
  it("finds a mirror that is missing when pointed elsewhere", () => {
    const empty = mkdtempSync(join(tmpdir(), "ds-onboard-mirror-"));
    try {
      expect(terraformAvailability({ PATH: process.env.PATH, DS_ONBOARD_TF_MIRROR: empty })).toMatchObject({
        ok: false,
        missing: expect.stringMatching(
          new RegExp(`^a filesystem mirror of registry\\.terraform\\.io/hashicorp/aws for \\w+ \\(looked in ${empty}\\)$`),
        ),
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("runs Terraform with the mirror-only CLI config and a clean environment", async () => {
    const a = terraformAvailability();
    if (!a.ok) throw new Error("unreachable: describeWithTerraform checked");
    expect(a.tools.providerVersions.length).toBeGreaterThan(0);
    const aws = await LocalAws.start();
    const tf = new TerraformRunner(a.tools, { endpoint: aws.url });
    try {
      expect(readFileSync(tf.cliConfig, "utf8")).toContain(`path    = "${a.tools.mirror}"`);
      const env = tf.environment();
      expect(Object.keys(env).sort()).toEqual([
        "AWS_ACCESS_KEY_ID",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "CHECKPOINT_DISABLE",
        "HOME",
        "PATH",
        "TF_CLI_CONFIG_FILE",
        "TF_INPUT",
        "TF_IN_AUTOMATION",
      ]);
      expect(env.HOME.startsWith(tf.dir)).toBe(true);
      const version = await tf.run(tf.dir, ["version"]);
      expect(version.code).toBe(0);
      expect(version.stdout).toContain(`Terraform v${a.tools.version}`);
    } finally {
      await aws.stop();
      rmSync(tf.dir, { recursive: true, force: true });
    }
  });
});
