/**
 * The README's init flow on both engines, as a user runs it: a project made by init in a fresh
 * folder, `npm install` (ds-onboard from the tarball init packed, the engine from the
 * registry), `npm run synth`, compared with `ds-onboard synth`; then the same stacks built by
 * hand on cdktf 0.21 and on cdktn 0.24 in those projects, byte for byte alike apart from the
 * engine's stamps, with the same Terraform addresses.
 *
 * One install per engine for the whole file (about 15 s each from a warm npm cache).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENGINE_INFO, type EngineName } from "../../src/engine/engines";
import { checkTrustPolicy } from "../../src/policy/trust";
import {
  addresses,
  INSTALL_TIMEOUT_MS,
  installedVersion,
  npmInstall,
  PACKAGE,
  REPO,
  ROLE_TSCONFIG,
  roleApp,
  runOk,
  stackFiles,
  withoutEngineStamps,
} from "./apps";

const ENGINES: EngineName[] = ["cdktf", "cdktn"];
const ACCOUNT = "111122223333";
const EXTERNAL_ID = "ds-onboard-init-flow-0001";
const WORKLOAD_SECURITY = "arn:aws:iam::147995105371:root";
const work = mkdtempSync(join(tmpdir(), "ds-engines-"));
const project = (engine: EngineName) => join(work, `onboarding-${engine}`);
const deps = {} as Record<EngineName, InitAnswer>;

/** The README's first step, verbatim: `ds-onboard init <dir> --account ... --external-id-source literal:<id> --engine <engine>`. */
async function init(dir: string, engine: EngineName): Promise<InitAnswer> {
  const r = await runOk(
    process.execPath,
    [
      join(REPO, "bin", "ds-onboard.js"),
      "init",
      dir,
      "--account",
      ACCOUNT,
      "--external-id-source",
      `literal:${EXTERNAL_ID}`,
      "--engine",
      engine,
      "--output",
      "json",
    ],
    work,
    { timeoutMs: 120_000 },
  );
  return { ...(JSON.parse(r.stdout) as InitAnswer), stderr: r.stderr };
}

interface InitAnswer {
  dependency: string;
  note?: string;
  engine: EngineName;
  stderr: string;
}

function trustPolicies(stackJson: string): string[] {
  const json = JSON.parse(stackJson) as { resource: { aws_iam_role: Record<string, { assume_role_policy: string }> } };
  return Object.values(json.resource.aws_iam_role).map((r) => r.assume_role_policy);
}

beforeAll(async () => {
  for (const engine of ENGINES) deps[engine] = await init(project(engine), engine);
  // `cd <dir> && npm install`, both projects at once.
  await Promise.all(ENGINES.map((engine) => npmInstall(project(engine))));
}, INSTALL_TIMEOUT_MS);

