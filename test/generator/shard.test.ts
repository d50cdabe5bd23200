/**
 * Sharding: N pipeline jobs, each synthesizing its shard, write together exactly what one
 * unsharded run writes; an account stays in its shard when others join; OU selection.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { synthesizeAccountStacks } from "../../constructs/multi-account";
import { Project } from "../../src/app/project";
import { synthesizeProject } from "../../src/generator/synthesize";
import { type Selection, shardOf } from "../../src/policy/selection";
import { runCli } from "../helpers/cli";
import { useWorld } from "../helpers/world";

const world = useWorld();
const EXTERNAL_ID = "shard-test-tenant-external-id";

const ids = (n: number, from = 310000000000) => Array.from({ length: n }, (_, i) => String(from + i));

function stackFiles(outdir: string): Record<string, string> {
  const dir = join(outdir, "stacks");
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name, "cdk.tf.json"), "utf8")]));
}

/** The role resources of a single stack, by account (the provider alias names the account). */
function rolesByAccount(cdkTfJson: string): Record<string, unknown> {
  const json = JSON.parse(cdkTfJson);
  return Object.fromEntries(
    Object.values<{ provider: string; assume_role_policy: string; name: string }>(json.resource.aws_iam_role).map((r) => [
      /account_(\d{12})/.exec(r.provider)![1],
      { name: r.name, trust: r.assume_role_policy },
    ]),
  );
}

async function synth(config: string, selection: Selection | undefined, outdir: string) {
  const { session } = world.session({ externalId: { value: EXTERNAL_ID, origin: "test" } });
  const project = await Project.fromConfig(session, config, { selection });
  try {
    return await synthesizeProject(project, { outdir });
  } finally {
    await session.close();
  }
}

