import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SandboxManager } from "../../src/sandbox/manager";
import { type CliResult, runCli } from "../helpers/cli";
import { sandboxEnv, useSandbox } from "../helpers/sandbox";

/** A key no output may contain, set as the sandbox's administrator key. */
const KEY = "7:LEAKCANARY-0123456789abcdefABCDEF";
const env = useSandbox({ adminKey: KEY });
const dir = mkdtempSync(join(tmpdir(), "ds-secrets-"));
const config = join(dir, "ds-onboard.yaml");
writeFileSync(config, 'externalId: manager\naccounts:\n  - accountId: "111122223333"\n');
let initRuns = 0;

/** Every command, in every output mode, verbose or not. */
const COMMANDS: string[][] = [
  ["--help"],
  ["external-id", "--help"],
  ["external-id", "get"],
  ["external-id", "get", "--store", `file:${join(dir, "stored-id.txt")}`],
  ["external-id", "get", "--store", "ssm:/leak-test/external-id"],
  ["external-id", "get", "--store", "secretsmanager:leak-test/external-id"],
  ["external-id", "retrieval", "status"],
  ["external-id", "retrieval", "enable"],
  ["external-id", "retrieval", "disable", "--external-id-from", `file:${join(dir, "stored-id.txt")}`],
  ["external-id", "retrieval", "reset"],
  ["external-id", "get"], // after reset
  ["doctor"],
  ["external-id", "retrieval", "disable"], // refused: exit 2
  ["synth", "--config", config, "--out", join(dir, "synth-out")],
  ["synth", "--config", config, "--list-accounts"],
  // With a version to depend on: packing this checkout (test/package) reads no secret, and takes 0.7 s a run.
  ["init", "INIT_DIR", "--account", "111122223333", "--package", "0.1.0"],
  ["init", "INIT_DIR", "--account", "111122223333", "--state-bucket", "tf-state", "--ci", "github-actions", "--package", "0.1.0"],
  [
    "verify",
    "--role-arn",
    "arn:aws:iam::111122223333:role/DeepSecurityCrossAccountRole",
    "--deployment-role-name",
    "OrganizationAccountAccessRole",
    "--propagation-timeout",
    "0",
  ],
  ["register", "--role-arn", "arn:aws:iam::111122223333:role/DeepSecurityCrossAccountRole"],
  ["onboard", "--role-arn", "arn:aws:iam::222233334444:role/DeepSecurityCrossAccountRole", "--skip-verify"],
  ["deregister", "--role-arn", "arn:aws:iam::222233334444:role/DeepSecurityCrossAccountRole"],
  ["migrate-external-id", "discover", "--config", config, "--state", join(dir, "migration.json")],
  ["migrate-external-id", "plan", "--config", config, "--state", join(dir, "migration.json")],
  // Without the sandbox's IAM propagation delay (a 2 s retry per run); one run below keeps it.
  ["demo", "--out", join(dir, "demo-out"), "--propagation-delay", "0"],
];

/** init writes a new folder each run. */
function expand(command: string[]): string[] {
  return command.map((c) => (c === "INIT_DIR" ? join(dir, `init-${initRuns++}`) : c));
}
const MODES = [[], ["--output", "json"], ["--verbose"], ["--output", "json", "--verbose"]];

function leaks(result: CliResult, secret: string): string[] {
  return (["stdout", "stderr"] as const).filter((s) => result[s].includes(secret));
}

