/**
 * `ds-onboard demo` deploys with real Terraform when it can (terraform on PATH, and `terraform
 * init` installs hashicorp/aws), and otherwise loads the roles directly, saying which one it did
 * and why; `--deploy terraform|load` forces either.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { runCli } from "../helpers/cli";
import { describeWithTerraform, TerraformRunner, terraformAvailability } from "../helpers/terraform";

jest.setTimeout(120_000);

const ACCOUNTS = ["111111111111", "222222222222", "333333333333"];

/** This PATH without the folders that hold a `terraform`. */
function pathWithoutTerraform(): string {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir && !existsSync(join(dir, "terraform")))
    .join(delimiter);
}

interface DemoJson {
  ok: boolean;
  connectors: number;
  outdir: string;
  accounts: { status: string }[];
  verify: { checks: Record<string, { status: string }> }[];
  deploy: { method: string; reason: string; terraformVersion?: string; seconds: number; stateDir?: string };
  reconcile: Record<string, number>;
}

async function demo(args: string[], env: Record<string, string>) {
  const r = await runCli(["demo", "--output", "json", ...args], env, { timeoutMs: 110_000 });
  const report = r.stdout ? (JSON.parse(r.stdout) as DemoJson) : undefined;
  return { ...r, report };
}

/** Every account onboarded: three connectors, every check passed. */
function expectOnboarded(report: DemoJson | undefined) {
  expect(report?.ok).toBe(true);
  expect(report?.connectors).toBe(3);
  expect(report?.accounts.map((a) => a.status)).toEqual(["created", "created", "created"]);
  expect(report?.verify.every((v) => Object.values(v.checks).every((c) => c.status === "pass"))).toBe(true);
  expect(report?.reconcile).toMatchObject({ healthy: 3, drifted: 0 });
}

describe("demo without Terraform", () => {
  it("loads the roles directly when terraform is not on PATH, and says so", async () => {
    const { code, stderr, report } = await demo([], { PATH: pathWithoutTerraform() });
    expect(code).toBe(0);
    expectOnboarded(report);
    expect(report?.deploy).toMatchObject({ method: "load", reason: "terraform not found on PATH" });
    expect(stderr).toContain("==> terraform not found on PATH: loading the roles directly, standing in for the deploy");
    expect(stderr).toMatch(/stands in for `cdktf deploy`/);
    expect(stderr).not.toContain("deploying with Terraform");
  });

  it("--deploy terraform fails when terraform is not on PATH, naming why", async () => {
    const { code, stdout, stderr } = await demo(["--deploy", "terraform"], { PATH: pathWithoutTerraform() });
    expect(code).toBe(1);
    const error = JSON.parse(stdout) as { ok: boolean; error: { message: string } };
    expect(error.ok).toBe(false);
    expect(error.error.message).toBe("Cannot deploy the demo with Terraform: terraform not found on PATH.");
    expect(stderr).not.toContain("loading the roles directly");
  });

  it("--deploy load loads the roles directly even where Terraform could run", async () => {
    const { code, stderr, report } = await demo(["--deploy", "load"], {});
    expect(code).toBe(0);
    expectOnboarded(report);
    expect(report?.deploy).toMatchObject({ method: "load", reason: "asked to load the roles directly" });
    expect(stderr).not.toContain("deploying with Terraform");
  });
});

describeWithTerraform("demo with Terraform", () => {
  const tools = terraformAvailability();
  let tf: TerraformRunner;
  let emptyMirror: string;

  beforeAll(() => {
    if (!tools.ok) throw new Error("unreachable: describeWithTerraform checked");
    // Only its CLI config (installation from the mirror) is used; the demo brings its own endpoint.
    tf = new TerraformRunner(tools.tools, { endpoint: "http://127.0.0.1:9" });
    emptyMirror = mkdtempSync(join(tmpdir(), "ds-onboard-empty-mirror-"));
  });

  afterAll(() => {
    if (tf) rmSync(tf.dir, { recursive: true, force: true });
    if (emptyMirror) rmSync(emptyMirror, { recursive: true, force: true });
  });

  it("applies the stacks with terraform init and apply when the provider can be installed (auto)", async () => {
    const started = Date.now();
    const { code, stderr, report } = await demo([], { TF_CLI_CONFIG_FILE: tf.cliConfig, HOME: tf.dir });
    const ms = Date.now() - started;
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    expectOnboarded(report);
    expect(report?.deploy).toMatchObject({
      method: "terraform",
      reason: "terraform is on PATH and terraform init installed hashicorp/aws",
      terraformVersion: tools.ok ? tools.tools.version : "",
    });
    expect(stderr).toContain(`==> deploying with Terraform ${tools.ok ? tools.tools.version : ""}`);
    expect(stderr).not.toContain("loading the roles directly");
    // Each stack's state, in the demo's own folder, holds its role, policy and attachment in its account.
    for (const account of ACCOUNTS) {
      const state = JSON.parse(readFileSync(join(report!.deploy.stateDir!, `deep-security-roles-${account}.tfstate`), "utf8")) as {
        resources: { type: string; instances: { attributes: { arn?: string } }[] }[];
      };
      expect(state.resources.map((r) => r.type).sort()).toEqual(["aws_iam_policy", "aws_iam_role", "aws_iam_role_policy_attachment"]);
      expect(state.resources.find((r) => r.type === "aws_iam_role")?.instances[0].attributes.arn).toBe(
        `arn:aws:iam::${account}:role/DeepSecurityCrossAccountRole`,
      );
    }
    // The output folder holds what synthesis wrote, no Terraform working files.
    for (const account of ACCOUNTS)
      expect(readdirSync(join(report!.outdir, "stacks", `deep-security-roles-${account}`))).toEqual(["cdk.tf.json"]);
    // Nothing was written beside the bundled config: the demo works on a copy, the state in its own folder.
    expect(readdirSync(join(__dirname, "..", "..", "examples", "demo"))).toEqual(["ds-onboard.yaml"]);
    console.log(`demo with Terraform: ${(ms / 1000).toFixed(1)} s, of which the deploy ${report?.deploy.seconds.toFixed(1)} s`);
  });

  it("falls back, saying why, when terraform init cannot install hashicorp/aws (auto)", async () => {
    const config = join(tf.dir, "empty-mirror.rc");
    writeFileSync(config, `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(emptyMirror)}\n  }\n}\n`);
    const { code, stderr, report } = await demo([], { TF_CLI_CONFIG_FILE: config, HOME: tf.dir });
    expect(code).toBe(0);
    expectOnboarded(report);
    expect(report?.deploy.method).toBe("load");
    expect(report?.deploy.reason).toMatch(/^terraform init could not install hashicorp\/aws: Failed to query available provider packages/);
    expect(stderr).toMatch(
      /==> terraform init could not install hashicorp\/aws: .*: loading the roles directly, standing in for the deploy/,
    );
  });

  it("--deploy terraform fails instead of falling back", async () => {
    const config = join(tf.dir, "empty-mirror.rc");
    const { code, stdout } = await demo(["--deploy", "terraform"], { TF_CLI_CONFIG_FILE: config, HOME: tf.dir });
    expect(code).toBe(1);
    expect((JSON.parse(stdout) as { error: { message: string } }).error.message).toMatch(
      /^Cannot deploy the demo with Terraform: terraform init could not install hashicorp\/aws: /,
    );
  });
});
