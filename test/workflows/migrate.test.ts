/**
 * The migration phases in-process, under the conditions that used to cut the manager off: an
 * account added after discover, a role reverted after widen, a corrupt state file. After every
 * step the manager, with each connector's current ID, can still assume every role.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Project } from "../../src/app/project";
import { ExitCode, UsageError } from "../../src/errors";
import { buildTrustPolicy } from "../../src/policy/trust";
import { seedFromTerraform } from "../../src/sandbox/seed";
import { migrate } from "../../src/workflows/migrate";
import { useWorld, WS_ROOT } from "../helpers/world";

const world = useWorld();
const legacyId = (accountId: string) => `user-defined-${accountId}-old`;
let next = 820000000000;

/** An older deployment: the role trusts a user-defined ID, and its connector uses it. */
function legacyAccount(): string {
  const accountId = String(next++);
  const { roleArn } = world.deploy({ accountId, trust: buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [legacyId(accountId)] }) });
  world.sb.manager.addLegacyConnector({ crossAccountRoleArn: roleArn, externalId: legacyId(accountId), displayName: accountId });
  return accountId;
}

async function expectManagerCanAssume(accounts: string[]): Promise<void> {
  const connectors = world.sb.manager.connectors.filter((c) => accounts.includes(c.accountId!));
  expect(connectors).toHaveLength(accounts.length);
  const results = await Promise.all(connectors.map(async (c) => [c.accountId, await world.sb.manager.canAssume(c.ID!)] as const));
  expect(results.filter(([, ok]) => !ok)).toEqual([]);
}

/** Stands in for a deploy of what widen or narrow wrote. */
function deploy(dir: string): void {
  const stacks = join(dir, "cdktf.out", "stacks");
  for (const s of readdirSync(stacks))
    seedFromTerraform(world.sb.aws.iam, JSON.parse(readFileSync(join(stacks, s, "cdk.tf.json"), "utf8")));
}

async function phase(config: string, name: "discover" | "plan" | "widen" | "switch" | "narrow", statePath?: string) {
  return world.withSession(async (session) => migrate(await Project.fromConfig(session, config), { phase: name, statePath }));
}

function folderConfig(name: string, accounts: string[]): { dir: string; config: string } {
  const dir = join(world.dir, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "ds-onboard.yaml");
  writeFileSync(
    config,
    `deployment: { layout: stack-per-account }\naccounts:\n${accounts.map((a) => `  - accountId: "${a}"`).join("\n")}\n`,
  );
  return { dir, config };
}

it("an account added after discover makes widen refuse, naming it; discover again takes it in and keeps the others' progress", async () => {
  const [a, b] = [legacyAccount(), legacyAccount()];
  const { dir, config } = folderConfig("added", [a]);
  await phase(config, "discover");
  writeFileSync(config, readFileSync(config, "utf8").replace(`  - accountId: "${a}"`, `  - accountId: "${a}"\n  - accountId: "${b}"`));
  const refused = await phase(config, "widen").catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(UsageError);
  expect((refused as UsageError).exitCode).toBe(ExitCode.usage);
  expect((refused as Error).message).toMatch(new RegExp(`account\\(s\\) ${b} are not in the migration state`));
  expect(readdirSync(dir)).not.toContain("cdktf.out"); // nothing written
  await expectManagerCanAssume([a, b]);

  const again = await phase(config, "discover");
  expect(again.accounts.map((x) => [x.accountId, x.classification])).toEqual([
    [a, "user-defined"],
    [b, "user-defined"],
  ]);
  await phase(config, "widen");
  deploy(dir);
  await expectManagerCanAssume([a, b]);
  const verified = await phase(config, "widen");
  expect(verified.accounts.every((x) => x.widened)).toBe(true);
});

it("a role reverted after widen is not switched (its role is read live), and the manager keeps access", async () => {
  const [a, b] = [legacyAccount(), legacyAccount()];
  const { dir, config } = folderConfig("reverted", [a, b]);
  await phase(config, "discover");
  await phase(config, "widen");
  deploy(dir);
  expect((await phase(config, "widen")).accounts.every((x) => x.widened)).toBe(true);
  // Someone puts b's old trust policy back.
  world.sb.aws.iam.role(b, "DeepSecurityCrossAccountRole").trustPolicy = JSON.stringify(
    buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [legacyId(b)] }),
  );
  const switched = await phase(config, "switch");
  expect(switched.failed).toBe(1);
  expect(switched.messages.join("\n")).toMatch(new RegExp(`${b}  not switched: its role, read now, does not accept the tenant's ID`));
  expect(switched.accounts.find((x) => x.accountId === a)!.switched).toBe(true);
  expect(switched.accounts.find((x) => x.accountId === b)!.switched).toBe(false);
  await expectManagerCanAssume([a, b]);
  // narrow refuses while b's connector is on the old ID: writing now would cut it off.
  await expect(phase(config, "narrow")).rejects.toThrow(/narrow refuses to start/);
  await expectManagerCanAssume([a, b]);
});

describe("a corrupt migration state file is a usage error that names it; nothing is written", () => {
  const cases: [string, string | null][] = [
    ["truncated", '{"version": 1, "principalArn": "arn:aws:iam::147995105371:root", "acc'],
    ["empty", ""],
    ["foreign JSON", '{"terraform_version": "1.11.4", "resources": []}'],
    ["a list", "[1, 2, 3]"],
    ["a hand-edited entry", '{"version": 1, "principalArn": "x", "accounts": {"123": {"accountId": "123"}}}'],
    ["a folder", null],
  ];
  it.each(cases)("%s", async (name, content) => {
    const a = legacyAccount();
    const { dir, config } = folderConfig(`corrupt-${name.replace(/\W/g, "-")}`, [a]);
    const statePath = join(dir, "state.json");
    if (content === null) mkdirSync(statePath);
    else writeFileSync(statePath, content);
    for (const p of ["plan", "widen", "switch", "narrow", "discover"] as const) {
      const error = await phase(config, p, statePath).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toContain(statePath);
      expect((error as Error).message).toMatch(
        /Restore it from a backup, or delete it and run `ds-onboard migrate-external-id discover` again/,
      );
    }
    if (content !== null) expect(readFileSync(statePath, "utf8")).toBe(content);
    expect(readdirSync(dir).sort()).toEqual(["ds-onboard.yaml", "state.json"]);
    await expectManagerCanAssume([a]);
  });
});