describe("sharding", () => {
  it("stack per account: the union of 4 shards is the unsharded run, file for file", async () => {
    const config = world.config(ids(40), { deployment: { layout: "stack-per-account" } }, "per-account.yaml");
    const whole = await synth(config, undefined, join(world.dir, "whole"));
    const expected = stackFiles(whole.outdir);
    expect(Object.keys(expected)).toHaveLength(40);

    const union: Record<string, string> = {};
    for (let i = 1; i <= 4; i++) {
      const result = await synth(config, { shard: { index: i, count: 4 } }, join(world.dir, `shard-${i}`));
      for (const a of result.accounts) expect(shardOf(a.accountId, 4)).toBe(i);
      for (const [name, text] of Object.entries(stackFiles(result.outdir))) {
        expect(union[name]).toBeUndefined(); // no stack in two shards
        union[name] = text;
      }
      // Each shard keeps its own accounts record.
      expect(result.manifestPath).toMatch(new RegExp(`per-account\\.shard-${i}-of-4\\.accounts\\.json$`));
    }
    expect(union).toEqual(expected);
  });

  it("single stack: each shard has its own stack (its own state), and together they hold every account once", async () => {
    // Two configs of the same accounts: with a single stack, one config is either sharded or not
    // (a change moves accounts between states, refused; tested below).
    const config = world.config(ids(24, 320000000000), {}, "single.yaml");
    const whole = await synth(world.config(ids(24, 320000000000), {}, "single-whole.yaml"), undefined, join(world.dir, "single-whole"));
    const expected = rolesByAccount(stackFiles(whole.outdir)["deep-security-roles"]);
    const union: Record<string, unknown> = {};
    for (let i = 1; i <= 3; i++) {
      const result = await synth(config, { shard: { index: i, count: 3 } }, join(world.dir, `single-${i}`));
      const files = stackFiles(result.outdir);
      expect(Object.keys(files)).toEqual([`deep-security-roles-shard-${i}-of-3`]);
      // The state file is the stack's own (the local backend names it after the stack).
      expect(files[`deep-security-roles-shard-${i}-of-3`]).toContain(`terraform.deep-security-roles-shard-${i}-of-3.tfstate`);
      Object.assign(union, rolesByAccount(files[`deep-security-roles-shard-${i}-of-3`]));
    }
    expect(union).toEqual(expected);
  });

  it("an account joining moves no other account between shards; with a new shard count, each account is still tracked once", async () => {
    const before = ids(30, 330000000000);
    const config = world.config(before, { deployment: { layout: "stack-per-account" } }, "joining.yaml");
    const shardsBefore = new Map<string, number>();
    for (let i = 1; i <= 3; i++)
      for (const a of (await synth(config, { shard: { index: i, count: 3 } }, join(world.dir, `j-${i}`))).accounts)
        shardsBefore.set(a.accountId, i);
    expect(shardsBefore.size).toBe(30);

    world.config([...before, "339999999999", "338888888888"], { deployment: { layout: "stack-per-account" } }, "joining.yaml");
    const shardsAfter = new Map<string, number>();
    for (let i = 1; i <= 3; i++) {
      const result = await synth(config, { shard: { index: i, count: 3 } }, join(world.dir, `j-${i}`));
      for (const a of result.accounts) shardsAfter.set(a.accountId, i);
      expect(result.lifecycle?.removed).toEqual([]);
    }
    for (const [id, shard] of shardsBefore) expect(shardsAfter.get(id)).toBe(shard);
    expect(shardsAfter.size).toBe(32);

    // Four shards instead of three, while an account leaves: each new shard starts from the
    // records of the three, so the account that left is removed (its provider kept while the
    // state holds its role) by the shard it now hashes to, and no account that stays is removed.
    const leaving = before[7];
    world.config(
      [...before.filter((a) => a !== leaving), "339999999999", "338888888888"],
      { deployment: { layout: "stack-per-account" } },
      "joining.yaml",
    );
    const removed: string[] = [];
    const kept: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const result = await synth(config, { shard: { index: i, count: 4 } }, join(world.dir, `j4-${i}`));
      removed.push(...(result.lifecycle?.removed ?? []));
      kept.push(...(result.lifecycle?.kept ?? []));
      expect(result.lifecycle?.added).toEqual([]);
    }
    expect(removed).toEqual([leaving]);
    expect(kept.sort()).toEqual([...shardsAfter.keys()].filter((a) => a !== leaving).sort());
  });

  it("an account that left the config is removed by its own shard only", async () => {
    const accounts = ids(12, 340000000000);
    const config = world.config(accounts, { deployment: { layout: "stack-per-account" } }, "leaving.yaml");
    for (let i = 1; i <= 2; i++) await synth(config, { shard: { index: i, count: 2 } }, join(world.dir, `l-${i}`));
    const leaving = accounts[5];
    world.config(
      accounts.filter((a) => a !== leaving),
      { deployment: { layout: "stack-per-account" } },
      "leaving.yaml",
    );
    const own = shardOf(leaving, 2);
    const ownRun = await synth(config, { shard: { index: own, count: 2 } }, join(world.dir, `l-${own}`));
    expect(ownRun.lifecycle?.removed).toEqual([leaving]);
    const other = await synth(config, { shard: { index: 3 - own, count: 2 } }, join(world.dir, `l-${3 - own}`));
    expect(other.lifecycle?.removed).toEqual([]);
  });

  it("--ou selects the accounts under an OU, listed or discovered, with its own output and record", async () => {
    world.sb.aws.addOrganization({
      accounts: [
        { id: "350000000001", parentId: "r-sb01" },
        { id: "350000000002", parentId: "r-sb01" },
      ],
    });
    const org = world.sb.aws.organization!;
    org.units.push({ Id: "ou-sb01-prod0001", Name: "prod", ParentId: org.rootId });
    world.sb.aws.addOrganization({
      accounts: [
        { id: "350000000003", parentId: "ou-sb01-prod0001" },
        { id: "350000000004", parentId: "ou-sb01-prod0001" },
      ],
    });
    const config = world.config(["350000000001", "350000000003"], { organizations: { includeOus: ["ou-sb01-prod0001"] } }, "ou.yaml");
    const result = await synth(config, { ous: ["ou-sb01-prod0001"] }, join(world.dir, "ou"));
    expect(result.accounts.map((a) => a.accountId).sort()).toEqual(["350000000003", "350000000004"]);
    expect(result.manifestPath).toMatch(/ou\.ou-sb01-prod0001\.accounts\.json$/);
    expect(existsSync(join(world.dir, "ou", "stacks", "deep-security-roles-ou-sb01-prod0001"))).toBe(true);

    const { session } = world.session({ externalId: { value: EXTERNAL_ID, origin: "test" } });
    await expect(Project.fromConfig(session, config, { selection: { ous: ["ou-sb01-nothere1"] } })).rejects.toThrow(
      /OU selection names OUs that are not in the organization: ou-sb01-nothere1/,
    );
    await expect(Project.fromConfig(session, config, { selection: { ous: ["prod"] } })).rejects.toThrow(/"prod" is not an OU or root ID/);
  });
});

