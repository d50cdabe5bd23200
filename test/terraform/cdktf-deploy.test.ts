/**
 * `cdktf deploy` for real, as the README's "Registration inside `cdktf deploy`" describes it: a
 * project made by `ds-onboard init`, `npm install`, `deployment.registration` in its config, then
 * cdktf-cli 0.21.0 with real Terraform against the sandbox (its manager and its local AWS
 * endpoint). One deploy creates the role and registers the account; a second deploy changes
 * nothing; a destroy removes the role and (onDestroy: deregister) the connector; and the API key
 * is in no file of the project at any point, in any encoding.
 */
import { execFile } from "node:child_process";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse, stringify } from "yaml";
import { containsSecret } from "../../src/redact";
import { type Sandbox, startSandbox } from "../../src/sandbox/start";
import { CDKTF_QUIET_ENV, type CdktfCli, ensureCdktfCli } from "../helpers/cdktf-cli";
import { describeWithTerraform, TerraformRunner, terraformAvailability } from "../helpers/terraform";
import { npmInstall, REPO, runOk } from "../package/apps";

const ACCOUNT = "123456789012";
const ROLE = "DeepSecurityCrossAccountRole";
/** init's default layout: one stack. `cdktf diff` takes one stack's name (no pattern). */
const STACK = "deep-security-roles";
/** A key no other file could hold by chance, so that finding it anywhere is a leak. */
const API_KEY = `2F6C0B1E-DEPLOY-KEY:${"q7Zx4".repeat(6)}/+=`;

/**
 * After `terraform init`, cdktf runs `terraform providers lock -platform=linux_amd64` to fill in
 * the lock file's checksums, which asks the registry (unreachable here) even when init installed
 * from a filesystem mirror. Air-gapped deploys need this flag; `terraform init` still writes the
 * lock file with the local platform's checksums.
 */
const NO_LOCK = ["--skip-provider-lock"];

