/**
 * The after-deploy workflows in-process, with typed options, against the sandbox manager and the
 * local AWS endpoint: verify, register, onboard and deregister from a config and from role ARNs.
 */
import { Project } from "../../src/app/project";
import { buildPermissionsPolicy } from "../../src/policy/permissions";
import { buildTrustPolicy } from "../../src/policy/trust";
import { onboardProject, onboardSteps } from "../../src/workflows/onboard";
import { deregisterProject, registerProject } from "../../src/workflows/register";
import { verifyProject } from "../../src/workflows/verify";
import { useWorld, WS_ROOT } from "../helpers/world";

const world = useWorld();
const connectorsOf = (accountId: string) => world.sb.manager.connectors.filter((c) => c.accountId === accountId);

describe("a config with role: { includeWorkspaces: false }", () => {
  it("verifies a role without the WorkSpaces actions, registers it with WorkSpaces off, and onboards it", async () => {
    const a = world.deploy({ permissions: buildPermissionsPolicy({ includeWorkspaces: false }) });
    const config = world.config([a.accountId], { role: { includeWorkspaces: false } });
    await world.withSession(async (session) => {
      const project = await Project.fromConfig(session, config);
      expect(project.includeWorkspaces).toBe(false);
      const verified = await verifyProject(project, { assumeAs: world.verifyAs });
      expect(verified.results[0].checks.permissions).toMatchObject({ status: "pass" });
      expect(verified.ok).toBe(true);

      const registered = await registerProject(project);
      expect(registered.ok).toBe(true);
      expect(connectorsOf(a.accountId)).toEqual([expect.objectContaining({ crossAccountRoleArn: a.roleArn, workspacesEnabled: false })]);

      const onboarded = await onboardProject(project, { assumeAs: world.verifyAs });
      expect(onboarded.rows.map((r) => r.status)).toEqual(["unchanged"]);
    });
  });

  it("the same role fails verification when the project expects WorkSpaces (the default)", async () => {
    const a = world.deploy({ permissions: buildPermissionsPolicy({ includeWorkspaces: false }) });
    await world.withSession(async (session) => {
      const project = await Project.fromConfig(session, world.config([a.accountId]));
      const verified = await verifyProject(project, { assumeAs: world.verifyAs });
      expect(verified.ok).toBe(false);
      expect(verified.results[0].checks.permissions.detail).toMatch(/missing workspaces:/);
    });
  });
});

describe("register", () => {
  it("creates one connector per account with WorkSpaces on by default, then leaves it alone", async () => {
    const a = world.deploy();
    const b = world.deploy();
    await world.withSession(async (session) => {
      const project = Project.fromRoleArns(session, {
        roleArns: [a.roleArn, b.roleArn],
        deploymentRoleName: "OrganizationAccountAccessRole",
      });
      const first = await registerProject(project);
      expect(first.results.map((r) => r.status)).toEqual(["created", "created"]);
      expect(connectorsOf(a.accountId)).toEqual([expect.objectContaining({ workspacesEnabled: true })]);
      const second = await registerProject(project);
      expect(second.results.map((r) => r.status)).toEqual(["unchanged", "unchanged"]);
      expect(world.sb.manager.connectors.filter((c) => [a.accountId, b.accountId].includes(c.accountId!))).toHaveLength(2);
    });
  });

  it("turns WorkSpaces on an existing connector on or off to follow the role options", async () => {
    const a = world.deploy({ permissions: buildPermissionsPolicy({ includeWorkspaces: false }) });
    await world.withSession(async (session) => {
      await registerProject(Project.fromRoleArns(session, { roleArns: [a.roleArn], role: { includeWorkspaces: true } }));
      expect(connectorsOf(a.accountId)[0].workspacesEnabled).toBe(true);
      const off = await registerProject(Project.fromRoleArns(session, { roleArns: [a.roleArn], role: { includeWorkspaces: false } }));
      expect(off.results[0].status).toBe("updated");
      expect(connectorsOf(a.accountId)).toEqual([expect.objectContaining({ workspacesEnabled: false })]);
    });
  });

  it("refuses a role whose trust policy lets callers in without the external ID", async () => {
    const open = world.deploy({ trust: buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [] as unknown as string[] }) });
    await world.withSession(async (session) => {
      const project = Project.fromRoleArns(session, { roleArns: [open.roleArn], deploymentRoleName: "OrganizationAccountAccessRole" });
      const report = await registerProject(project);
      expect(report.ok).toBe(false);
      expect(report.results[0]).toMatchObject({ status: "failed", error: expect.stringMatching(/trust policy is unsafe or wrong/) });
      expect(connectorsOf(open.accountId)).toEqual([]);
    });
  });
});

