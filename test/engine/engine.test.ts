import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import {
  DEFAULT_ENGINE,
  defaultEngine,
  ENGINE_INFO,
  ENGINES,
  type EngineName,
  engineInstallCommand,
  installedEngines,
  isEngineName,
  loadEngine,
  parseEngineName,
} from "../../src/engine";
import { UsageError } from "../../src/errors";
import { projectFiles } from "../../src/generator/init";
import { checkTrustPolicy } from "../../src/policy/trust";
import { addresses, outputFiles, PACKAGE, stackFiles, withoutEngineStamps } from "../package/apps";

const work = mkdtempSync(join(tmpdir(), "ds-engine-"));

describe("the engines", () => {
  it("are cdktf and cdktn; a new project pins the versions this repository tests with", () => {
    expect(ENGINES).toEqual(["cdktf", "cdktn"]);
    expect(DEFAULT_ENGINE).toBe("cdktf");
    for (const engine of ENGINES)
      for (const [name, version] of Object.entries(ENGINE_INFO[engine].projectDependencies))
        expect(PACKAGE.devDependencies[name]).toBe(version);
    expect(engineInstallCommand("cdktn")).toBe("npm install @cdktn/provider-aws@25.7.0 cdktn@0.24.0 constructs@10.7.2");
  });

  it("checks --engine values", () => {
    expect(isEngineName("cdktn")).toBe(true);
    expect(isEngineName("terraform")).toBe(false);
    expect(parseEngineName("cdktf")).toBe("cdktf");
    expect(() => parseEngineName("cdk")).toThrow(UsageError);
    expect(() => parseEngineName("cdk")).toThrow(/one of cdktf, cdktn/);
  });

  it("both are installed here; the default is cdktf", () => {
    expect(installedEngines()).toEqual(["cdktf", "cdktn"]);
    expect(defaultEngine()).toBe("cdktf");
  });

  it("loads each engine's own framework, constructs and generator", () => {
    const cdktf = loadEngine("cdktf");
    const cdktn = loadEngine("cdktn");
    expect(cdktf.framework).toBe(require("cdktf"));
    expect(cdktn.framework).toBe(require("cdktn"));
    expect(cdktn.App).toBe(require("cdktn").App);
    expect(cdktn.framework).not.toBe(cdktf.framework);
    expect(cdktn.constructs.DeepSecurityCrossAccountRole).not.toBe(cdktf.constructs.DeepSecurityCrossAccountRole);
    // The policy logic is one module, shared by both trees.
    expect(cdktn.constructs.checkTrustPolicy).toBe(require("../../dist/src/policy/trust").checkTrustPolicy);
    expect(typeof cdktn.generator.synthesizeOnboarding).toBe("function");
    expect(loadEngine("cdktn")).toBe(cdktn);
  });
});

/** The same stacks through an engine's own App and ds-onboard's constructs for it. */
function synthOn(name: EngineName): Record<string, string> {
  const engine = loadEngine(name);
  const { AwsProvider } = require(`@${name}/provider-aws/lib/provider`);
  const outdir = join(work, `app-${name}`);
  const app = new engine.App({ outdir, skipValidation: false });
  const stack = new engine.TerraformStack(app, "deep-security-role");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  const role = new engine.constructs.DeepSecurityCrossAccountRole(stack, "deep-security", {
    externalIds: ["engine-test-external-id"],
    denyWithoutExternalId: true,
  });
  // The resources are the engine's own classes.
  expect(role.role).toBeInstanceOf(require(`@${name}/provider-aws/lib/iam-role`).IamRole);
  const stacks = engine.constructs.addAccountStacks(app, {
    externalIds: ["engine-test-external-id"],
    accounts: [{ accountId: "111111111111" }, { accountId: "222222222222" }],
  });
  for (const s of [stack, ...stacks]) new engine.LocalBackend(s, { path: `terraform.${s.node.id}.tfstate` });
  app.synth();
  return stackFiles(outdir);
}

