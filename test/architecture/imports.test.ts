/**
 * The shape we keep, read from the import graph: the CLI is a shell nobody else imports, the
 * constructs depend only on the pure policy logic, and the policy logic does no I/O.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(__dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return name === "node_modules" || name === "cdktf.out" ? [] : sources(rel);
    return rel.endsWith(".ts") && !rel.endsWith(".d.ts") ? [rel] : [];
  });
}

/** Every module a file imports (static, dynamic and require), relative ones as repo paths. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true);
  return info.importedFiles.map(({ fileName }) =>
    fileName.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), fileName)) : fileName,
  );
}

const files = ["src", "constructs", "examples", "bench"].flatMap(sources);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

test("the import graph is read (a sanity check of this test itself)", () => {
  expect(files.length).toBeGreaterThan(40);
  expect(graph.get("src/cli/main.ts")).toContain("src/cli/commands/verify");
  expect(graph.get("src/workflows/verify.ts")).toContain("src/onboard/verify");
});

test("nothing outside src/cli imports src/cli", () => {
  const offenders = [...graph].flatMap(([file, imports]) =>
    inside(file, "src/cli") ? [] : imports.filter((i) => inside(i, "src/cli")).map((i) => `${file} -> ${i}`),
  );
  expect(offenders).toEqual([]);
});

test("the constructs depend only on the policy logic and validation, never on workflows, I/O or the CLI", () => {
  const allowed = (i: string) => !i.startsWith("src/") || inside(i, "src/policy") || i === "src/validation" || i === "src/errors";
  const offenders = [...graph].flatMap(([file, imports]) =>
    inside(file, "constructs") ? imports.filter((i) => !allowed(i)).map((i) => `${file} -> ${i}`) : [],
  );
  expect(offenders).toEqual([]);
});

test("the policy logic is pure: no file system, network, AWS SDK or process access", () => {
  // node:crypto's hashes are pure computation; every other node: module is I/O or process access.
  const io = /^(node:(?!crypto$)|fs$|http|https$|undici|@aws-sdk\/|cdktf|yargs|zod)/;
  const offenders = [...graph].flatMap(([file, imports]) =>
    inside(file, "src/policy") ? imports.filter((i) => io.test(i)).map((i) => `${file} -> ${i}`) : [],
  );
  expect(offenders).toEqual([]);
  for (const file of files.filter((f) => inside(f, "src/policy")))
    expect(readFileSync(join(ROOT, file), "utf8")).not.toMatch(/\bprocess\.(env|stdout|stderr|exit)/);
});

test("library modules name no CLI flag in their messages", () => {
  const offenders = files
    .filter((f) => inside(f, "src") && !inside(f, "src/cli") && !inside(f, "src/sandbox"))
    .flatMap((f) =>
      readFileSync(join(ROOT, f), "utf8")
        .split("\n")
        .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
        // A command line the library writes into a generated file (a CI template) names flags by design.
        .filter(({ line }) => !/ds-onboard [a-z-]+ --/.test(line))
        .filter(({ line }) =>
          /["'`][^"'`]*\s--(manager-url|api-key|api-key-file|ca-bundle|timeout|auth|external-id|external-id-from|insecure|out|role-arn|assume-as|propagation-timeout|concurrency)\b/.test(
            line,
          ),
        ),
    )
    .map((o) => o.at);
  expect(offenders).toEqual([]);
});