// Each app holds about 560 MB of node_modules.
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("init on a fresh folder, before ds-onboard is published", () => {
  it.each(ENGINES)("%s: the project depends on a tarball of this checkout, says so, and installs one engine", (engine) => {
    const dir = project(engine);
    const dep = deps[engine];
    expect(dep.engine).toBe(engine);
    expect(dep.dependency).toBe(`file:ds-onboard-${PACKAGE.version}.tgz`);
    expect(existsSync(join(dir, `ds-onboard-${PACKAGE.version}.tgz`))).toBe(true);
    expect(dep.note).toMatch(/not from the registry/);
    expect(dep.stderr).toContain(dep.note); // said on stderr too
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies).toEqual({ "ds-onboard": dep.dependency, ...ENGINE_INFO[engine].projectDependencies });
    for (const [name, version] of Object.entries(ENGINE_INFO[engine].projectDependencies))
      expect(installedVersion(dir, name)).toBe(version);
    // The other engine is not there, and constructs is there once (a second copy breaks construct trees).
    const other = engine === "cdktf" ? "cdktn" : "cdktf";
    expect(existsSync(join(dir, "node_modules", other))).toBe(false);
    expect(existsSync(join(dir, "node_modules", `@${other}`))).toBe(false);
    const nested = readdirSync(join(dir, "node_modules"), { recursive: true, encoding: "utf8" }).filter((p) =>
      /node_modules\/constructs\/package\.json$/.test(p),
    );
    expect(nested).toEqual([]);
    expect(readFileSync(join(dir, "main.ts"), "utf8")).toContain(`from "${ENGINE_INFO[engine].generatorEntry}"`);
  });

  it.each(ENGINES)(
    "%s: npm run synth writes what ds-onboard synth writes, and the role trusts the manager with the ID alone",
    async (engine) => {
      const dir = project(engine);
      await runOk("npm", ["run", "synth"], dir);
      const fromProject = stackFiles(join(dir, "cdktf.out"));
      expect(Object.keys(fromProject)).toEqual(["deep-security-roles"]);
      const stamp = JSON.parse(fromProject["deep-security-roles"])["//"].metadata.version;
      expect(stamp).toBe(ENGINE_INFO[engine].projectDependencies[engine]);
      for (const policy of trustPolicies(fromProject["deep-security-roles"]))
        expect(checkTrustPolicy(policy, { principalArn: WORKLOAD_SECURITY, externalIds: [EXTERNAL_ID] })).toMatchObject({ ok: true });

      // `ds-onboard synth --config ds-onboard.yaml`: the CLI this repository builds (cdktf),
      // byte for byte apart from the stamps.
      const out = join(dir, "cli.out");
      await runOk(process.execPath, [join(REPO, "bin", "ds-onboard.js"), "synth", "--config", "ds-onboard.yaml", "--out", out], dir, {
        timeoutMs: 120_000,
      });
      const fromCli = stackFiles(out);
      expect(Object.keys(fromCli)).toEqual(Object.keys(fromProject));
      for (const name of Object.keys(fromCli)) expect(withoutEngineStamps(fromProject[name])).toBe(withoutEngineStamps(fromCli[name]));
      // The CLI installed in the project, on the project's engine (the only one installed there).
      const installedOut = join(dir, "installed-cli.out");
      await runOk(
        join(dir, "node_modules", ".bin", "ds-onboard"),
        ["synth", "--config", "ds-onboard.yaml", "--out", installedOut, "--engine", engine],
        dir,
        {
          timeoutMs: 120_000,
        },
      );
      expect(stackFiles(installedOut)).toEqual(fromProject);
    },
    INSTALL_TIMEOUT_MS,
  );
});

