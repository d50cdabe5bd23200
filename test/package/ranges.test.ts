/**
 * The peer dependency ranges, tested at their ends. The highest versions are the ones this
 * repository develops with (its devDependencies, the newest published), installed by the init
 * projects in engines.test.ts; here, apps with the lowest versions each range admits install
 * without a peer conflict, type-check and synthesize the same stacks, and cdktf also with the
 * highest constructs it admits (10.8.1; cdktn's own peer stops below 10.8).
 *
 * One install per engine for the whole file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkTrustPolicy } from "../../src/policy/trust";
import {
  addresses,
  INSTALL_TIMEOUT_MS,
  installedVersion,
  npmInstall,
  PACKAGE,
  packRepo,
  ROLE_TSCONFIG,
  roleApp,
  runOk,
  stackFiles,
  TSC,
  withoutEngineStamps,
} from "./apps";

/** The lowest version of a caret range: the only shape our peer ranges take (checked). */
function lowest(name: string): string {
  const range = PACKAGE.peerDependencies[name];
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!m) throw new Error(`peerDependencies.${name} is ${range}; this test reads caret ranges only`);
  return m[1];
}

/** cdktn 0.24 itself asks for constructs >=10.6.0 <10.8.0: the lowest both admit. */
const CDKTN_CONSTRUCTS_FLOOR = "10.6.0";

const LOWEST = {
  cdktf: { cdktf: lowest("cdktf"), "@cdktf/provider-aws": lowest("@cdktf/provider-aws"), constructs: lowest("constructs") },
  cdktn: { cdktn: lowest("cdktn"), "@cdktn/provider-aws": lowest("@cdktn/provider-aws"), constructs: CDKTN_CONSTRUCTS_FLOOR },
} as const;
type Engine = keyof typeof LOWEST;
const ENGINES: Engine[] = ["cdktf", "cdktn"];

const work = mkdtempSync(join(tmpdir(), "ds-ranges-"));
const app = (engine: Engine) => join(work, `lowest-${engine}`);

async function synth(engine: Engine, outdir: string): Promise<Record<string, string>> {
  const dir = app(engine);
  await runOk(process.execPath, [...TSC, "-p", "tsconfig.role.json"], dir);
  await runOk(process.execPath, ["role.js"], dir, { timeoutMs: 120_000 });
  return stackFiles(join(dir, outdir));
}

const built = {} as Record<Engine, Record<string, string>>;

beforeAll(async () => {
  const tarball = await packRepo(work);
  await Promise.all(
    ENGINES.map(async (engine) => {
      const dir = app(engine);
      mkdirSync(dir);
      writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: `lowest-${engine}`, private: true }, null, 2)}\n`);
      writeFileSync(join(dir, "tsconfig.role.json"), ROLE_TSCONFIG);
      await npmInstall(dir, [tarball, ...Object.entries(LOWEST[engine]).map(([name, version]) => `${name}@${version}`)]);
    }),
  );
}, INSTALL_TIMEOUT_MS);

// Each app holds about 560 MB of node_modules.
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the lowest versions the peer ranges admit", () => {
  it.each(ENGINES)(
    "%s: installs them, type-checks and synthesizes a role that passes the trust policy check",
    async (engine) => {
      for (const [name, version] of Object.entries(LOWEST[engine])) expect(installedVersion(app(engine), name)).toBe(version);
      writeFileSync(join(app(engine), "role.ts"), roleApp(engine, "role.out"));
      built[engine] = await synth(engine, "role.out");
      const role = JSON.parse(built[engine]["deep-security-role"]) as {
        resource: { aws_iam_role: Record<string, { assume_role_policy: string }> };
      };
      const [policy] = Object.values(role.resource.aws_iam_role).map((r) => r.assume_role_policy);
      expect(
        checkTrustPolicy(policy, { principalArn: "arn:aws:iam::147995105371:root", externalIds: ["ds-onboard-engine-test-id"] }),
      ).toMatchObject({ ok: true });
    },
    INSTALL_TIMEOUT_MS,
  );

  it("writes the same stacks and addresses on both engines", () => {
    expect(Object.keys(built.cdktn)).toEqual(Object.keys(built.cdktf));
    for (const name of Object.keys(built.cdktf)) {
      expect(withoutEngineStamps(built.cdktn[name])).toBe(withoutEngineStamps(built.cdktf[name]));
      expect(addresses(built.cdktn[name])).toEqual(addresses(built.cdktf[name]));
    }
  });

  it(
    "cdktf: the highest constructs it admits (10.8.1) writes the very same stacks",
    async () => {
      await npmInstall(app("cdktf"), ["constructs@10.8.1"]);
      expect(installedVersion(app("cdktf"), "constructs")).toBe("10.8.1");
      writeFileSync(join(app("cdktf"), "role.ts"), roleApp("cdktf", "role-10.8.out"));
      expect(await synth("cdktf", "role-10.8.out")).toEqual(built.cdktf);
    },
    INSTALL_TIMEOUT_MS,
  );
});