describe("the API key never appears in any output", () => {
  it("for every command, output mode and verbosity, with the key in DS_API_KEY", async () => {
    let runs = 0;
    for (const command of COMMANDS) {
      for (const mode of MODES) {
        const result = await runCli([...expand(command), ...mode], sandboxEnv(env, KEY));
        runs++;
        expect({ command: [...command, ...mode].join(" "), leaks: leaks(result, KEY) }).toEqual({
          command: [...command, ...mode].join(" "),
          leaks: [],
        });
      }
    }
    expect(runs).toBe(COMMANDS.length * MODES.length);
    // The demo with IAM propagation: register retries, and says so.
    const demo = await runCli(["demo", "--out", join(dir, "demo-propagating"), "--output", "json", "--verbose"], sandboxEnv(env, KEY));
    expect({ code: demo.code, leaks: leaks(demo, KEY) }).toEqual({ code: 0, leaks: [] });
  }, 180_000);

  it("with the key in --api-key-file, --api-key (warned) and DS_API_KEY_FILE", async () => {
    const file = join(dir, "key.txt");
    writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
    const base = { ...sandboxEnv(env), DS_API_KEY: undefined };
    const viaFile = await runCli(["external-id", "get", "--verbose", "--api-key-file", file], base);
    expect(viaFile.code).toBe(0);
    const viaFlag = await runCli(["external-id", "get", "--verbose", "--api-key", KEY], base);
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stderr).toMatch(/warning: --api-key puts the key in your shell history/);
    const viaEnvFile = await runCli(["doctor", "--verbose"], { ...base, DS_API_KEY_FILE: file });
    expect(viaEnvFile.code).toBe(0);
    for (const r of [viaFile, viaFlag, viaEnvFile]) expect(leaks(r, KEY)).toEqual([]);
  });

  it("in every file written (stored copies, synthesized Terraform, init projects, the sandbox state file)", async () => {
    const stateFile = join(dir, "sandbox-state.json");
    const persisted = await SandboxManager.start({ adminKey: KEY, stateFile });
    try {
      const e = { ...sandboxEnv(env, KEY), DS_MANAGER_URL: persisted.url };
      await runCli(["external-id", "get", "--store", `file:${join(dir, "copy2.txt")}`], e);
      await runCli(["external-id", "retrieval", "disable", "--external-id-from", `file:${join(dir, "copy2.txt")}`, "--verbose"], e);
    } finally {
      await persisted.stop();
    }
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(dir).filter((f) => !f.endsWith("key.txt"));
    const names = files.map((f) => f.slice(dir.length + 1));
    expect(names).toEqual(
      expect.arrayContaining([
        "sandbox-state.json",
        "copy2.txt",
        "stored-id.txt",
        "synth-out/stacks/deep-security-roles/cdk.tf.json",
        "init-0/ds-onboard.yaml",
        "init-0/main.ts",
        "init-4/.github/workflows/ds-onboard.yml",
        "migration.json",
        "demo-out/manifest.json",
      ]),
    );
    for (const f of files) expect({ f, leaked: readFileSync(f, "utf8").includes(KEY) }).toEqual({ f, leaked: false });
    expect([...env.aws.parameters.values(), ...env.aws.secrets.values()].some((v) => JSON.stringify(v).includes(KEY))).toBe(false);
  });

  it("even when a manager echoes the key back in an error body", async () => {
    const echo: Server = createServer((req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `Key ${String(req.headers["api-secret-key"])} is not valid` }));
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    try {
      const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/api`;
      const r = await runCli(["external-id", "get", "--verbose"], { DS_MANAGER_URL: url, DS_API_KEY: KEY });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("[REDACTED]");
      expect(leaks(r, KEY)).toEqual([]);
    } finally {
      echo.close();
    }
  });

  it("from the sandbox command", async () => {
    const child = spawn(
      process.execPath,
      [join(__dirname, "..", "..", "bin", "ds-onboard.js"), "sandbox", "--port", "0", "--aws-port", "0", "--verbose"],
      {
        env: { PATH: process.env.PATH, DS_API_KEY: KEY },
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sandbox did not start: ${out}`)), 20_000);
      child.stdout.on("data", () => {
        if (out.includes("Press Ctrl+C")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill("SIGINT");
    await new Promise((r) => child.once("close", r)); // "close": after stdout and stderr are drained
    expect(out).toContain("sandbox stopped");
    expect(out).not.toContain(KEY);
  });
});

describe("the external ID is masked everywhere but external-id get", () => {
  it("appears in full only on the stdout of external-id get", async () => {
    const id = env.sandbox.externalId;
    for (const command of COMMANDS) {
      for (const mode of [["--verbose"], ["--output", "json", "--verbose"]]) {
        const r = await runCli([...expand(command), ...mode], sandboxEnv(env, KEY));
        const isGet = command[0] === "external-id" && command[1] === "get";
        const where = [...(r.stderr.includes(id) ? ["stderr"] : []), ...(!isGet && r.stdout.includes(id) ? ["stdout"] : [])];
        expect({ command: command.join(" "), where }).toEqual({ command: command.join(" "), where: [] });
      }
    }
  }, 120_000);
});
