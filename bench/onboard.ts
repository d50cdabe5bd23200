/**
 * Onboarding benchmark: register N accounts (default 200) with `ds-onboard register` against a
 * sandbox manager with latency and a rate limit, and compare the wall time with the bound the
 * rate limit sets (manager calls ÷ rate). Also counts calls per account and external ID fetches.
 *
 *   npm run build && node dist/bench/onboard.js [--accounts 200] [--latency-ms 20] [--rate 50] [--concurrency 8]
 *
 * The CLI runs as a child process, as a pipeline would run it; the sandbox runs here.
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { SandboxManager } from "../src/sandbox/manager";

function opt(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const accounts = opt("--accounts", 200);
  const latencyMs = opt("--latency-ms", 20);
  const rate = opt("--rate", 50);
  const concurrency = opt("--concurrency", 8);
  const sandbox = await SandboxManager.start({ latencyMs, rateLimit: rate });
  try {
    const arns = Array.from({ length: accounts }, (_, i) => `arn:aws:iam::${700000000000 + i}:role/DeepSecurityCrossAccountRole`);
    const bin = join(__dirname, "..", "..", "bin", "ds-onboard.js");
    const args = [bin, "register", ...arns.flatMap((a) => ["--role-arn", a]), "--no-check-trust", "--concurrency", String(concurrency), "--output", "json"];
    // Let the bucket fill, as it would be before a pipeline starts.
    await new Promise((r) => setTimeout(r, 1100));
    const started = performance.now();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, args, { env: { PATH: process.env.PATH, DS_MANAGER_URL: sandbox.url, DS_API_KEY: sandbox.keys.admin }, maxBuffer: 64 << 20 }, (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const report = JSON.parse(stdout) as { ok: boolean; results: { status: string }[] };
    const created = report.results.filter((r) => r.status === "created").length;
    const limited = sandbox.rateLimited;
    const useful = sandbox.totalCalls - limited;
    const bound = useful / rate;
    const externalIdFetches = sandbox.calls.get("GET /awsconnectorsettings") ?? 0;
    console.log(`onboarding benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}`);
    console.log(`sandbox: ${latencyMs} ms latency, ${rate} requests/s rate limit; register concurrency ${concurrency}`);
    console.log(`accounts registered     ${created} of ${accounts} (${sandbox.connectors.length} connectors in the manager)`);
    console.log(`manager calls           ${useful} served + ${limited} answered 429 (${(useful / accounts).toFixed(3)} served calls per account)`);
    console.log(`external ID fetches     ${externalIdFetches} (register does not need the ID)`);
    console.log(`wall time               ${seconds.toFixed(2)} s, including CLI start-up`);
    console.log(`rate-limit bound        ${bound.toFixed(2)} s (${useful} calls / ${rate} per s)`);
    console.log(`summary: ${accounts} accounts in ${seconds.toFixed(2)} s = ${(seconds / bound).toFixed(2)} x the rate-limit bound (aim <= 1.2), ${(useful / accounts).toFixed(3)} calls per account, ${externalIdFetches} external ID fetches`);
    if (!report.ok || created !== accounts) process.exitCode = 1;
  } finally {
    await sandbox.stop();
  }
}

void main();