describe("selection flags", () => {
  const env = () => ({ ...process.env, DS_EXTERNAL_ID: EXTERNAL_ID });

  it("--shard and DS_ONBOARD_SHARD: bad values are exit 2 with the fix; a selection needs a config", async () => {
    const config = world.config(ids(3, 370000000000), {}, "flags.yaml");
    for (const [argv, extra, message] of [
      [["synth", "--config", config, "--shard", "0/4"], {}, /--shard: 0\/4: the shard number must be from 1 to 4/],
      [["synth", "--config", config, "--shard", "two"], {}, /--shard: "two" is not a shard: write I\/N/],
      [["synth", "--config", config], { DS_ONBOARD_SHARD: "3/2" }, /DS_ONBOARD_SHARD: 3\/2: the shard number must be from 1 to 2/],
      [["verify", "--role-arn", "arn:aws:iam::370000000000:role/R", "--shard", "1/2"], {}, /select accounts of a config: add --config/],
      [["register", "--config", config, "--ou", "prod"], {}, /OU selection: "prod" is not an OU or root ID/],
    ] as const) {
      const r = await runCli([...argv], { ...env(), ...extra });
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it("offboard --if-recorded: a shard never synthesized has no account known to have left (a pipeline's first run)", async () => {
    const config = world.config(ids(4, 390000000000), {}, "first-run.yaml");
    const first = await runCli(["offboard", "--config", config, "--shard", "1/2", "--if-recorded", "--output", "json"], env());
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).accounts).toEqual([]);
    const strict = await runCli(["offboard", "--config", config, "--shard", "1/2"], env());
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/first-run\.shard-1-of-2\.accounts\.json does not exist/);
  });

  it("synth --list-accounts says which accounts another shard has; the environment's shard works like the flag", async () => {
    const accounts = ids(6, 380000000000);
    const config = world.config(accounts, {}, "list.yaml");
    const r = await runCli(["synth", "--config", config, "--list-accounts", "--output", "json"], { ...env(), DS_ONBOARD_SHARD: "2/3" });
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout).accounts.map((a: { accountId: string }) => a.accountId);
    expect(listed).toEqual(accounts.filter((a) => shardOf(a, 3) === 2));
    const out = join(world.dir, "env-shard");
    const synth = await runCli(["synth", "--config", config, "--out", out, "--output", "json"], { ...env(), DS_ONBOARD_SHARD: "2/3" });
    expect(synth.code).toBe(0);
    expect(JSON.parse(synth.stdout).stacks.map((s: { name: string }) => s.name)).toEqual(["deep-security-roles-shard-2-of-3"]);
  });
});

describe("onboarding by shard", () => {
  it("onboard in 3 shards registers every account exactly once, as one unsharded run would", async () => {
    const deployed = Array.from({ length: 6 }, () => world.deploy().accountId);
    const config = world.config(deployed, {}, "onboard-shards.yaml");
    const env = { ...process.env, DS_MANAGER_URL: world.sb.manager.url, DS_API_KEY: world.sb.manager.keys.admin };
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = await runCli(["onboard", "--config", config, "--shard", `${i}/3`, "--output", "json", "--propagation-timeout", "0"], env);
      expect(r.code).toBe(0);
      const rows: { accountId: string; status: string }[] = JSON.parse(r.stdout).accounts;
      for (const row of rows) expect(shardOf(row.accountId, 3)).toBe(i);
      seen.push(...rows.map((row) => row.accountId));
    }
    expect(seen.sort()).toEqual([...deployed].sort());
    const connectors = world.sb.manager.connectors.filter((c) => deployed.includes(c.accountId!));
    expect(connectors.map((c) => c.accountId).sort()).toEqual([...deployed].sort());
    // The whole project again: nothing to create.
    const whole = await runCli(["register", "--config", config, "--output", "json"], env);
    expect(whole.code).toBe(0);
    expect(JSON.parse(whole.stdout).results.map((r: { status: string }) => r.status)).toEqual(deployed.map(() => "unchanged"));
  });
});

