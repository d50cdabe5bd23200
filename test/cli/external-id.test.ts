import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagerClient } from "../../src/manager/client";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../../src/manager/types";
import { SandboxManager } from "../../src/sandbox/manager";
import { runCli } from "../helpers/cli";
import { sandboxEnv, useSandbox } from "../helpers/sandbox";

const env = useSandbox();

/** A loopback URL where nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}/api`;
}
const dir = mkdtempSync(join(tmpdir(), "ds-cli-"));

afterEach(async () => {
  // Leave retrieval as the next test expects it.
  const c = ManagerClient.create({ baseUrl: env.sandbox.url, apiKey: env.sandbox.keys.admin, auth: "api-secret-key" });
  await c.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
  await c.close();
});

describe("external-id get", () => {
  it("prints the sandbox's ID alone on stdout", async () => {
    const r = await runCli(["external-id", "get"], sandboxEnv(env));
    expect(r).toMatchObject({ code: 0, stdout: `${env.sandbox.externalId}\n` });
  });

  it("prints one JSON document with --output json", async () => {
    const r = await runCli(["external-id", "get", "--output", "json"], sandboxEnv(env));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ externalId: env.sandbox.externalId, source: "manager API" });
  });

  it("exits 3 with retrieval disabled, naming the setting and the fallbacks", async () => {
    await runCli(["external-id", "retrieval", "disable", "--force"], sandboxEnv(env));
    const r = await runCli(["external-id", "get"], sandboxEnv(env));
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("platformSettingAwsExternalIdRetrievalEnabled");
    expect(r.stderr).toContain("--external-id-from");
    expect(r.stderr).toContain("DS_EXTERNAL_ID");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
  });

  it("with DS_EXTERNAL_ID set, succeeds without calling the manager", async () => {
    const before = env.sandbox.totalCalls;
    const r = await runCli(["external-id", "get"], { ...sandboxEnv(env), DS_EXTERNAL_ID: "explicit-id-1234" });
    expect(r).toMatchObject({ code: 0, stdout: "explicit-id-1234\n" });
    expect(env.sandbox.totalCalls).toBe(before);
  });

  it("with --external-id-from file:, succeeds without a manager at all", async () => {
    const file = join(dir, "stored-id.txt");
    writeFileSync(file, "stored-id-5678\n");
    const r = await runCli(["external-id", "get", "--external-id-from", `file:${file}`], { DS_MANAGER_URL: await closedPortUrl() });
    expect(r).toMatchObject({ code: 0, stdout: "stored-id-5678\n" });
  });

  it("rejects an invalid explicit ID with exit 2, without echoing it", async () => {
    const r = await runCli(["external-id", "get", "--external-id", "has space"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--external-id contains " " at position 4/);
    expect(r.stderr).not.toContain("has space");
  });

  it("rejects a bad --store target with exit 2, before calling the manager", async () => {
    const before = env.sandbox.totalCalls;
    const r = await runCli(["external-id", "get", "--store", "vault:secret/ds"], sandboxEnv(env));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a storage location\. Use ssm:<parameter-name>/);
    expect(env.sandbox.totalCalls).toBe(before);
  });

  it("explains a missing manager URL", async () => {
    const r = await runCli(["external-id", "get"], { DS_API_KEY: "k" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No manager URL .*Pass --manager-url or set DS_MANAGER_URL.*ds-onboard sandbox/);
  });

  it("refuses plain http to a remote manager", async () => {
    const r = await runCli(["external-id", "get", "--manager-url", "http://dsm.example.com:4119/api"], { DS_API_KEY: "k" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plain http would send the API key unencrypted; use https:\/\/dsm\.example\.com:4119\/api/);
  });
});

describe("store, disable and read back", () => {
  it.each([
    ["file", () => `file:${join(dir, "id-copy.txt")}`],
    ["ssm", () => "ssm:/deep-security/external-id"],
    ["secretsmanager", () => "secretsmanager:deep-security/external-id"],
  ])("works end to end through %s", async (kind, target) => {
    const location = target();
    const e = sandboxEnv(env);
    const stored = await runCli(["external-id", "get", "--store", location], e);
    expect(stored).toMatchObject({ code: 0, stdout: `${env.sandbox.externalId}\n` });
    expect(stored.stderr).toContain(`--external-id-from ${location}`);
    if (kind === "file") expect(statSync(location.slice(5)).mode & 0o777).toBe(0o600);
    if (kind === "ssm")
      expect(env.aws.parameters.get("/deep-security/external-id")).toMatchObject({ Type: "SecureString", Value: env.sandbox.externalId });

    const disabled = await runCli(["external-id", "retrieval", "disable", "--external-id-from", location], e);
    expect(disabled).toMatchObject({ code: 0, stdout: "disabled\n" });
    expect(disabled.stderr).toContain(`--external-id-from ${location}`);
    expect(env.sandbox.setting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("false");

    const refused = await runCli(["external-id", "get"], e);
    expect(refused.code).toBe(3);

    const calls = env.sandbox.totalCalls;
    const readBack = await runCli(["external-id", "get"], { ...e, DS_EXTERNAL_ID_FROM: location });
    expect(readBack).toMatchObject({ code: 0, stdout: `${env.sandbox.externalId}\n` });
    expect(env.sandbox.totalCalls).toBe(calls);

    const enabled = await runCli(["external-id", "retrieval", "enable", "--output", "json"], e);
    expect(JSON.parse(enabled.stdout)).toEqual({ setting: EXTERNAL_ID_RETRIEVAL_SETTING, value: "true", enabled: true, changed: true });
  });

  it("overwrites a stored copy (SSM, Secrets Manager)", async () => {
    const e = sandboxEnv(env);
    for (const location of ["ssm:/ds/overwrite", "secretsmanager:ds-overwrite"]) {
      expect((await runCli(["external-id", "get", "--external-id", "first-value-1", "--store", location], e)).code).toBe(0);
      expect((await runCli(["external-id", "get", "--external-id", "second-value-2", "--store", location], e)).code).toBe(0);
      expect((await runCli(["external-id", "get", "--external-id-from", location], e)).stdout).toBe("second-value-2\n");
    }
  });

  it("disable refuses without a stored copy, and says how to make one", async () => {
    const r = await runCli(["external-id", "retrieval", "disable"], sandboxEnv(env));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Refusing to disable retrieval.*--store ssm:.*--force/);
    expect(env.sandbox.setting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("true");
  });

  it("disable refuses when the stored copy differs from the manager's ID", async () => {
    const file = join(dir, "stale.txt");
    writeFileSync(file, "stale-old-id-0000\n");
    const r = await runCli(["external-id", "retrieval", "disable", "--external-id-from", `file:${file}`], sandboxEnv(env));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/differs from the manager's external ID \(\*\*\*\*/);
    expect(r.stderr).not.toContain(env.sandbox.externalId);
    expect(env.sandbox.setting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("true");
  });

  it("disable refuses when the stored copy cannot be read", async () => {
    const r = await runCli(["external-id", "retrieval", "disable", "--external-id-from", "ssm:/does/not/exist"], sandboxEnv(env));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ssm:\/does\/not\/exist does not exist\. Store the ID there first/);
    expect(env.sandbox.setting(EXTERNAL_ID_RETRIEVAL_SETTING)).toBe("true");
  });

  it("status reads the setting; a key without the right gets exit 3", async () => {
    expect((await runCli(["external-id", "retrieval", "status"], sandboxEnv(env))).stdout).toBe("enabled\n");
    const r = await runCli(["external-id", "retrieval", "enable"], sandboxEnv(env, env.sandbox.keys.restricted));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/lacks the right to modify system settings/);
  });
});

