/**
 * synthesizeAccountStacks: stack-per-account written a batch of stacks at a time must be the
 * output of one App holding every stack, and must validate everything before writing anything.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import { type AccountStacksProps, type AccountTarget, addAccountStacks, synthesizeAccountStacks, ValidationError } from "../../constructs";
import { synthesizeInBatches } from "../../constructs/batch-synthesis";

const ID = "tenant-external-id-1234";

/** Ten accounts, not in ID order, some with their own deployment role, region or external IDs. */
const ACCOUNTS: AccountTarget[] = [
  { accountId: "100000000009", displayName: "nine" },
  { accountId: "100000000001" },
  { accountId: "100000000005", region: "eu-west-1" },
  { accountId: "100000000003", deploymentRoleName: "AWSControlTowerExecution" },
  { accountId: "100000000000", deploymentRoleArn: "arn:aws:iam::100000000000:role/path/Deployer" },
  { accountId: "100000000007", externalIds: ["old-user-defined-id-7", ID] },
  { accountId: "100000000002" },
  { accountId: "100000000008", displayName: "eight" },
  { accountId: "100000000004" },
  { accountId: "100000000006" },
];
/** Accounts that left: between the current ones in name order, and after them. */
const RETIRED: AccountTarget[] = [{ accountId: "100000000010" }, { accountId: "050000000000", region: "us-west-2" }];

const PROPS: AccountStacksProps = {
  layout: "stack-per-account",
  stackName: "ds",
  externalIds: [ID],
  accounts: ACCOUNTS,
  retiredAccounts: RETIRED,
  region: "eu-central-1",
  tags: { team: "security" },
  backend: { type: "s3", bucket: "state-bucket", keyPrefix: "org/", region: "us-east-1" },
  registration: { managerUrl: "https://manager.example.com" },
};

const tempDir = () => mkdtempSync(join(tmpdir(), "ds-onboard-batches-"));

/** Every file under `dir`, by relative path, with its content. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out[relative(dir, full)] = readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return out;
}

/** What one App holding every stack writes. */
function oneApp(props: AccountStacksProps): Record<string, string> {
  const outdir = tempDir();
  const app = new App({ outdir, skipValidation: false });
  addAccountStacks(app, props);
  app.synth();
  return files(outdir);
}

const cdktfTokens = () =>
  (globalThis as { __cdktfTokenMap?: { stringTokenMap: Map<string, unknown> } }).__cdktfTokenMap?.stringTokenMap.size;

describe("synthesizeAccountStacks", () => {
  it("writes, in batches of 3 stacks, every stack file of one App and a manifest listing every stack", () => {
    const expected = oneApp(PROPS);
    const outdir = tempDir();
    const result = synthesizeAccountStacks({ ...PROPS, outdir, batchSize: 3, app: { skipValidation: false } });
    const actual = files(outdir);

    const stackFiles = (f: Record<string, string>) => Object.keys(f).filter((p) => p !== "manifest.json");
    expect(stackFiles(actual).sort()).toEqual(stackFiles(expected).sort());
    expect(stackFiles(actual)).toHaveLength(12);
    for (const path of stackFiles(expected)) expect({ path, json: actual[path] }).toEqual({ path, json: expected[path] });
    // The retired accounts' stacks hold their provider and backend, and nothing else.
    const retired = JSON.parse(actual[join("stacks", "ds-050000000000", "cdk.tf.json")]);
    expect(retired.resource).toBeUndefined();
    expect(retired.provider.aws[0].region).toBe("us-west-2");
    expect(retired.terraform.backend.s3.key).toBe("org/ds-050000000000.tfstate");

    const manifest = JSON.parse(actual["manifest.json"]);
    expect(manifest).toEqual(JSON.parse(expected["manifest.json"]));
    expect(Object.keys(manifest.stacks)).toEqual([...ACCOUNTS, ...RETIRED].map((a) => `ds-${a.accountId}`).sort());
    expect(result.stackNames).toEqual([...ACCOUNTS, ...RETIRED].map((a) => `ds-${a.accountId}`));
  });

  it("writes the single-stack layout in one App, as addAccountStacks and app.synth() do", () => {
    const props: AccountStacksProps = { ...PROPS, layout: "single-stack", backend: { type: "local", directory: "../../state" } };
    const outdir = tempDir();
    expect(synthesizeAccountStacks({ ...props, outdir, batchSize: 3 }).stackNames).toEqual(["ds"]);
    expect(files(outdir)).toEqual(oneApp(props));
  });

  it("forgets each finished batch: cdktf's token map holds none of its tokens afterwards", () => {
    const before = cdktfTokens() ?? 0;
    synthesizeAccountStacks({ ...PROPS, outdir: tempDir(), batchSize: 4 });
    expect(cdktfTokens()).toBe(before);
  });

  it.each<[string, Partial<AccountStacksProps>, RegExp]>([
    ["a bad account late in the list", { accounts: [...ACCOUNTS, { accountId: "12345" }] }, /accounts\[10\]\.accountId/],
    ["a bad retired account", { retiredAccounts: [...RETIRED, { accountId: "100000000011", region: "mars" }] }, /not an AWS region name/],
    ["a bad backend", { backend: { type: "s3", bucket: "" } }, /bucket/],
    ["an account listed twice", { accounts: [...ACCOUNTS, { accountId: "100000000001" }] }, /listed already at accounts\[1\]/],
  ])("validates everything before writing anything: %s", (_, change, message) => {
    const outdir = tempDir();
    expect(() => synthesizeAccountStacks({ ...PROPS, ...change, outdir, batchSize: 3 })).toThrow(ValidationError);
    expect(() => synthesizeAccountStacks({ ...PROPS, ...change, outdir, batchSize: 3 })).toThrow(message);
    expect(readdirSync(outdir)).toEqual([]);
  });

  it("refuses a batch size that is not a whole number of at least 1", () => {
    const outdir = join(tempDir(), "out");
    expect(() => synthesizeAccountStacks({ ...PROPS, outdir, batchSize: 0 })).toThrow(/batchSize/);
    expect(existsSync(outdir)).toBe(false);
  });

  it("collects garbage between batches when asked, and still writes every stack", () => {
    const outdir = tempDir();
    synthesizeInBatches({
      outdir,
      count: 5,
      batchSize: 2,
      collectEvery: 1,
      build: (app, start, end) => {
        for (let i = start; i < end; i++) new AwsProvider(new TerraformStack(app, `s${i}`), "aws", { region: "us-east-1" });
      },
    });
    expect(Object.keys(JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")).stacks)).toEqual(["s0", "s1", "s2", "s3", "s4"]);
    expect(readdirSync(outdir).sort()).toEqual(["manifest.json", "stacks"]);
  });
});