describe("a shard without accounts", () => {
  it("synth writes an empty stacks folder, onboard and reconcile have nothing to do (exit 0)", async () => {
    const deployed = [world.deploy().accountId];
    const config = world.config(deployed, {}, "tiny.yaml");
    const empty = [1, 2, 3].find((i) => shardOf(deployed[0], 3) !== i)!;
    const env = { ...process.env, DS_MANAGER_URL: world.sb.manager.url, DS_API_KEY: world.sb.manager.keys.admin };
    const out = join(world.dir, "tiny-out");
    const synth = await runCli(["synth", "--config", config, "--shard", `${empty}/3`, "--out", out, "--output", "json"], env);
    expect(synth.code).toBe(0);
    expect(JSON.parse(synth.stdout).stacks).toEqual([]);
    expect(readdirSync(join(out, "stacks"))).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).stacks).toEqual({});
    for (const command of ["onboard", "register", "reconcile"]) {
      const r = await runCli([command, "--config", config, "--shard", `${empty}/3`, "--output", "json"], env);
      expect({ command, code: r.code, stderr: r.stderr }).toEqual({ command, code: 0, stderr: "" });
    }
  });

  it("the constructs: only retired accounts, in either layout, give stacks with only their providers", () => {
    for (const layout of ["single-stack", "stack-per-account"] as const) {
      const outdir = join(world.dir, `only-retired-${layout}`);
      const { stackNames } = synthesizeAccountStacks({
        outdir,
        layout,
        externalIds: [EXTERNAL_ID],
        accounts: [],
        retiredAccounts: [{ accountId: "399999999999" }],
      });
      expect([...stackNames]).toEqual([layout === "single-stack" ? "deep-security-roles" : "deep-security-roles-399999999999"]);
      const json = JSON.parse(readFileSync(join(outdir, "stacks", stackNames[0], "cdk.tf.json"), "utf8"));
      expect(json.resource).toBeUndefined();
      expect(json.provider.aws.map((p: { alias: string }) => p.alias)).toEqual(["account_399999999999"]);
    }
    // With neither, the list is still required.
    expect(() => synthesizeAccountStacks({ outdir: join(world.dir, "none"), externalIds: [EXTERNAL_ID], accounts: [] })).toThrow(
      /accounts: expected a non-empty list/,
    );
  });
});

describe("accounts moving between selections", () => {
  const A = "ou-sb01-teama001";
  const B = "ou-sb01-teamb001";
  const move = (accountId: string, to: string) => {
    world.sb.aws.organization!.accounts.find((a) => a.Id === accountId)!.ParentId = to;
  };

  beforeAll(() => {
    world.sb.aws.addOrganization({ accounts: [] });
    const org = world.sb.aws.organization!;
    org.units.push({ Id: A, Name: "team-a", ParentId: org.rootId }, { Id: B, Name: "team-b", ParentId: org.rootId });
    world.sb.aws.addOrganization({
      accounts: [
        { id: "351000000001", parentId: A },
        { id: "351000000002", parentId: A },
        { id: "351000000003", parentId: B },
        { id: "351000000004", parentId: B },
        { id: "351000000005", parentId: B },
      ],
    });
  });

  it("stack per account: an account that moves to another OU leaves this OU's output, neither retired nor called stale", async () => {
    const config = world.config([], { organizations: { includeOus: [A, B] }, deployment: { layout: "stack-per-account" } }, "teams.yaml");
    const out = join(world.dir, "team-a");
    await synth(config, { ous: [A] }, out);
    expect(readdirSync(join(out, "stacks")).sort()).toEqual(["deep-security-roles-351000000001", "deep-security-roles-351000000002"]);
    move("351000000002", B);
    const again = await synth(config, { ous: [A] }, out);
    expect(again.lifecycle).toMatchObject({ moved: ["351000000002"], removed: [], retired: [] });
    expect(again.staleStacks).toEqual([]);
    expect(readdirSync(join(out, "stacks"))).toEqual(["deep-security-roles-351000000001"]);
    const b = await synth(config, { ous: [B] }, join(world.dir, "team-b"));
    expect(b.accounts.map((a) => a.accountId).sort()).toEqual(["351000000002", "351000000003", "351000000004", "351000000005"]);
    move("351000000002", A);
  });

  it("an OU and a shard: a new shard count starts from the OU's records of the old one", async () => {
    const config = world.config(
      [],
      { organizations: { includeOus: [A, B] }, deployment: { layout: "stack-per-account" } },
      "teams-sharded.yaml",
    );
    for (let i = 1; i <= 2; i++) await synth(config, { ous: [B], shard: { index: i, count: 2 } }, join(world.dir, `tb-${i}`));
    // 351000000004 leaves the organization; the OU's shards are now three.
    const org = world.sb.aws.organization!;
    const gone = org.accounts.splice(
      org.accounts.findIndex((a) => a.Id === "351000000004"),
      1,
    )[0];
    const removed: string[] = [];
    const kept: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = await synth(config, { ous: [B], shard: { index: i, count: 3 } }, join(world.dir, `tb3-${i}`));
      removed.push(...(r.lifecycle?.removed ?? []));
      kept.push(...(r.lifecycle?.kept ?? []));
      expect(r.lifecycle?.added).toEqual([]);
    }
    expect(removed).toEqual(["351000000004"]);
    expect(kept.sort()).toEqual(["351000000003", "351000000005"]);
    org.accounts.push(gone);
  });

  it("single stack: a move between selections, or a new shard count, is refused with what to do", async () => {
    const config = world.config([], { organizations: { includeOus: [A, B] } }, "teams-single.yaml");
    await synth(config, { ous: [A] }, join(world.dir, "single-a"));
    move("351000000001", B);
    await expect(synth(config, { ous: [A] }, join(world.dir, "single-a"))).rejects.toThrow(
      /351000000001 left this selection \(under ou-sb01-teama001\) for another but is still in the project; with layout single-stack its role is in this selection's state .*terraform state mv.*--forget-removed 351000000001/s,
    );
    move("351000000001", A);

    const listed = world.config(ids(6, 352000000000), {}, "single-sharded.yaml");
    for (let i = 1; i <= 2; i++) await synth(listed, { shard: { index: i, count: 2 } }, join(world.dir, `ss-${i}`));
    await expect(synth(listed, { shard: { index: 1, count: 3 } }, join(world.dir, "ss3-1"))).rejects.toThrow(
      /for 2 shards are newer than this selection's \(shard 1 of 3\): the shard count changed/,
    );
  });
});

