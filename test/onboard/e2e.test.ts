/**
 * The flow after deploy, end to end over HTTP: the CLI (a child process, real AWS SDK clients)
 * against the sandbox manager and the local AWS endpoint, where the manager assumes roles
 * through STS with the tenant's external ID.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { PolicyDocument, PolicyStatement } from "../../src/policy/document";
import { buildPermissionsPolicy } from "../../src/policy/permissions";
import { buildTrustPolicy } from "../../src/policy/trust";
import { SandboxManager } from "../../src/sandbox/manager";
import { runCli } from "../helpers/cli";
import { allowFrom, useWorld, WS_ROOT } from "../helpers/world";

const world = useWorld();
const deploy = world.deploy;

const { cliEnv: env, roleArgs, connectorsOf } = world;

describe("a correct role", () => {
  it("verifies (every check run and passed), registers once, and stays registered once", async () => {
    const { accountId, roleArn } = deploy();
    const verify = await runCli(["verify", ...roleArgs(roleArn), "--assume-as", world.verifyAs, "--output", "json"], env());
    expect(verify.code).toBe(0);
    const [result] = JSON.parse(verify.stdout).results;
    expect(Object.fromEntries(Object.entries(result.checks).map(([k, c]) => [k, (c as { status: string }).status]))).toEqual({
      role: "pass",
      trust: "pass",
      permissions: "pass",
      assumeRole: "pass",
    });
    expect(result.checks.assumeRole.detail).toMatch(
      /allowed with the external ID; refused without it and with a wrong one; ec2:DescribeRegions works/,
    );

    const first = await runCli(["register", ...roleArgs(roleArn), "--output", "json"], env());
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).results[0]).toMatchObject({ status: "created", connectorId: expect.any(Number) });
    const again = await runCli(["register", ...roleArgs(roleArn), "--output", "json"], env());
    expect(JSON.parse(again.stdout).results[0]).toMatchObject({ status: "unchanged" });
    const synced = await runCli(["register", ...roleArgs(roleArn), "--sync", "--output", "json"], env());
    expect(JSON.parse(synced.stdout).results[0]).toMatchObject({ status: "synced" });
    expect(connectorsOf(accountId)).toHaveLength(1);
  });

  it("says honestly that the assume-role check did not run when the caller cannot act as the vendor", async () => {
    const { roleArn } = deploy();
    const r = await runCli(["verify", ...roleArgs(roleArn), "--output", "json"], env());
    expect(r.code).toBe(0);
    const check = JSON.parse(r.stdout).results[0].checks.assumeRole;
    expect(check.status).toBe("not-run");
    expect(check.detail).toMatch(
      /the trusted principal is arn:aws:iam::147995105371:root .* cannot act as it \(it is the vendor's account\); name a role of the principal to run it as \(--assume-as <role ARN>\)/,
    );
  });

  it("runs the assume-role check as the caller when the caller is the trusted principal (on-premises)", async () => {
    const onPrem = "arn:aws:iam::000000000000:root";
    const { roleArn } = deploy({ trust: buildTrustPolicy({ principalArn: onPrem, externalIds: [world.sb.manager.externalId] }) });
    const r = await runCli(["verify", ...roleArgs(roleArn), "--principal-account", "000000000000", "--output", "json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].checks.assumeRole.status).toBe("pass");
  });

  it("modifies a connector whose role changed, and reports it", async () => {
    const { accountId, roleArn } = deploy();
    const other = world.sb.aws.iam.createRole(
      accountId,
      "NewName",
      JSON.stringify(buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [world.sb.manager.externalId] })),
    );
    world.sb.aws.iam.attach(accountId, "NewName", `arn:aws:iam::${accountId}:policy/DeepSecurityCrossAccountRolePolicy`);
    expect((await runCli(["register", ...roleArgs(roleArn)], env())).code).toBe(0);
    const r = await runCli(["register", ...roleArgs(other.arn), "--output", "json"], env());
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({
      status: "updated",
      notes: [expect.stringContaining(`role changed from ${roleArn}`)],
    });
    expect(connectorsOf(accountId).map((c) => c.crossAccountRoleArn)).toEqual([other.arn]);
  });
});

describe("a wrong role", () => {
  const cases: [string, () => PolicyDocument, RegExp][] = [
    [
      "a wrong external ID",
      () => buildTrustPolicy({ principalArn: WS_ROOT, externalIds: ["some-other-tenant-id"] }),
      /missing-external-id, unexpected-external-id/,
    ],
    ["a missing condition", () => allowFrom(WS_ROOT), /missing-condition/],
    [
      "a wrong principal",
      () => buildTrustPolicy({ principalArn: "arn:aws:iam::999988887777:root", externalIds: [world.sb.manager.externalId] }),
      /extra-principal, no-allow/,
    ],
  ];

  it.each(cases)("%s: verify exits 4 with the drift, register refuses with a clear message", async (_name, trust, findings) => {
    const { accountId, roleArn } = deploy({ trust: trust() });
    const verify = await runCli(["verify", ...roleArgs(roleArn), "--assume-as", world.verifyAs, "--propagation-timeout", "2"], env());
    expect(verify.code).toBe(4);
    expect(verify.stdout).toMatch(new RegExp(`trust\\s+FAIL\\s+${findings.source}`));
    expect(verify.stdout).toMatch(/accepted external IDs: /);
    expect(verify.stdout).toMatch(/fix: /);
    expect(verify.stdout).not.toContain(world.sb.manager.externalId);

    const register = await runCli(["register", ...roleArgs(roleArn), "--assume-retry-timeout", "2"], env());
    expect(register.code).toBe(1);
    expect(register.stdout).toMatch(/error: not registered: the role's trust policy is unsafe or wrong/);
    expect(connectorsOf(accountId)).toHaveLength(0);
  });

  it("the manager itself refuses a wrong trust policy (register --no-check-trust)", async () => {
    const { accountId, roleArn } = deploy({ trust: buildTrustPolicy({ principalArn: WS_ROOT, externalIds: ["some-other-tenant-id"] }) });
    const r = await runCli(["register", ...roleArgs(roleArn), "--no-check-trust", "--assume-retry-timeout", "3"], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/The manager could not assume .* for 3 s: .*Unable to assume the cross account role/);
    expect(r.stdout).toMatch(/fix: Check the role's trust policy and permissions with `ds-onboard verify`/);
    expect(connectorsOf(accountId)).toHaveLength(0);
  });

  it("a missing permission: verify names it, and the manager's connection fails", async () => {
    const permissions = buildPermissionsPolicy();
    const statement = (permissions.Statement as { Action: string[] }[])[0];
    statement.Action = statement.Action.filter((a) => a !== "ec2:DescribeInstances");
    const { accountId, roleArn } = deploy({ permissions });
    const verify = await runCli(["verify", ...roleArgs(roleArn), "--assume-as", world.verifyAs], env());
    expect(verify.code).toBe(4);
    expect(verify.stdout).toMatch(/permissions\s+FAIL\s+missing ec2:DescribeInstances/);
    const register = await runCli(["register", ...roleArgs(roleArn)], env());
    expect(register.code).toBe(1);
    expect(register.stdout).toMatch(/is missing permissions: .*ec2:DescribeInstances/);
    expect(connectorsOf(accountId)).toHaveLength(0);
  });

  it("extra powers beyond read-only are reported", async () => {
    const readOnly = buildPermissionsPolicy().Statement as PolicyStatement[];
    const { roleArn } = deploy({
      permissions: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "ec2:*", Resource: "*" }, ...readOnly] },
    });
    const r = await runCli(["verify", ...roleArgs(roleArn), "--output", "json"], env());
    const check = JSON.parse(r.stdout).results[0].checks.permissions;
    expect(check.status).toBe("pass");
    expect(check.detail).toMatch(/beyond read-only: ec2:\*/);
  });
});