describe("retries through the CLI", () => {
  it("succeeds against a sandbox failing 30% of requests, and shows the attempts in --verbose", async () => {
    const flaky = await SandboxManager.start({ failures: { rate5xx: 0.15, rate429: 0.1, dropRate: 0.05 }, seed: 3 });
    try {
      let retriedRuns = 0;
      for (let i = 0; i < 8; i++) {
        const r = await runCli(["external-id", "get", "--verbose"], { DS_MANAGER_URL: flaky.url, DS_API_KEY: flaky.keys.admin });
        expect(r).toMatchObject({ code: 0, stdout: `${flaky.externalId}\n` });
        expect(r.stderr).toMatch(/manager: 1 request\(s\), \d+ attempt\(s\)/);
        if (/\[http\] retrying GET \/api\/awsconnectorsettings in \d+ ms/.test(r.stderr)) retriedRuns++;
      }
      expect(retriedRuns).toBeGreaterThan(0);
    } finally {
      await flaky.stop();
    }
  });
});

describe("TLS through the CLI", () => {
  it("--ca-bundle trusts the sandbox's certificate; without it the error names --ca-bundle", async () => {
    const https = await SandboxManager.start({ https: true });
    try {
      const ca = join(dir, "ca.pem");
      writeFileSync(ca, https.caCertificate!);
      const base = { DS_MANAGER_URL: https.url, DS_API_KEY: https.keys.admin };
      const failed = await runCli(["external-id", "get"], base);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("--ca-bundle");
      expect(await runCli(["external-id", "get", "--ca-bundle", ca], base)).toMatchObject({ code: 0, stdout: `${https.externalId}\n` });
      expect(await runCli(["external-id", "get"], { ...base, DS_CA_BUNDLE: ca })).toMatchObject({ code: 0 });
      const insecure = await runCli(["external-id", "get", "--insecure"], base);
      expect(insecure.code).toBe(0);
      expect(insecure.stderr).toMatch(/warning: --insecure/);
    } finally {
      await https.stop();
    }
  });
});

describe("doctor", () => {
  it("passes against the sandbox and reports each check", async () => {
    const r = await runCli(["doctor", "--output", "json"], sandboxEnv(env));
    const report = JSON.parse(r.stdout);
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      "manager URL",
      "API key",
      "connection and TLS",
      "key is valid",
      "right: view the external ID",
      "right: view settings",
      "right: view AWS connectors",
      "AWS credentials",
    ]);
    expect(report.checks.find((c: { name: string }) => c.name === "AWS credentials").detail).toContain(
      "arn:aws:iam::000000000000:user/sandbox",
    );
    expect(r.stdout).not.toContain(env.sandbox.externalId);
  });

  it("exits 3 for a bad key and says so", async () => {
    const r = await runCli(["doctor"], { ...sandboxEnv(env), DS_API_KEY: "1:not-a-key" });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/FAIL\s+key is valid\s+The manager refused the API key/);
  });

  it("exits 1 when the manager cannot be reached", async () => {
    const r = await runCli(["doctor"], { ...sandboxEnv(env), DS_MANAGER_URL: await closedPortUrl() });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+connection and TLS\s+Connection refused/);
  });
});

describe("usage", () => {
  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")).version);
  });

  it("an unknown command or option exits 2 with a pointer to --help", async () => {
    for (const args of [["bogus"], ["external-id", "get", "--bogus"], ["external-id", "retrieval", "maybe"]]) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/error: [\s\S]*--help/);
    }
  });
});
