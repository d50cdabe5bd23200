/**
 * Reconcile against a sandbox organization that changes between runs: accounts join, leave,
 * are suspended, drift (trust, connector settings, synchronization); reconcile reports each
 * case, converges with applyRegistration, and a second run changes nothing.
 */
import { join } from "node:path";
import { Project } from "../../src/app/project";
import { synthesizeProject } from "../../src/generator/synthesize";
import { DAY_MS } from "../../src/onboard/sync";
import { buildPermissionsPolicy } from "../../src/policy/permissions";
import { type ReconcileReport, reconcileProject } from "../../src/workflows/reconcile";
import { managerStatus } from "../../src/workflows/status";
import { runCli } from "../helpers/cli";
import { useWorld } from "../helpers/world";

const world = useWorld();
const A = Array.from({ length: 7 }, (_, i) => String(360000000001 + i));

async function reconcile(config: string, options: Parameters<typeof reconcileProject>[1] = {}, shard?: { index: number; count: number }) {
  const { session } = world.session();
  try {
    const project = await Project.fromConfig(session, config, { selection: shard ? { shard } : {} });
    return await reconcileProject(project, { assumeRetryTimeoutMs: 2000, ...options });
  } finally {
    await session.close();
  }
}

const stateOf = (report: ReconcileReport) => Object.fromEntries(report.accounts.map((a) => [a.accountId, a.state]));
const rowOf = (report: ReconcileReport, id: string) => report.accounts.find((a) => a.accountId === id)!;
/** The manager's connectors as they are (a run that changes nothing leaves this equal). */
const snapshot = () => JSON.stringify(world.sb.manager.connectors);

