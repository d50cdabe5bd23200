/**
 * Synthesis benchmark: 10, 100 and 1,000 accounts (more with --sizes), through the constructs
 * and through a hand-written equivalent of plain provider-aws resources, each in a fresh Node
 * process so that peak memory (max RSS) is the run's own.
 *
 *   npm run build && node dist/bench/synth.js [--sizes 10,100,1000] [--config-sizes 1000] [--runs 3]
 *
 * Also measures `ds-onboard synth` on a config of 1,000 accounts (validation, resolution,
 * synthesis and publishing included).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { stringify } from "yaml";
import { addAccountStacks } from "../constructs";
import { synthesizeOnboarding } from "../src/generator/synthesize";
import { requiredActions } from "../src/policy/permissions";

type Variant = "construct" | "hand-written" | "config";
const EXTERNAL_ID = "bench-tenant-external-id-0001";

function accountIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(100000000000 + i));
}

export function buildWithConstructs(app: App, n: number): void {
  addAccountStacks(app, { externalIds: [EXTERNAL_ID], accounts: accountIds(n).map((accountId) => ({ accountId })) });
}

/** The same Terraform, written by hand: no validation, no checks, no helpers. */
export function buildByHand(app: App, n: number): void {
  const stack = new TerraformStack(app, "deep-security-roles");
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
  stack.addOverride("terraform.required_providers.aws.source", "hashicorp/aws");
  for (const id of accountIds(n)) {
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
  }
}

/** Child: one build + synth; prints {ms, maxRssMiB}. */
async function child(variant: Variant, n: number): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), "ds-bench-"));
  let ms: number;
  if (variant === "config") {
    // What `ds-onboard synth --config` does: parse and validate the config, resolve the ID, synthesize, publish.
    const config = join(outdir, "ds-onboard.yaml");
    writeFileSync(config, stringify({ externalId: EXTERNAL_ID, accounts: accountIds(n).map((accountId) => ({ accountId })) }));
    const start = process.hrtime.bigint();
    await synthesizeOnboarding({ configPath: config, outdir: join(outdir, "out") });
    ms = Number(process.hrtime.bigint() - start) / 1e6;
  } else {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    (variant === "construct" ? buildWithConstructs : buildByHand)(app, n);
    app.synth();
    ms = Number(process.hrtime.bigint() - start) / 1e6;
  }
  rmSync(outdir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(variant: Variant, n: number, runs: number): { ms: number; maxRssMiB: number } {
  const results = Array.from({ length: runs }, () =>
    JSON.parse(execFileSync(process.execPath, [__filename, "--child", variant, String(n)], { encoding: "utf8", maxBuffer: 1 << 20 })),
  );
  return { ms: median(results.map((r) => r.ms)), maxRssMiB: median(results.map((r) => r.maxRssMiB)) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1] as Variant, Number(args[2]));
  const opt = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const sizes = opt("--sizes", "10,100,1000").split(",").map(Number);
  const runs = Number(opt("--runs", "3"));
  console.log(
    `synthesis benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, median of ${runs} runs, one process per run`,
  );
  console.log("accounts | constructs: time, peak RSS | hand-written: time, peak RSS | time ratio | ms/account");
  const ratios: number[] = [];
  let previous: { n: number; ms: number } | undefined;
  for (const n of sizes) {
    const ours = measure("construct", n, runs);
    const hand = measure("hand-written", n, runs);
    const ratio = ours.ms / hand.ms;
    ratios.push(ratio);
    const growth = previous ? `, x${(ours.ms / previous.ms).toFixed(1)} time for x${n / previous.n} accounts` : "";
    console.log(
      `${String(n).padStart(8)} | ${ours.ms.toFixed(0).padStart(6)} ms, ${ours.maxRssMiB.toFixed(0).padStart(4)} MiB | ${hand.ms.toFixed(0).padStart(6)} ms, ${hand.maxRssMiB.toFixed(0).padStart(4)} MiB | ${ratio.toFixed(2).padStart(5)} | ${(ours.ms / n).toFixed(2)}${growth}`,
    );
    previous = { n, ms: ours.ms };
  }
  const configSizes = opt("--config-sizes", "1000").split(",").map(Number);
  console.log("\nds-onboard synth --config (YAML config -> validated -> cdk.tf.json, single stack):");
  console.log("accounts | time | peak RSS");
  for (const n of configSizes) {
    const r = measure("config", n, runs);
    console.log(`${String(n).padStart(8)} | ${r.ms.toFixed(0).padStart(6)} ms | ${r.maxRssMiB.toFixed(0).padStart(4)} MiB`);
  }
  console.log(
    `summary: construct/hand-written time ratio ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} (aim <= 1.2) over ${sizes.join(", ")} accounts`,
  );
}

if (require.main === module) void main();