describe("the project follows its config", () => {
  it.each(ENGINES)(
    "%s: stack-per-account with the ID from an environment variable, through the project's own main.js, as ds-onboard synth writes it",
    async (engine) => {
      // init's config for another layout and source, run by the installed project's compiled main.js.
      const dir = project(engine);
      const variant = join(dir, "variant");
      const made = [
        join(REPO, "bin", "ds-onboard.js"),
        "init",
        variant,
        ...["--account", "111122223333", "--account", "444455556666", "--layout", "stack-per-account"],
        ...["--external-id-source", "env:MY_TENANT_ID", "--package", `file:${REPO}`, "--engine", engine],
      ];
      await runOk(process.execPath, made, work, { timeoutMs: 120_000 });
      // The project's main.ts, compiled as `npm run synth` does (also when this test runs alone).
      if (!existsSync(join(dir, "main.js"))) await runOk(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc")], dir);
      writeFileSync(join(variant, "main.js"), readFileSync(join(dir, "main.js")));
      const env = { MY_TENANT_ID: "project-tenant-id-1" };
      await runOk(process.execPath, ["main.js"], variant, {
        env: { ...env, CDKTF_OUTDIR: join(variant, "out-project") },
        timeoutMs: 120_000,
      });
      await runOk(
        process.execPath,
        [join(REPO, "bin", "ds-onboard.js"), "synth", "--config", "ds-onboard.yaml", "--out", "out-cli", "--engine", engine],
        variant,
        { env, timeoutMs: 120_000 },
      );
      const fromProject = stackFiles(join(variant, "out-project"));
      expect(Object.keys(fromProject).sort()).toEqual(["deep-security-roles-111122223333", "deep-security-roles-444455556666"]);
      for (const json of Object.values(fromProject))
        for (const policy of trustPolicies(json))
          expect(checkTrustPolicy(policy, { principalArn: WORKLOAD_SECURITY, externalIds: ["project-tenant-id-1"] })).toMatchObject({
            ok: true,
          });
      const fromCli = stackFiles(join(variant, "out-cli"));
      expect(Object.keys(fromCli).sort()).toEqual(Object.keys(fromProject).sort());
      for (const name of Object.keys(fromCli)) expect(withoutEngineStamps(fromProject[name])).toBe(withoutEngineStamps(fromCli[name]));
    },
    INSTALL_TIMEOUT_MS,
  );
});

describe("the CLI installed in a project", () => {
  it.each(ENGINES)("%s: starts, and its init would pack this installed copy (not from the registry) for a new project", async (engine) => {
    const dir = project(engine);
    const help = await runOk(join(dir, "node_modules", ".bin", "ds-onboard"), ["--help"], dir, { timeoutMs: 60_000 });
    expect(help.stdout).toMatch(/synth/);
    const script = `const e = require("./node_modules/ds-onboard/dist/src/engine/index.js");
const d = e.dependencyOnSelf(${JSON.stringify(join(dir, "next-project"))});
console.log(JSON.stringify({ kind: d.source.kind, reason: d.source.reason, spec: d.spec, installed: e.installedEngines() }));`;
    const r = await runOk(process.execPath, ["-e", script], dir, { timeoutMs: 60_000 });
    const answer = JSON.parse(r.stdout) as { kind: string; reason: string; spec: string; installed: string[] };
    expect(answer).toEqual({
      kind: "local",
      reason: `installed from file:ds-onboard-${PACKAGE.version}.tgz, not from a registry`,
      spec: `file:ds-onboard-${PACKAGE.version}.tgz`,
      installed: [engine],
    });
    expect(existsSync(join(dir, "next-project", `ds-onboard-${PACKAGE.version}.tgz`))).toBe(true);
  });
});

describe("the same stacks on cdktf 0.21 and cdktn 0.24", () => {
  const built = {} as Record<EngineName, Record<string, string>>;

  beforeAll(async () => {
    for (const engine of ENGINES) {
      const dir = project(engine);
      writeFileSync(join(dir, "role.ts"), roleApp(engine, "role.out"));
      writeFileSync(join(dir, "tsconfig.role.json"), ROLE_TSCONFIG);
      // Type-checks the app against that engine's types: ds-onboard/cdktn takes cdktn's stacks and providers.
      await runOk(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.role.json"], dir);
      await runOk(process.execPath, ["role.js"], dir, { timeoutMs: 120_000 });
      built[engine] = stackFiles(join(dir, "role.out"));
    }
  }, INSTALL_TIMEOUT_MS);

  it("writes byte-identical stacks apart from the engine's version stamp and the provider constraint", () => {
    expect(Object.keys(built.cdktn)).toEqual(Object.keys(built.cdktf));
    expect(Object.keys(built.cdktf)).toEqual([
      "deep-security-role",
      "deep-security-roles-111111111111",
      "deep-security-roles-222222222222",
      "deep-security-token",
    ]);
    for (const name of Object.keys(built.cdktf)) {
      expect(built.cdktn[name]).not.toBe(built.cdktf[name]); // the stamps do differ
      expect(withoutEngineStamps(built.cdktn[name])).toBe(withoutEngineStamps(built.cdktf[name]));
    }
  });

  it("passes the trust policy check on both engines", () => {
    for (const engine of ENGINES) {
      const onPremises = "arn:aws:iam::444455556666:root";
      for (const [name, principal] of [
        ["deep-security-role", WORKLOAD_SECURITY],
        ["deep-security-roles-111111111111", onPremises],
        ["deep-security-roles-222222222222", onPremises],
      ] as const) {
        const policies = trustPolicies(built[engine][name]);
        expect(policies).toHaveLength(1);
        expect(checkTrustPolicy(policies[0], { principalArn: principal, externalIds: ["ds-onboard-engine-test-id"] })).toMatchObject({
          ok: true,
        });
      }
    }
  });

  it("keeps every Terraform address (logical ID), so that a state stays valid when a project moves", () => {
    for (const name of Object.keys(built.cdktf)) {
      expect(addresses(built.cdktn[name])).toEqual(addresses(built.cdktf[name]));
      expect(addresses(built.cdktf[name]).length).toBeGreaterThan(3);
    }
    expect(addresses(built.cdktf["deep-security-role"])).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^aws_iam_role\.deep-security_role_/),
        expect.stringMatching(/^aws_iam_policy\.deep-security_policy_/),
        expect.stringMatching(/^aws_iam_role_policy_attachment\./),
        expect.stringMatching(/^terraform_data\.deep-security_registration_/),
        "provider.aws",
      ]),
    );
    // The init projects' stacks too.
    const initStacks = ENGINES.map((engine) => stackFiles(join(project(engine), "cdktf.out"))["deep-security-roles"]);
    expect(addresses(initStacks[1])).toEqual(addresses(initStacks[0]));
  });
});
