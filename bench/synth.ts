/**
 * Synthesis benchmark: 10, 100 and 1,000 accounts (more with --sizes), through the constructs
 * and through a hand-written equivalent of plain provider-aws resources, each in a fresh Node
 * process so that peak memory (max RSS) is the run's own.
 *
 *   npm run build && node dist/bench/synth.js [--sizes 10,100,1000] [--config-sizes 1000] [--runs 3]
 *   node dist/bench/synth.js --layout stack-per-account [--sizes 1000,10000,50000] [--batch-size 250] [--unbatched-max 5000]
 *
 * single-stack (the default layout): one App, one stack holding every account, both ways.
 * Also measures `ds-onboard synth` on a config of 1,000 accounts (validation, resolution,
 * synthesis and publishing included).
 *
 * stack-per-account: `synthesizeAccountStacks` (stacks built and written --batch-size at a time,
 * each batch in a fresh App) against the hand-written stacks batched the same way (the same
 * batching helper, so that the comparison is of the stacks alone), and, up to --unbatched-max
 * accounts, against the hand-written stacks in one App (what a main.ts without batching does).
 * --config-sizes applies to this layout too (0 to skip).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { stringify } from "yaml";
import { addAccountStacks, DEFAULT_SYNTH_BATCH_SIZE, type StackLayout, synthesizeAccountStacks } from "../constructs";
import { synthesizeInBatches } from "../constructs/batch-synthesis";
import { synthesizeOnboarding } from "../src/generator/synthesize";
import { requiredActions } from "../src/policy/permissions";
import { AWS_PROVIDER_VERSION_RANGE } from "../src/policy/provider-version";

type Variant = "construct" | "hand-written" | "config" | "hand-written-one-app";
const EXTERNAL_ID = "bench-tenant-external-id-0001";

function accountIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(100000000000 + i));
}

export function buildWithConstructs(app: App, n: number): void {
  addAccountStacks(app, { externalIds: [EXTERNAL_ID], accounts: accountIds(n).map((accountId) => ({ accountId })) });
}

/** The policy documents and descriptions, as a hand-written stack has them: literals, made once. */
function handWrittenParts() {
  const trust = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DeepSecurityManagerAssumeRole",
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::147995105371:root" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID } },
      },
    ],
  });
  const permissions = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DeepSecurityManagerReadOnly",
        Effect: "Allow",
        // The same actions, from the one list the constructs use (a copy here could drift).
        Action: requiredActions(),
        Resource: "*",
      },
    ],
  });
  const roleDescription = "Lets the Deep Security manager read this account (EC2 and WorkSpaces inventory). Managed by ds-onboard.";
  const policyDescription = "Read-only access that Deep Security needs to discover instances and WorkSpaces. Managed by ds-onboard.";
  /** One account's provider, role, policy, attachment and outputs, in `stack`. */
  return (stack: TerraformStack, id: string) => {
    const provider = new AwsProvider(stack, `aws-${id}`, {
      alias: `account_${id}`,
      region: "us-east-1",
      allowedAccountIds: [id],
      assumeRole: [{ roleArn: `arn:aws:iam::${id}:role/OrganizationAccountAccessRole`, sessionName: "ds-onboard" }],
    });
    const role = new IamRole(stack, `role-${id}`, {
      provider,
      name: "DeepSecurityCrossAccountRole",
      description: roleDescription,
      assumeRolePolicy: trust,
    });
    const policy = new IamPolicy(stack, `policy-${id}`, {
      provider,
      name: "DeepSecurityCrossAccountRolePolicy",
      description: policyDescription,
      policy: permissions,
    });
    new IamRolePolicyAttachment(stack, `attach-${id}`, { provider, role: role.name, policyArn: policy.arn });
    new TerraformOutput(stack, `arn-${id}`, { value: role.arn });
    new TerraformOutput(stack, `name-${id}`, { value: role.name });
  };
}

/** The required provider, as the constructs pin it. */
function pinProvider(stack: TerraformStack): void {
  stack.addOverride("terraform.required_providers.aws.source", "hashicorp/aws");
  stack.addOverride("terraform.required_providers.aws.version", AWS_PROVIDER_VERSION_RANGE);
}