jest.setTimeout(15 * 60_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

describeWithTerraform("cdktf deploy of an init project registers the account, and destroy deregisters it", () => {
  const tools = terraformAvailability();
  const timings: string[] = [];
  let work: string;
  let project: string;
  let sandbox: Sandbox;
  let tf: TerraformRunner;
  let cli: CdktfCli;
  /** Files under node_modules older than this were installed before the key existed anywhere. */
  let installedAt: number;

  const time = (what: string, ms: number) => timings.push(`${what} ${(ms / 1000).toFixed(1)} s`);

  /** `cdktf <args>` in the project, with what a pipeline sets: the manager, the key, AWS, Terraform's config. */
  function cdktf(args: string[]): Promise<Run> {
    if (!tools.ok) throw new Error("unreachable");
    const env = tf.environment({
      ...CDKTF_QUIET_ENV,
      DS_MANAGER_URL: sandbox.manager.url,
      DS_API_KEY: API_KEY,
      AWS_SECRET_ACCESS_KEY: "pipeline-secret-not-checked",
    });
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli.script, ...args],
        { cwd: project, env, timeout: 10 * 60_000, maxBuffer: 64 << 20 },
        (error, stdout, stderr) => {
          const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
          const ms = Date.now() - started;
          time(`cdktf ${args[0]}`, ms);
          resolve({ code, stdout, stderr, ms });
        },
      );
    });
  }

  async function cdktfOk(args: string[]): Promise<Run> {
    const r = await cdktf(args);
    if (r.code !== 0) throw new Error(`cdktf ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  /**
   * Every regular file under the project (symbolic links are not followed: .terraform links the
   * provider from the mirror), with the files of node_modules only when written after the
   * install; names of files holding the key in any form `containsSecret` knows (plain, any letter
   * case, percent-encoded, base64, JSON-escaped, hex).
   */
  function filesHoldingTheKey(): { scanned: string[]; leaks: string[] } {
    const scanned: string[] = [];
    const leaks: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) {
          if (relative(project, path).split("/").includes("node_modules") && lstatSync(path).mtimeMs < installedAt) continue;
          scanned.push(relative(project, path));
          if (containsSecret(readFileSync(path).toString("latin1"), [API_KEY])) leaks.push(relative(project, path));
        }
      }
    };
    walk(project);
    return { scanned, leaks };
  }

  const connectors = () => sandbox.manager.connectors.filter((c) => c.accountId === ACCOUNT);
  const role = () => sandbox.aws.iam.accounts.get(ACCOUNT)?.roles.get(ROLE);

  beforeAll(async () => {
    if (!tools.ok) throw new Error("unreachable: describeWithTerraform checked");
    work = mkdtempSync(join(tmpdir(), "ds-onboard-cdktf-deploy-"));
    project = join(work, "proj");
    const [installed] = await Promise.all([
      ensureCdktfCli(),
      (async () => {
        sandbox = await startSandbox({ manager: { adminKey: API_KEY } });
        sandbox.aws.addOrganization({ accounts: [ACCOUNT] });
        tf = new TerraformRunner(tools.tools, { endpoint: sandbox.aws.url });
        let started = Date.now();
        await runOk(
          process.execPath,
          [
            join(REPO, "bin", "ds-onboard.js"),
            "init",
            project,
            "--account",
            ACCOUNT,
            "--external-id-source",
            "manager",
            "--engine",
            "cdktf",
          ],
          work,
          { timeoutMs: 120_000 },
        );
        time("ds-onboard init (packs this copy)", Date.now() - started);
        started = Date.now();
        await npmInstall(project);
        time("npm install in the project", Date.now() - started);
        installedAt = Date.now();
      })(),
    ]);
    cli = installed;
    time(`cdktf-cli ${cli.version} ${cli.installed ? "installed" : "from the cache"}`, cli.ms);
    // The README's config for registration inside the deploy.
    const configPath = join(project, "ds-onboard.yaml");
    const config = parse(readFileSync(configPath, "utf8")) as Record<string, Record<string, unknown> | undefined>;
    config.deployment = { ...config.deployment, registration: { onDestroy: "deregister" } };
    writeFileSync(configPath, stringify(config));
  }, 15 * 60_000);

  afterAll(async () => {
    if (tf) console.log(`cdktf deploy test timings (terraform ${tf.tools.version}): ${timings.join("; ")}`);
    await sandbox?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    if (tf) rmSync(tf.dir, { recursive: true, force: true });
  });

  it("deploy creates the role and registers the account once; the key is in no file", async () => {
    expect(role()).toBeUndefined();
    const r = await cdktfOk(["deploy", "*", "--auto-approve", ...NO_LOCK]);
    expect(role()?.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/${ROLE}`);
    expect(connectors()).toEqual([expect.objectContaining({ accountId: ACCOUNT, crossAccountRoleArn: role()!.arn })]);
    expect(containsSecret(r.stdout + r.stderr, [API_KEY])).toBe(false);

    const { scanned, leaks } = filesHoldingTheKey();
    // The files where a leak would be: the state, the synthesized stack, Terraform's own folder.
    expect(scanned).toEqual(
      expect.arrayContaining([
        "terraform.deep-security-roles.tfstate",
        "cdktf.out/stacks/deep-security-roles/cdk.tf.json",
        "cdktf.out/stacks/deep-security-roles/.terraform.lock.hcl",
        "cdktf.out/manifest.json",
        "ds-onboard.yaml",
        "main.js",
      ]),
    );
    expect(scanned.some((f) => f.startsWith("cdktf.out/stacks/deep-security-roles/.terraform/"))).toBe(true);
    expect(leaks).toEqual([]);
    // The registration step is in the state, with the role ARN and nothing secret.
    const state = readFileSync(join(project, "terraform.deep-security-roles.tfstate"), "utf8");
    expect(state).toContain('"type": "terraform_data"');
  });

  it("a second deploy changes nothing, and cdktf diff shows no changes", async () => {
    const before = connectors();
    // Each resource's identity in the state: the same objects after the second deploy (none replaced,
    // the registration step not run again). Terraform may still write the state: its refresh fills
    // in computed attributes such as managed_policy_arns, and the serial moves.
    const identities = () =>
      (
        JSON.parse(readFileSync(join(project, `terraform.${STACK}.tfstate`), "utf8")) as {
          resources: { type: string; name: string; instances: { attributes: { id: string; arn?: string; unique_id?: string } }[] }[];
        }
      ).resources.map((r) => ({
        address: `${r.type}.${r.name}`,
        instances: r.instances.map(({ attributes: a }) => ({ id: a.id, arn: a.arn, uniqueId: a.unique_id })),
      }));
    const identitiesBefore = identities();
    expect(identitiesBefore.map((r) => r.address.split(".")[0]).sort()).toEqual([
      "aws_iam_policy",
      "aws_iam_role",
      "aws_iam_role_policy_attachment",
      "terraform_data",
    ]);
    const diff = await cdktfOk(["diff", STACK, ...NO_LOCK]);
    expect(diff.stdout + diff.stderr).toMatch(/No changes\. Your infrastructure matches the configuration\./);
    const again = await cdktfOk(["deploy", "*", "--auto-approve", ...NO_LOCK]);
    expect(again.stdout + again.stderr).toMatch(/No changes\./);
    expect(again.stdout + again.stderr).not.toMatch(/changed outside of Terraform|will be (created|destroyed|updated)|must be replaced/);
    expect(identities()).toEqual(identitiesBefore);
    expect(connectors()).toEqual(before);
    expect(filesHoldingTheKey().leaks).toEqual([]);
  });

  it("destroy removes the role and deregisters the connector; the key is in no file", async () => {
    await cdktfOk(["destroy", "*", "--auto-approve", ...NO_LOCK]);
    expect(role()).toBeUndefined();
    expect(connectors()).toEqual([]);
    expect(sandbox.aws.iam.accounts.get(ACCOUNT)?.roles.has("OrganizationAccountAccessRole")).toBe(true);
    expect(filesHoldingTheKey().leaks).toEqual([]);
  });
});