describe("accounts that left, with the state in S3", () => {
  const BUCKET = "ds-onboard-lifecycle-state";
  const roleState = (provider: string) =>
    JSON.stringify({ version: 4, resources: [{ mode: "managed", type: "aws_iam_role", provider, instances: [{ attributes: {} }] }] });

  it("are kept while their stack's state in the bucket holds resources, and forgotten once it is empty", async () => {
    world.sb.aws.s3.createBucket(BUCKET);
    const [a, b] = ["353000000001", "353000000002"];
    const backend = { type: "s3", bucket: BUCKET, endpoint: world.sb.aws.url };
    const config = world.config([a, b], { deployment: { layout: "stack-per-account", backend } }, "s3-lifecycle.yaml");
    const out = join(world.dir, "s3-lifecycle");
    await synth(config, undefined, out);
    const key = (account: string) => `ds-onboard/deep-security-roles-${account}.tfstate`;
    for (const account of [a, b])
      world.sb.aws.s3.putObject(BUCKET, key(account), roleState(`provider["registry.terraform.io/hashicorp/aws"].account_${account}`));

    world.config([a], { deployment: { layout: "stack-per-account", backend } }, "s3-lifecycle.yaml");
    const leaving = await synth(config, undefined, out);
    expect(leaving.lifecycle).toMatchObject({ removed: [b], retired: [b] });
    expect(leaving.retiredStacks?.map((s) => s.name)).toEqual([`deep-security-roles-${b}`]);

    // Still there at the next synthesis; then the apply destroys the role and the state is empty.
    expect((await synth(config, undefined, out)).lifecycle?.retired).toEqual([b]);
    world.sb.aws.s3.putObject(BUCKET, key(b), JSON.stringify({ version: 4, resources: [] }));
    const gone = await synth(config, undefined, out);
    expect(gone.lifecycle?.retired).toEqual([]);
    expect(gone.retiredStacks).toEqual([]);
    expect(JSON.parse(readFileSync(gone.manifestPath!, "utf8")).retired).toEqual([]);
  });

  it("are kept, with a warning, while the state cannot be read", async () => {
    const [a, b] = ["354000000001", "354000000002"];
    const backend = { type: "s3", bucket: "ds-onboard-no-such-bucket", endpoint: world.sb.aws.url };
    const config = world.config([a, b], { deployment: { layout: "stack-per-account", backend } }, "s3-unreadable.yaml");
    const out = join(world.dir, "s3-unreadable");
    await synth(config, undefined, out);
    world.config([a], { deployment: { layout: "stack-per-account", backend } }, "s3-unreadable.yaml");
    const { session, log } = world.session({ externalId: { value: EXTERNAL_ID, origin: "test" } });
    const result = await synthesizeProject(await Project.fromConfig(session, config), { outdir: out });
    await session.close();
    expect(result.lifecycle?.retired).toEqual([b]);
    expect(log.text).toMatch(new RegExp(`state of stack deep-security-roles-${b} not read \\(NoSuchBucket`));
  });
});