/** The same Terraform, written by hand: no validation, no checks, no helpers. */
export function buildByHand(app: App, n: number): void {
  const stack = new TerraformStack(app, "deep-security-roles");
  const account = handWrittenParts();
  pinProvider(stack);
  for (const id of accountIds(n)) account(stack, id);
}

/** Stack-per-account by hand: one stack per account, in `app`, for the accounts `ids`. */
function stacksByHand(app: App, ids: readonly string[], account: ReturnType<typeof handWrittenParts>): void {
  for (const id of ids) {
    const stack = new TerraformStack(app, `deep-security-roles-${id}`);
    pinProvider(stack);
    account(stack, id);
  }
}

/** Child: one build + synth; prints {ms, cpuMs, maxRssMiB}. */
async function child(variant: Variant, n: number, layout: StackLayout, batchSize: number): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), "ds-bench-"));
  let start = process.hrtime.bigint();
  let cpu = process.cpuUsage();
  if (variant === "config") {
    // What `ds-onboard synth --config` does: parse and validate the config, resolve the ID, synthesize, publish.
    const config = join(outdir, "ds-onboard.yaml");
    writeFileSync(
      config,
      stringify({ externalId: EXTERNAL_ID, deployment: { layout }, accounts: accountIds(n).map((accountId) => ({ accountId })) }),
    );
    start = process.hrtime.bigint();
    cpu = process.cpuUsage();
    await synthesizeOnboarding({ configPath: config, outdir: join(outdir, "out") });
  } else if (layout === "single-stack") {
    const app = new App({ outdir });
    (variant === "construct" ? buildWithConstructs : buildByHand)(app, n);
    app.synth();
  } else if (variant === "construct") {
    const accounts = accountIds(n).map((accountId) => ({ accountId }));
    synthesizeAccountStacks({ outdir, batchSize, layout, externalIds: [EXTERNAL_ID], accounts });
  } else if (variant === "hand-written") {
    const ids = accountIds(n);
    const account = handWrittenParts();
    synthesizeInBatches({ outdir, count: n, batchSize, build: (app, from, to) => stacksByHand(app, ids.slice(from, to), account) });
  } else {
    const app = new App({ outdir });
    stacksByHand(app, accountIds(n), handWrittenParts());
    app.synth();
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  // The peak of the synthesis, read before removing its output (a recursive rmSync of 50,000 folders has its own).
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  rmSync(outdir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, maxRssMiB }));
}

interface Measure {
  ms: number;
  cpuMs: number;
  maxRssMiB: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(variant: Variant, n: number, runs: number, layout: StackLayout, batchSize: number): Measure {
  const results: Measure[] = Array.from({ length: runs }, () =>
    JSON.parse(
      execFileSync(process.execPath, [__filename, "--child", variant, String(n), layout, String(batchSize)], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    ),
  );
  return {
    ms: median(results.map((r) => r.ms)),
    cpuMs: median(results.map((r) => r.cpuMs)),
    maxRssMiB: median(results.map((r) => r.maxRssMiB)),
  };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1] as Variant, Number(args[2]), args[3] as StackLayout, Number(args[4]));
  const opt = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const layout = opt("--layout", "single-stack") as StackLayout;
  if (layout !== "single-stack" && layout !== "stack-per-account")
    throw new Error(`--layout: single-stack or stack-per-account, not ${layout}`);
  const perAccount = layout === "stack-per-account";
  const sizes = opt("--sizes", perAccount ? "1000,10000,50000" : "10,100,1000")
    .split(",")
    .map(Number);
  const runs = Number(opt("--runs", perAccount ? "1" : "3"));
  const batchSize = Number(opt("--batch-size", String(DEFAULT_SYNTH_BATCH_SIZE)));
  const unbatchedMax = Number(opt("--unbatched-max", "5000"));
  console.log(
    `synthesis benchmark, ${layout}: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, median of ${runs} run(s), one process per run, load average ${load()} at start`,
  );
  if (perAccount) return mainPerAccount(sizes, runs, batchSize, unbatchedMax, opt("--config-sizes", "1000"));
  console.log("accounts | constructs: time, peak RSS | hand-written: time, peak RSS | time ratio | ms/account");
  const ratios: number[] = [];
  let previous: { n: number; ms: number } | undefined;
  for (const n of sizes) {
    const ours = measure("construct", n, runs, layout, batchSize);
    const hand = measure("hand-written", n, runs, layout, batchSize);
    const ratio = ours.ms / hand.ms;
    ratios.push(ratio);
    const growth = previous ? `, x${(ours.ms / previous.ms).toFixed(1)} time for x${n / previous.n} accounts` : "";
    console.log(
      `${String(n).padStart(8)} | ${ours.ms.toFixed(0).padStart(6)} ms, ${ours.maxRssMiB.toFixed(0).padStart(4)} MiB | ${hand.ms.toFixed(0).padStart(6)} ms, ${hand.maxRssMiB.toFixed(0).padStart(4)} MiB | ${ratio.toFixed(2).padStart(5)} | ${(ours.ms / n).toFixed(2)}${growth}`,
    );
    previous = { n, ms: ours.ms };
  }
  configRuns(opt("--config-sizes", "1000"), runs, layout, batchSize);
  console.log(
    `summary: construct/hand-written time ratio ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} (aim <= 1.2) over ${sizes.join(", ")} accounts`,
  );
}