describe("onboard", () => {
  it("registers the accounts whose roles verify and reports the others, step by step", async () => {
    const good = world.deploy();
    const bad = world.deploy({ trust: buildTrustPolicy({ principalArn: WS_ROOT, externalIds: ["some-other-id-1234"] }) });
    await world.withSession(async (session) => {
      const project = Project.fromRoleArns(session, {
        roleArns: [good.roleArn, bad.roleArn],
        deploymentRoleName: "OrganizationAccountAccessRole",
      });
      const steps: string[] = [];
      const report = await onboardProject(project, { assumeAs: world.verifyAs, propagationTimeoutMs: 2000, onStep: (s) => steps.push(s) });
      expect(report.rows.map((r) => [r.accountId, r.status])).toEqual([
        [good.accountId, "created"],
        [bad.accountId, "verify failed"],
      ]);
      expect(report.ok).toBe(false);
      expect(steps).toHaveLength(onboardSteps(project, {}));
      expect(connectorsOf(bad.accountId)).toEqual([]);
    });
  });

  it("with skipVerify, the trust pre-check still refuses an unsafe role (checkTrust)", async () => {
    const bad = world.deploy({ trust: buildTrustPolicy({ principalArn: WS_ROOT, externalIds: ["some-other-id-1234"] }) });
    await world.withSession(async (session) => {
      const project = Project.fromRoleArns(session, { roleArns: [bad.roleArn], deploymentRoleName: "OrganizationAccountAccessRole" });
      const checked = await onboardProject(project, { skipVerify: true });
      expect(checked.rows[0]).toMatchObject({ status: "failed", failed: expect.stringMatching(/trust policy/) });
      expect(connectorsOf(bad.accountId)).toEqual([]);
    });
  });

  it("deregister removes the connectors of the project's roles and only those", async () => {
    const a = world.deploy();
    const b = world.deploy();
    await world.withSession(async (session) => {
      await registerProject(Project.fromRoleArns(session, { roleArns: [a.roleArn, b.roleArn] }), { checkTrust: false });
      const report = await deregisterProject(Project.fromRoleArns(session, { roleArns: [a.roleArn] }));
      expect(report.results.map((r) => r.status)).toEqual(["deregistered"]);
      expect(connectorsOf(a.accountId)).toEqual([]);
      expect(connectorsOf(b.accountId)).toHaveLength(1);
    });
  });
});

describe("a project from role ARNs", () => {
  it("refuses more display names than roles, and names with control characters", () => {
    const { session } = world.session();
    const arn = "arn:aws:iam::111122223333:role/DeepSecurityCrossAccountRole";
    expect(() => Project.fromRoleArns(session, { roleArns: [arn], displayNames: ["a", "b"] })).toThrow(/2 display names for 1 role/);
    expect(() => Project.fromRoleArns(session, { roleArns: [arn], displayNames: ["bad\u001b[31mname"] })).toThrow(/control characters/);
    expect(() => Project.fromRoleArns(session, { roleArns: [arn, arn] })).toThrow(/given twice/);
  });
});