describe("reconcile", () => {
  let config: string;

  beforeAll(() => {
    world.sb.aws.addOrganization({ accounts: A.slice(0, 6).map((id) => ({ id, name: `team-${id.slice(-1)}` })) });
    for (const id of A.slice(0, 6)) world.deploy({ accountId: id, deploymentRole: false });
    config = world.config([], { organizations: { skipSuspended: true } }, "org.yaml");
  });

  /** What the pipeline's synth step does before reconcile: it records the accounts it writes stacks for. */
  async function synth(path: string) {
    const { session } = world.session({ externalId: { value: world.sb.manager.externalId, origin: "test" } });
    try {
      await synthesizeProject(await Project.fromConfig(session, path), { outdir: join(world.dir, "out") });
    } finally {
      await session.close();
    }
  }

  it("reports every account to onboard, then registers them; a second run changes nothing", async () => {
    await synth(config);
    const first = await reconcile(config);
    expect(first.ok).toBe(false);
    expect(first.counts["to-onboard"]).toBe(6);
    expect(rowOf(first, A[0]).reasons).toEqual(["no connector"]);
    expect(world.sb.manager.connectors).toHaveLength(0); // report only

    const applied = await reconcile(config, { applyRegistration: true });
    expect(applied.ok).toBe(true);
    expect(applied.accounts.map((a) => [a.action, a.after])).toEqual(A.slice(0, 6).map(() => ["registered", "healthy"]));
    expect(world.sb.manager.connectors).toHaveLength(6);

    const before = snapshot();
    const calls = new Map(world.sb.manager.calls);
    const again = await reconcile(config, { applyRegistration: true });
    expect(again.ok).toBe(true);
    expect(again.counts.healthy).toBe(6);
    expect(again.accounts.filter((a) => a.action)).toEqual([]);
    expect(snapshot()).toBe(before);
    // A run with nothing to do reads: the external ID, and the connectors once.
    const made = [...world.sb.manager.calls]
      .filter(([k, n]) => n > (calls.get(k) ?? 0))
      .map(([k, n]) => `${k} x${n - (calls.get(k) ?? 0)}`);
    expect(made.sort()).toEqual(["GET /awsconnectors x1", "GET /awsconnectorsettings x1"]);
  });

  it("sees accounts join, leave, get suspended and drift; converges what the manager can; a second run changes nothing", async () => {
    const org = world.sb.aws.organization!;
    const iam = world.sb.aws.iam;
    const client = world.session().session.manager();
    const connectorOf = (id: string) => world.sb.manager.connectors.find((c) => c.accountId === id)!;

    // A joiner with its role deployed, and one whose role is not deployed yet.
    world.sb.aws.addOrganization({ accounts: [A[6], "360000000099"] });
    world.deploy({ accountId: A[6], deploymentRole: false });
    // A[1] leaves the organization; A[2] is suspended.
    org.accounts.splice(
      org.accounts.findIndex((a) => a.Id === A[1]),
      1,
    );
    org.accounts.find((a) => a.Id === A[2])!.State = "SUSPENDED";
    // A[3]'s trust drifts: it accepts another external ID.
    const role3 = iam.role(A[3], "DeepSecurityCrossAccountRole");
    const goodTrust = role3.trustPolicy;
    role3.trustPolicy = goodTrust.replace(world.sb.manager.externalId, "someone-elses-external-id");
    // A[4]'s connector: WorkSpaces turned off by hand. A[0]'s connector: deleted by hand.
    await client.modifyConnector(connectorOf(A[4]).ID!, { workspacesEnabled: false });
    await client.deleteConnector(connectorOf(A[0]).ID!);
    // Two days pass; the manager synchronizes what it can, but A[5]'s synchronization keeps failing.
    await world.sb.manager.elapse(2 * DAY_MS, { failing: [connectorOf(A[5]).ID!] });

    const report = await reconcile(config);
    expect(report.ok).toBe(false);
    expect(stateOf(report)).toEqual({
      [A[0]]: "to-onboard",
      [A[1]]: "to-offboard",
      [A[2]]: "to-offboard",
      [A[3]]: "drifted",
      [A[4]]: "drifted",
      [A[5]]: "drifted",
      [A[6]]: "to-onboard",
      "360000000099": "to-onboard",
    });
    expect(rowOf(report, A[1]).reasons).toEqual(["left the organization"]);
    expect(rowOf(report, A[2]).reasons).toEqual(["excluded: account is suspended"]);
    expect(rowOf(report, A[3]).reasons.join("\n")).toMatch(/^trust: /m);
    expect(rowOf(report, A[3]).reasons.join("\n")).toMatch(/last synchronized 2 d ago/); // the manager cannot assume it
    expect(rowOf(report, A[3]).fix).toMatch(/Re-deploy the role/);
    expect(rowOf(report, A[4]).reasons).toEqual([expect.stringMatching(/^WorkSpaces disabled on connector \d+; the role grants them$/)]);
    expect(rowOf(report, A[5]).reasons).toEqual([expect.stringMatching(/^connector \d+ last synchronized 2 d ago/)]);
    expect(rowOf(report, "360000000099").reasons).toEqual(["role not deployed yet: apply its Terraform stack first"]);
    expect(report.accounts.some((a) => a.action)).toBe(false);

    const applied = await reconcile(config, { applyRegistration: true });
    const outcome = Object.fromEntries(applied.accounts.map((a) => [a.accountId, [a.action, a.after ?? a.state]]));
    expect(outcome).toEqual({
      [A[0]]: ["registered", "healthy"],
      [A[1]]: ["deregistered", "offboarded"],
      [A[2]]: ["deregistered", "offboarded"],
      [A[3]]: [undefined, "drifted"], // its role is Terraform's to fix
      [A[4]]: ["updated", "healthy"],
      [A[5]]: ["synced", "healthy"],
      [A[6]]: ["registered", "healthy"],
      "360000000099": [undefined, "to-onboard"],
    });
    expect(applied.ok).toBe(false);
    expect(world.sb.manager.connectors.map((c) => c.accountId).sort()).toEqual([A[0], A[3], A[4], A[5], A[6]].sort());
    // Roles are never touched.
    expect(iam.role(A[3], "DeepSecurityCrossAccountRole").trustPolicy).toContain("someone-elses-external-id");

    // Terraform fixes A[3]'s trust and deploys the last role: the next run converges.
    role3.trustPolicy = goodTrust;
    world.deploy({ accountId: "360000000099", deploymentRole: false });
    const converged = await reconcile(config, { applyRegistration: true });
    expect(converged.ok).toBe(true);
    expect(rowOf(converged, A[3])).toMatchObject({ state: "drifted", action: "synced", after: "healthy" });
    expect(rowOf(converged, "360000000099")).toMatchObject({ state: "to-onboard", action: "registered", after: "healthy" });

    const before = snapshot();
    const again = await reconcile(config, { applyRegistration: true });
    expect(again.ok).toBe(true);
    expect(again.accounts.every((a) => a.state === "healthy" && a.action === undefined)).toBe(true);
    expect(snapshot()).toBe(before);
  });

  it("shards: the union of the shards' reports is the unsharded report", async () => {
    const whole = stateOf(await reconcile(config));
    const union: Record<string, string> = {};
    for (let i = 1; i <= 3; i++) Object.assign(union, stateOf(await reconcile(config, {}, { index: i, count: 3 })));
    expect(union).toEqual(whole);
  });

  it("status: every connector, and the ones no account of the config owns", async () => {
    // A partner's account, outside the organization, with a role of its own name.
    const iam = world.sb.aws.iam;
    const partnerTrust = iam.role(A[0], "DeepSecurityCrossAccountRole").trustPolicy;
    const partner = iam.createRole("369999999999", "PartnerReadOnly", partnerTrust);
    iam.putInline("369999999999", "PartnerReadOnly", "read", JSON.stringify(buildPermissionsPolicy()));
    const { session } = world.session();
    await session.manager().createConnector({ displayName: "partner", crossAccountRoleArn: partner.arn });
    const project = await Project.fromConfig(session, config);
    const report = await managerStatus(session, { project });
    expect(report.unowned).toEqual([world.sb.manager.connectors.find((c) => c.accountId === "369999999999")!.ID]);
    expect(report.withoutConnector).toEqual([]);
    expect(report.connectors.every((c) => c.state === "synced")).toBe(true);
    await world.sb.manager.elapse(3 * DAY_MS, { failing: [report.connectors[0].id] });
    const later = await managerStatus(session, { project });
    expect(later.connectors[0].state).toBe("stale");
    await session.close();
  });

  it("a listed account removed from the config is offboarded when the accounts record has it, and only then", async () => {
    const [x, y, z] = [world.deploy().accountId, world.deploy().accountId, world.deploy().accountId];
    const listed = world.config([x, y], {}, "listed.yaml");
    await synth(listed);
    // z has a connector made by hand (not in the record, and the config lists no organization).
    const { session: s2 } = world.session();
    await s2
      .manager()
      .createConnector({ displayName: "by hand", crossAccountRoleArn: `arn:aws:iam::${z}:role/DeepSecurityCrossAccountRole` });
    await s2.close();
    expect((await reconcile(listed, { applyRegistration: true })).ok).toBe(true);

    world.config([x], {}, "listed.yaml");
    const report = await reconcile(listed);
    expect(stateOf(report)).toEqual({ [x]: "healthy", [y]: "to-offboard" });
    expect(rowOf(report, y).reasons).toEqual(["removed from the config"]);
    const applied = await reconcile(listed, { applyRegistration: true });
    expect(rowOf(applied, y)).toMatchObject({ action: "deregistered", after: "offboarded" });
    expect(world.sb.manager.connectors.some((c) => c.accountId === y)).toBe(false);
    expect(world.sb.manager.connectors.some((c) => c.accountId === z)).toBe(true);
  });

  it("the CLI: a table on a terminal, JSON and exit codes for a pipeline", async () => {
    const env = {
      ...process.env, // the world's AWS endpoint and credentials
      DS_MANAGER_URL: world.sb.manager.url,
      DS_API_KEY: world.sb.manager.keys.admin,
    };
    // The status test left one connector stale: reported (exit 4), then resynchronized (exit 0).
    const report = await runCli(["reconcile", "--config", config, "--output", "json"], env);
    expect(report.code).toBe(4);
    expect(JSON.parse(report.stdout).counts).toMatchObject({ healthy: 5, drifted: 1 });
    const json = await runCli(["reconcile", "--config", config, "--output", "json", "--apply-registration"], env);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.countsAfter.healthy).toBe(6);
    expect(doc.accounts.filter((a: { action?: string }) => a.action).map((a: { action: string }) => a.action)).toEqual(["synced"]);
    // The partner's connector is not reconcile's.
    expect(world.sb.manager.connectors.some((c) => c.accountId === "369999999999")).toBe(true);

    world.sb.aws.iam.role(A[6], "DeepSecurityCrossAccountRole").trustPolicy = "{}";
    const text = await runCli(["reconcile", "--config", config, "--shard", "1/1"], env);
    expect(text.code).toBe(4);
    expect(text.stdout).toMatch(/drifted/);
    expect(text.stdout).toMatch(/needs action \(exit code 4\)/);
    expect(text.stdout + text.stderr).not.toContain(world.sb.manager.keys.admin);

    const status = await runCli(["status", "--config", config], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/UNKNOWN/);

    const bad = await runCli(["reconcile", "--config", config, "--max-sync-age", "soon"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-sync-age: "soon" is not a duration/);
  });
  it("leaves alone connectors another config covers, and keeps them when the config says so", async () => {
    // A config that excludes A[5]: its connector (the default role, an active account) is not this config's.
    const other = world.config([], { organizations: { excludeAccounts: [A[5]] } }, "org-excluding.yaml");
    const report = await reconcile(other, { applyRegistration: true });
    expect(report.accounts.some((a) => a.accountId === A[5])).toBe(false);
    expect(world.sb.manager.connectors.some((c) => c.accountId === A[5])).toBe(true);

    // deployment.removedAccounts: keep: an account that leaves keeps its connector, and that is settled.
    const keeping = world.config([A[0], A[4]], { deployment: { removedAccounts: "keep" } }, "keeping.yaml");
    await synth(keeping);
    world.config([A[0]], { deployment: { removedAccounts: "keep" } }, "keeping.yaml");
    const kept = await reconcile(keeping, { applyRegistration: true });
    expect(rowOf(kept, A[4])).toMatchObject({
      state: "kept",
      reasons: ["removed from the config", "connector kept (deployment.removedAccounts: keep)"],
    });
    expect(rowOf(kept, A[4]).action).toBeUndefined();
    expect(kept.ok).toBe(true);
    expect(world.sb.manager.connectors.some((c) => c.accountId === A[4])).toBe(true);
  });
});