describe("exactly one connector per account", () => {
  it("with 5xx, 429, dropped connections and lost answers during creates", async () => {
    // The manager alone (no assume-role through AWS): this is about the manager's answers.
    const flaky = {
      manager: await SandboxManager.start({
        failures: { rate5xx: 0.1, rate429: 0.1, dropRate: 0.05, createThenFailRate: 0.2, createThenHangRate: 0.1 },
        seed: 11,
      }),
    };
    try {
      const accounts = Array.from({ length: 24 }, (_, i) => `arn:aws:iam::${400000000000 + i}:role/DeepSecurityCrossAccountRole`);
      const r = await runCli(
        ["register", ...accounts.flatMap((a) => ["--role-arn", a]), "--no-check-trust", "--timeout", "1", "--output", "json"],
        {
          DS_MANAGER_URL: flaky.manager.url,
          DS_API_KEY: flaky.manager.keys.admin,
        },
        { timeoutMs: 120_000 },
      );
      const report = JSON.parse(r.stdout);
      expect(report.results.filter((x: { status: string }) => x.status !== "created")).toEqual([]);
      expect(r.code).toBe(0);
      const ids = flaky.manager.connectors.map((c) => c.accountId).sort();
      expect(ids).toEqual(accounts.map((a) => a.split(":")[4]).sort());
      expect(
        report.results.some((x: { notes: string[] }) => x.notes.some((n) => /found connector \d+ created by the lost request/.test(n))),
      ).toBe(true);
    } finally {
      await flaky.manager.stop();
    }
  }, 130_000);

  it("a run killed midway and rerun", async () => {
    const slow = { manager: await SandboxManager.start({ latencyMs: 40 }) };
    try {
      const accounts = Array.from({ length: 40 }, (_, i) => `arn:aws:iam::${500000000000 + i}:role/DeepSecurityCrossAccountRole`);
      const args = [
        join(__dirname, "..", "..", "bin", "ds-onboard.js"),
        "register",
        ...accounts.flatMap((a) => ["--role-arn", a]),
        "--no-check-trust",
        "--concurrency",
        "4",
      ];
      const e = { PATH: process.env.PATH, DS_MANAGER_URL: slow.manager.url, DS_API_KEY: slow.manager.keys.admin };
      const child = spawn(process.execPath, args, { env: e, stdio: "ignore" });
      const killedAt = await new Promise<number>((resolve) => {
        const poll = setInterval(() => {
          if (slow.manager.connectors.length >= 10) {
            clearInterval(poll);
            child.kill("SIGKILL");
            resolve(slow.manager.connectors.length);
          }
        }, 5);
      });
      await new Promise((r) => child.once("close", r));
      expect(killedAt).toBeLessThan(40);
      await slow.manager.idle(); // what the killed run had sent is carried out before the rerun lists
      const rerun = await runCli(
        args.slice(1),
        { DS_MANAGER_URL: slow.manager.url, DS_API_KEY: slow.manager.keys.admin },
        { timeoutMs: 60_000 },
      );
      expect(rerun.code).toBe(0);
      const ids = slow.manager.connectors.map((c) => c.accountId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(40);
    } finally {
      await slow.manager.stop();
    }
  }, 90_000);

  it("uses 2N plus a constant manager calls for N new accounts (a create and its duplicate check each), and one for a rerun", async () => {
    const fresh = { manager: await SandboxManager.start() };
    try {
      const n = 50;
      const accounts = Array.from({ length: n }, (_, i) => `arn:aws:iam::${600000000000 + i}:role/DeepSecurityCrossAccountRole`);
      const r = await runCli(["register", ...accounts.flatMap((a) => ["--role-arn", a]), "--no-check-trust"], {
        DS_MANAGER_URL: fresh.manager.url,
        DS_API_KEY: fresh.manager.keys.admin,
      });
      expect(r.code).toBe(0);
      expect(fresh.manager.calls.get("GET /awsconnectors")).toBe(1);
      expect(fresh.manager.calls.get("POST /awsconnectors")).toBe(n);
      // After each create, one search of the account finds a connector a concurrent run made.
      expect(fresh.manager.calls.get("POST /awsconnectors/search")).toBe(n);
      expect(fresh.manager.totalCalls).toBe(2 * n + 1);
      const again = fresh.manager.totalCalls;
      await runCli(["register", ...accounts.flatMap((a) => ["--role-arn", a]), "--no-check-trust"], {
        DS_MANAGER_URL: fresh.manager.url,
        DS_API_KEY: fresh.manager.keys.admin,
      });
      expect(fresh.manager.totalCalls - again).toBe(1); // a rerun with nothing to do: one list call
    } finally {
      await fresh.manager.stop();
    }
  });
});

describe("onboard", () => {
  it("verifies then registers; a failed account is reported with what to do, and exit 1", async () => {
    const good = deploy();
    const bad = deploy({ trust: allowFrom(WS_ROOT) });
    const r = await runCli(["onboard", ...roleArgs(good.roleArn, bad.roleArn), "--assume-as", world.verifyAs, "--output", "json"], env());
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout).accounts;
    expect(rows.find((x: { accountId: string }) => x.accountId === good.accountId)).toMatchObject({
      status: "created",
      connectorId: expect.any(Number),
    });
    expect(rows.find((x: { accountId: string }) => x.accountId === bad.accountId)).toMatchObject({
      status: "verify failed",
      failed: expect.stringMatching(/^trust: missing-condition/),
      fix: expect.any(String),
    });
    expect(connectorsOf(bad.accountId)).toHaveLength(0);
    const text = await runCli(["onboard", ...roleArgs(good.roleArn), "--assume-as", world.verifyAs], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/account\s+name\s+status\s+connector\s+time/);
    expect(text.stdout).toMatch(/1 of 1 account\(s\) onboarded/);
  });

  it("deregister removes the connector", async () => {
    const { accountId, roleArn } = deploy();
    await runCli(["register", ...roleArgs(roleArn)], env());
    expect(connectorsOf(accountId)).toHaveLength(1);
    const r = await runCli(["deregister", ...roleArgs(roleArn), "--output", "json"], env());
    expect(JSON.parse(r.stdout).results[0].status).toBe("deregistered");
    expect(connectorsOf(accountId)).toHaveLength(0);
  });
});

describe("demo", () => {
  it("runs the whole flow in seconds and onboards the example's accounts", async () => {
    const started = Date.now();
    // Loaded directly: whether Terraform can run here is test/terraform/demo.test.ts's subject.
    const r = await runCli(["demo", "--deploy", "load", "--output", "json"], {}, { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.connectors).toBe(3);
    expect(report.accounts.map((a: { status: string }) => a.status)).toEqual(["created", "created", "created"]);
    // The day after: reconcile finds every account healthy.
    expect(report.reconcile).toMatchObject({ healthy: 3, "to-onboard": 0, drifted: 0, "to-offboard": 0 });
    expect(
      report.verify.every((v: { checks: Record<string, { status: string }> }) => Object.values(v.checks).every((c) => c.status === "pass")),
    ).toBe(true);
    expect(r.stderr).toMatch(/stands in for `cdktf deploy`/);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 90_000);
});
