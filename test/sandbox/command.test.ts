import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli";

const BIN = join(__dirname, "..", "..", "bin", "ds-onboard.js");

/** Starts `ds-onboard sandbox` with these flags; returns its JSON description and a stop function. */
async function sandbox(
  args: string[],
): Promise<{ info: { managerUrl: string; env: Record<string, string> }; stderr: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, "sandbox", "--port", "0", "--aws-port", "0", "--output", "json", ...args], {
    env: { PATH: process.env.PATH },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const info = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      try {
        JSON.parse(out);
        resolve(out);
      } catch {
        // not complete yet
      }
    });
    child.once("close", () => reject(new Error(`sandbox exited: ${err}`)));
  });
  return {
    info: JSON.parse(info),
    stderr: () => err,
    stop: async () => {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
    },
  };
}

describe("ds-onboard sandbox", () => {
  it("loads synthesized roles (standing in for cdktf deploy) and legacy connectors; the pipeline then verifies and migrates", async () => {
    const work = mkdtempSync(join(tmpdir(), "ds-sbx-cmd-"));
    const out = join(work, "cdktf.out");
    // A copy of the bundled config: synthesis records its accounts beside the config it reads.
    const config = join(work, "ds-onboard.yaml");
    copyFileSync(join(__dirname, "..", "..", "examples", "demo", "ds-onboard.yaml"), config);
    const synth = await runCli(["synth", "--config", config, "--out", out], { DS_EXTERNAL_ID: "sandbox-tenant-id-1" });
    expect(synth.code).toBe(0);
    const sb = await sandbox([
      "--tenant-external-id",
      "sandbox-tenant-id-1",
      "--load",
      out,
      "--legacy-connector",
      "arn:aws:iam::111111111111:role/DeepSecurityCrossAccountRole=old-user-defined-id",
    ]);
    try {
      expect(sb.stderr()).toMatch(
        /loaded 1 role\(s\) from .*deep-security-roles-111111111111\/cdk\.tf\.json \(standing in for cdktf deploy\)/,
      );
      expect(sb.stderr()).toMatch(/added legacy connector 1 .*\(user-defined external ID \*\*\*\*d-id\)/);
      const verify = await runCli(["verify", "--config", config, "--output", "json"], sb.info.env);
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.stdout).results).toHaveLength(3);
      const discover = await runCli(
        ["migrate-external-id", "discover", "--config", config, "--state", join(out, "..", "m.json"), "--output", "json"],
        sb.info.env,
      );
      expect(JSON.parse(discover.stdout).accounts.map((a: { classification: string }) => a.classification)).toEqual([
        "migrated",
        "migrated",
        "migrated",
      ]);
    } finally {
      await sb.stop();
    }
  });

  it("rejects a malformed legacy connector", async () => {
    const r = await runCli(["sandbox", "--port", "0", "--aws-port", "0", "--legacy-connector", "not-an-arn"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--legacy-connector .*is not <role ARN>=<external ID>/);
  });
});