describe("synthesis on either engine, in one process", () => {
  it("writes the same stacks, apart from the engine's stamps, with the same addresses", () => {
    const cdktf = synthOn("cdktf");
    const cdktn = synthOn("cdktn");
    expect(Object.keys(cdktn)).toEqual(["deep-security-role", "deep-security-roles"]);
    expect(Object.keys(cdktf)).toEqual(Object.keys(cdktn));
    for (const name of Object.keys(cdktf)) {
      expect(JSON.parse(cdktf[name])["//"].metadata.version).toBe("0.21.0");
      expect(JSON.parse(cdktn[name])["//"].metadata.version).toBe("0.24.0");
      expect(withoutEngineStamps(cdktn[name])).toBe(withoutEngineStamps(cdktf[name]));
      expect(addresses(cdktn[name])).toEqual(addresses(cdktf[name]));
    }
  });

  it("the cdktn generator writes what the cdktf one writes, stamped by cdktn", async () => {
    const config = join(work, "ds-onboard.yaml");
    writeFileSync(
      config,
      "externalId: literal:generator-test-id-01\ndeployment: { layout: stack-per-account }\naccounts:\n  - accountId: '111111111111'\n  - accountId: '222222222222'\n",
    );
    const out: Record<string, Record<string, string>> = {};
    for (const name of ENGINES) {
      const result = await loadEngine(name).generator.synthesizeOnboarding({ configPath: config, outdir: join(work, `gen-${name}`) });
      expect(result.stacks.map((s) => s.name)).toEqual(["deep-security-roles-111111111111", "deep-security-roles-222222222222"]);
      out[name] = stackFiles(result.outdir);
    }
    for (const stack of Object.keys(out.cdktf)) {
      expect(JSON.parse(out.cdktn[stack])["//"].metadata.version).toBe("0.24.0");
      expect(withoutEngineStamps(out.cdktn[stack])).toBe(withoutEngineStamps(out.cdktf[stack]));
      const role = Object.values<{ assume_role_policy: string }>(JSON.parse(out.cdktn[stack]).resource.aws_iam_role)[0];
      expect(
        checkTrustPolicy(role.assume_role_policy, {
          principalArn: "arn:aws:iam::147995105371:root",
          externalIds: ["generator-test-id-01"],
        }),
      ).toMatchObject({ ok: true });
    }
    expect(Object.keys(outputFiles(join(work, "gen-cdktn")))).toContain("manifest.json");
  });
});

describe("init's project for each engine", () => {
  const config = { externalId: "env:DS_EXTERNAL_ID", accounts: [{ accountId: "111122223333" }] };
  const files = (engine?: EngineName) => projectFiles({ projectName: "p", packageSpec: "0.1.0", config, engine });

  it("cdktf by default: the cdktf packages and ds-onboard/generator", () => {
    const f = files();
    expect(f).toEqual(files("cdktf"));
    const pkg = JSON.parse(f["package.json"]);
    expect(pkg.dependencies).toEqual({ "ds-onboard": "0.1.0", cdktf: "0.21.0", "@cdktf/provider-aws": "21.22.1", constructs: "10.7.2" });
    expect(f["main.ts"]).toContain('from "ds-onboard/generator"');
    expect(f["README.md"]).toContain("cdktf deploy '*'");
  });

  it("cdktn: CDK Terrain's packages, ds-onboard/cdktn/generator, the same cdktf.json", () => {
    const f = files("cdktn");
    const pkg = JSON.parse(f["package.json"]);
    expect(pkg.dependencies).toEqual({ "ds-onboard": "0.1.0", cdktn: "0.24.0", "@cdktn/provider-aws": "25.7.0", constructs: "10.7.2" });
    expect(f["main.ts"]).toContain('from "ds-onboard/cdktn/generator"');
    expect(f["main.ts"]).not.toMatch(/"ds-onboard\/generator"/);
    expect(f["README.md"]).toContain("cdktn deploy '*'");
    expect(f["README.md"]).toContain("cdktn-cli");
    // CDK Terrain reads cdktf.json and the CDKTF_* variables as they are.
    expect(f["cdktf.json"]).toBe(files("cdktf")["cdktf.json"]);
    expect(parse(f["ds-onboard.yaml"])).toEqual(config);
  });

  it("the generator entry points of the package are the ones init imports", () => {
    for (const engine of ENGINES) {
      const entry = ENGINE_INFO[engine].generatorEntry.replace(/^ds-onboard/, ".");
      const target = PACKAGE.exports[entry] as { default: string };
      expect(readFileSync(join(__dirname, "..", "..", target.default), "utf8")).toMatch(/synthesizeOnboarding/);
    }
  });
});
