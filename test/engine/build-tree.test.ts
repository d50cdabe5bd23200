import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { buildCdktnTree, rewritePackageSpecifier } from "../../src/engine/build-tree";

const DIST = join(__dirname, "..", "..", "dist");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

function fakeDist(sources: Record<string, string>): string {
  const dist = mkdtempSync(join(tmpdir(), "ds-tree-"));
  for (const [file, text] of Object.entries(sources)) {
    mkdirSync(dirname(join(dist, file)), { recursive: true });
    writeFileSync(join(dist, file), text);
  }
  return dist;
}

describe("rewritePackageSpecifier", () => {
  it("maps cdktf and the AWS provider bindings to CDK Terrain's, deep paths included", () => {
    expect(rewritePackageSpecifier("cdktf")).toBe("cdktn");
    expect(rewritePackageSpecifier("cdktf/lib/testing/adapters/jest")).toBe("cdktn/lib/testing/adapters/jest");
    expect(rewritePackageSpecifier("@cdktf/provider-aws/lib/iam-role")).toBe("@cdktn/provider-aws/lib/iam-role");
    expect(rewritePackageSpecifier("@cdktf/provider-aws")).toBe("@cdktn/provider-aws");
  });

  it("leaves other packages alone, and refuses a cdktf package it has no equivalent for", () => {
    expect(rewritePackageSpecifier("constructs")).toBeUndefined();
    expect(rewritePackageSpecifier("cdktf-cli")).toBeUndefined();
    expect(rewritePackageSpecifier("./cdktf")).toBeUndefined();
    expect(() => rewritePackageSpecifier("@cdktf/provider-google/lib/x")).toThrow(/no CDK Terrain equivalent/);
  });
});

describe("buildCdktnTree", () => {
  const sources = {
    "constructs/index.js": 'exports.a = require("./role");\n__exportStar(require("../src/policy/trust"), exports);\n',
    "constructs/index.d.ts": 'export * from "./role";\nexport * from "../src/policy/trust";\n',
    "constructs/role.js":
      'const cdktf_1 = require("cdktf");\nconst r = require("@cdktf/provider-aws/lib/iam-role");\nconst t = require("../src/policy/trust");\n',
    "constructs/role.d.ts":
      'import { TerraformStack } from "cdktf";\nimport type { IamRole } from "@cdktf/provider-aws/lib/iam-role";\nexport declare function f(s: TerraformStack): import("../src/policy/trust").X;\n',
    "src/policy/trust.js": "exports.X = 1;\n",
    "src/policy/trust.d.ts": "export declare const X = 1;\n",
    "src/generator/index.js": 'const s = require("./synthesize");\nconst c = require("../cli/context");\n',
    "src/generator/synthesize.js":
      'function f() { return require("cdktf").App && require("../../constructs/role"); }\nconst e = require("../errors");\n',
    "src/cli/context.js": "exports.Context = class {};\n",
    "src/errors.js": "exports.UserError = class {};\n",
  };

  it("copies the modules that depend on cdktf, pointing the rest back at the one shared copy", () => {
    const dist = fakeDist(sources);
    const written = buildCdktnTree(dist).sort();
    expect(written).toEqual(
      [
        "cdktn/constructs/index.d.ts",
        "cdktn/constructs/index.js",
        "cdktn/constructs/role.d.ts",
        "cdktn/constructs/role.js",
        "cdktn/src/generator/index.js",
        "cdktn/src/generator/synthesize.js",
      ].sort(),
    );
    const read = (f: string) => readFileSync(join(dist, "cdktn", f), "utf8");
    expect(read("constructs/role.js")).toBe(
      'const cdktf_1 = require("cdktn");\nconst r = require("@cdktn/provider-aws/lib/iam-role");\nconst t = require("../../src/policy/trust");\n',
    );
    expect(read("constructs/role.d.ts")).toContain('import { TerraformStack } from "cdktn";');
    expect(read("constructs/role.d.ts")).toContain('import type { IamRole } from "@cdktn/provider-aws/lib/iam-role";');
    expect(read("constructs/role.d.ts")).toContain('import("../../src/policy/trust")');
    expect(read("constructs/index.js")).toContain('require("./role")');
    expect(read("src/generator/index.js")).toBe('const s = require("./synthesize");\nconst c = require("../../../src/cli/context");\n');
    // A lazy require inside a function is rewritten too; the copied constructs stay in the tree.
    expect(read("src/generator/synthesize.js")).toContain('require("cdktn").App && require("../../constructs/role")');
    expect(read("src/generator/synthesize.js")).toContain('require("../../../src/errors")');
  });

  it("fails the build when an entry point no longer depends on cdktf (its cdktn entry would be the cdktf one)", () => {
    const dist = fakeDist({ ...sources, "src/generator/synthesize.js": 'const e = require("../errors");\n' });
    expect(() => buildCdktnTree(dist)).toThrow(/src\/generator\/index no longer depends on cdktf/);
  });

  it("refuses to copy a module that finds files from its own location", () => {
    const dist = fakeDist({ ...sources, "constructs/role.js": 'require("cdktf");\nconst p = __dirname + "/x";\n' });
    expect(() => buildCdktnTree(dist)).toThrow(/constructs\/role\.js uses __dirname/);
  });
});

describe("the built dist/cdktn tree", () => {
  const tree = join(DIST, "cdktn");
  const all = files(tree);

  it("holds the constructs and the generator, and imports no cdktf package", () => {
    const names = all.map((f) => relative(tree, f));
    for (const entry of ["constructs/index.js", "constructs/index.d.ts", "src/generator/index.js", "src/generator/index.d.ts"])
      expect(names).toContain(entry);
    for (const file of all) {
      const text = readFileSync(file, "utf8");
      expect({ file, cdktf: text.match(/(from\s*|require\(\s*|import\(\s*)["'](cdktf|@cdktf\/)[^"']*["']/g) }).toEqual({
        file,
        cdktf: null,
      });
    }
    expect(readFileSync(join(tree, "constructs", "cross-account-role.js"), "utf8")).toContain(
      'require("@cdktn/provider-aws/lib/iam-role")',
    );
  });

  it("resolves every relative import to a file that exists", () => {
    for (const file of all) {
      for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from\s*|require\(\s*|import\(\s*)["'](\.[^"']*)["']/g)) {
        const base = join(dirname(file), specifier);
        const ext = file.endsWith(".d.ts") ? ".d.ts" : ".js";
        expect({ file, specifier, exists: existsSync(base + ext) || existsSync(join(base, `index${ext}`)) }).toEqual({
          file,
          specifier,
          exists: true,
        });
      }
    }
  });
});
