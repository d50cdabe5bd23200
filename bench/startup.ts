/**
 * CLI start-up: `ds-onboard --help` and `ds-onboard external-id get` (against an in-process
 * sandbox manager), next to `node -e ''` on the same machine. Median of N runs each.
 *
 *   npm run build && node dist/bench/startup.js [--runs 15]
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { SandboxManager } from "../src/sandbox/manager";

const BIN = join(__dirname, "..", "..", "bin", "ds-onboard.js");

function run(args: string[], env: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { env: { PATH: process.env.PATH ?? "", ...env } }, (error) =>
      error ? reject(error) : resolve(performance.now() - started),
    ),
  );
}

async function median(times: number, fn: () => Promise<number>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push(await fn());
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--runs");
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 15;
  const sandbox = await SandboxManager.start();
  try {
    const env = { DS_MANAGER_URL: sandbox.url, DS_API_KEY: sandbox.keys.admin };
    const bare = await median(runs, () => run(["-e", ""]));
    const help = await median(runs, () => run([BIN, "--help"]));
    const get = await median(runs, () => run([BIN, "external-id", "get"], env));
    console.log(`CLI start-up benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, median of ${runs} runs`);
    console.log(`node -e ''                      ${bare.toFixed(0).padStart(5)} ms`);
    console.log(`ds-onboard --help               ${help.toFixed(0).padStart(5)} ms  (${(help / bare).toFixed(2)} x bare node)`);
    console.log(
      `ds-onboard external-id get      ${get.toFixed(0).padStart(5)} ms  (${(get / bare).toFixed(2)} x bare node; one HTTP call to the sandbox)`,
    );
    console.log(`summary: --help ${(help / bare).toFixed(2)} x bare node (aim <= 3), external-id get ${(get / bare).toFixed(2)} x`);
  } finally {
    await sandbox.stop();
  }
}

void main();