function configRuns(sizes: string, runs: number, layout: StackLayout, batchSize: number): void {
  const configSizes = sizes
    .split(",")
    .map(Number)
    .filter((n) => n > 0);
  if (configSizes.length === 0) return;
  console.log(`\nds-onboard synth --config (YAML config -> validated -> cdk.tf.json, ${layout}):`);
  console.log("accounts | time | ms/account | peak RSS");
  for (const n of configSizes) {
    const r = measure("config", n, runs, layout, batchSize);
    console.log(
      `${String(n).padStart(8)} | ${r.ms.toFixed(0).padStart(6)} ms | ${(r.ms / n).toFixed(2).padStart(5)} | ${r.maxRssMiB.toFixed(0).padStart(4)} MiB`,
    );
  }
}

function mainPerAccount(sizes: number[], runs: number, batchSize: number, unbatchedMax: number, configSizes: string): void {
  const layout = "stack-per-account";
  console.log(`batches of ${batchSize} stacks; time: wall clock (CPU time in brackets), per account`);
  console.log(
    "accounts | constructs: peak RSS, ms/account | hand-written, batched: peak RSS, ms/account | time ratio | hand-written, one App: peak RSS, ms/account",
  );
  const peaks: number[] = [];
  const ratios: number[] = [];
  const perAccount = (m: Measure, n: number) => `${(m.ms / n).toFixed(2)} (${(m.cpuMs / n).toFixed(2)})`;
  for (const n of sizes) {
    const ours = measure("construct", n, runs, layout, batchSize);
    const hand = measure("hand-written", n, runs, layout, batchSize);
    const oneApp = n <= unbatchedMax ? measure("hand-written-one-app", n, runs, layout, batchSize) : undefined;
    peaks.push(ours.maxRssMiB);
    ratios.push(ours.ms / hand.ms);
    console.log(
      `${String(n).padStart(8)} | ${ours.maxRssMiB.toFixed(0).padStart(4)} MiB, ${perAccount(ours, n)} | ${hand.maxRssMiB.toFixed(0).padStart(4)} MiB, ${perAccount(hand, n)} | ${(ours.ms / hand.ms).toFixed(2)} (${(ours.cpuMs / hand.cpuMs).toFixed(2)}) | ${oneApp ? `${oneApp.maxRssMiB.toFixed(0).padStart(4)} MiB, ${perAccount(oneApp, n)}` : "not run"}`,
    );
  }
  configRuns(configSizes, runs, layout, batchSize);
  console.log(
    `summary: constructs' peak RSS ${Math.min(...peaks).toFixed(0)}-${Math.max(...peaks).toFixed(0)} MiB (x${(Math.max(...peaks) / peaks[0]).toFixed(2)} from ${sizes[0]} to ${sizes[sizes.length - 1]} accounts; aim <= 1.1), construct/hand-written time ratio ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} (aim <= 1.1); load average ${load()} at end`,
  );
}

if (require.main === module) void main();
