/**
 * Onboarding benchmark: N accounts (default 200) against a sandbox manager with latency and a
 * rate limit; the wall time next to the bound the rate limit sets (manager calls ÷ rate), the
 * calls per account, and the external ID fetches per run.
 *
 *   npm run build && node dist/bench/onboard.js [--accounts 200] [--latency-ms 20] [--rate 50] [--concurrency 8]
 *   node dist/bench/onboard.js --mode onboard --accounts 1000    # verify (local AWS endpoint) + register
 *   node dist/bench/onboard.js --mode reconcile --accounts 1000  # reconcile --apply-registration, then the daily run
 *
 * `register` mode runs `ds-onboard register --role-arn ...`; `onboard` mode deploys the roles
 * into the local AWS endpoint and runs `ds-onboard onboard --config` (verify, then register).
 * `reconcile` mode runs `reconcile --apply-registration` on the same world (it registers every
 * account), then runs it again as the scheduled job would on a day when nothing changed.
 * The CLI runs as a child process, as a pipeline would run it; the sandbox runs here.
 */
import { execFile } from "node:child_process";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { buildPermissionsPolicy } from "../src/policy/permissions";
import { buildTrustPolicy } from "../src/policy/trust";
import { SandboxManager } from "../src/sandbox/manager";
import { startSandbox } from "../src/sandbox/start";

function opt(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const accounts = opt("--accounts", 200);
  const latencyMs = opt("--latency-ms", 20);
  const rate = opt("--rate", 50);
  const concurrency = opt("--concurrency", 8);
  const mode = process.argv.includes("--mode") ? process.argv[process.argv.indexOf("--mode") + 1] : "register";
  const full = mode === "onboard" || mode === "reconcile" ? await startSandbox({ manager: { latencyMs, rateLimit: rate } }) : undefined;
  const sandbox = full?.manager ?? (await SandboxManager.start({ latencyMs, rateLimit: rate }));
  try {
    const ids = Array.from({ length: accounts }, (_, i) => String(700000000000 + i));
    const arns = ids.map((id) => `arn:aws:iam::${id}:role/DeepSecurityCrossAccountRole`);
    const bin = join(__dirname, "..", "..", "bin", "ds-onboard.js");
    let args = [
      bin,
      "register",
      ...arns.flatMap((a) => ["--role-arn", a]),
      "--no-check-trust",
      "--concurrency",
      String(concurrency),
      "--output",
      "json",
    ];
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", DS_MANAGER_URL: sandbox.url, DS_API_KEY: sandbox.keys.admin };
    if (full) {
      // "Deploy" the roles (and each account's deployment role) into the local AWS endpoint.
      const iam = full.aws.iam;
      const trust = JSON.stringify(buildTrustPolicy({ principalArn: "arn:aws:iam::147995105371:root", externalIds: [sandbox.externalId] }));
      const admin = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] });
      for (const id of ids) {
        iam.createRole(
          id,
          "OrganizationAccountAccessRole",
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }],
          }),
        );
        iam.putInline(id, "OrganizationAccountAccessRole", "admin", admin);
        iam.createRole(id, "DeepSecurityCrossAccountRole", trust);
        iam.attach(
          id,
          "DeepSecurityCrossAccountRole",
          iam.createPolicy(id, "DeepSecurityCrossAccountRolePolicy", JSON.stringify(buildPermissionsPolicy())).arn,
        );
      }
      const config = join(mkdtempSync(join(tmpdir(), "ds-bench-onboard-")), "ds-onboard.yaml");
      writeFileSync(
        config,
        stringify({ manager: { product: "workload-security" }, externalId: "manager", accounts: ids.map((accountId) => ({ accountId })) }),
      );
      args =
        mode === "reconcile"
          ? [bin, "reconcile", "--config", config, "--apply-registration", "--concurrency", String(concurrency), "--output", "json"]
          : [bin, "onboard", "--config", config, "--concurrency", String(concurrency), "--output", "json"];
      Object.assign(env, {
        AWS_ENDPOINT_URL: full.aws.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIABENCH00000000000",
        AWS_SECRET_ACCESS_KEY: "bench",
      });
    }
    // Let the bucket fill, as it would be before a pipeline starts.
    await new Promise((r) => setTimeout(r, 1100));
    const run = () =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, args, { env, maxBuffer: 64 << 20 }, (error, out) => (error ? reject(error) : resolve(out))),
      );
    const started = performance.now();
    const stdout = await run();
    const seconds = (performance.now() - started) / 1000;
    type Row = { status?: string; action?: string };
    const report = JSON.parse(stdout) as { ok: boolean; results?: Row[]; accounts?: Row[] };
    const created = (report.results ?? report.accounts ?? []).filter((r) => r.status === "created" || r.action === "registered").length;
    const limited = sandbox.rateLimited;
    const useful = sandbox.totalCalls - limited;
    const bound = useful / rate;
    const externalIdFetches = sandbox.calls.get("GET /awsconnectorsettings") ?? 0;
    console.log(`onboarding benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}`);
    console.log(`sandbox: ${latencyMs} ms latency, ${rate} requests/s rate limit; ds-onboard ${mode}, concurrency ${concurrency}`);
    console.log(`accounts registered     ${created} of ${accounts} (${sandbox.connectors.length} connectors in the manager)`);
    console.log(
      `manager calls           ${useful} served + ${limited} answered 429 (${(useful / accounts).toFixed(3)} served calls per account)`,
    );
    console.log(`external ID fetches     ${externalIdFetches}${mode === "register" ? " (register does not need the ID)" : ""}`);
    if (full)
      console.log(
        `local AWS calls         ${[...full.aws.calls.values()].reduce((a, b) => a + b, 0)} (verification: IAM reads, assume-role checks, EC2)`,
      );
    console.log(`wall time               ${seconds.toFixed(2)} s, including CLI start-up${full ? " and verification" : ""}`);
    console.log(`rate-limit bound        ${bound.toFixed(2)} s (${useful} calls / ${rate} per s)`);
    console.log(
      `summary: ${accounts} accounts in ${seconds.toFixed(2)} s = ${(seconds / bound).toFixed(2)} x the rate-limit bound (aim <= 1.2), ${(useful / accounts).toFixed(3)} calls per account, ${externalIdFetches} external ID fetches`,
    );
    if (!report.ok || created !== accounts) process.exitCode = 1;
    if (mode === "reconcile" && full) {
      // The next scheduled run: nothing changed since.
      sandbox.calls.clear();
      sandbox.totalCalls = 0;
      const awsBefore = [...full.aws.calls.values()].reduce((a, b) => a + b, 0);
      const again = performance.now();
      const second = JSON.parse(await run()) as { ok: boolean; accounts: Row[] };
      const secondSeconds = (performance.now() - again) / 1000;
      const actions = second.accounts.filter((r) => r.action).length;
      console.log(
        `daily run, no change    ${secondSeconds.toFixed(2)} s for ${accounts} accounts (${((secondSeconds * 1000) / accounts).toFixed(2)} ms per account), ${sandbox.totalCalls} manager calls (${[...sandbox.calls].map(([k, n]) => `${k} x${n}`).join(", ")}), ${[...full.aws.calls.values()].reduce((a, b) => a + b, 0) - awsBefore} local AWS calls, ${actions} actions`,
      );
      if (!second.ok || actions !== 0) process.exitCode = 1;
    }
  } finally {
    await (full ? full.stop() : sandbox.stop());
  }
}

void main();
