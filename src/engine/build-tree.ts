/**
 * Build step (after tsc): writes the CDK Terrain tree, `dist/cdktn/`, from the compiled cdktf
 * one. The constructs are written once, against cdktf; the modules that depend on the
 * framework (those reachable from the package's entry points that import `cdktf` or
 * `@cdktf/provider-aws`, directly or through each other) are copied with their module
 * specifiers rewritten:
 *
 * - `cdktf` → `cdktn`, `@cdktf/provider-aws/lib/...` → `@cdktn/provider-aws/lib/...`;
 * - a relative import of a module that does not depend on the framework → the one compiled
 *   module in `dist/` (one copy of the policy logic and of the error classes for both trees);
 * - a relative import of another framework module → its copy in the same tree.
 *
 * The .js and the .d.ts files are rewritten alike, so that the types of `ds-onboard/cdktn` name
 * cdktn's classes and its runtime objects are cdktn's.
 *
 *   node dist/src/engine/build-tree.js [distDir]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";

/** The modules (paths under dist/, without extension) that the engine entry points start from. */
export const ENGINE_ENTRIES = ["constructs/index", "src/generator/index"] as const;
/** Where the second tree goes, under dist/. */
export const CDKTN_TREE = "cdktn";
/** Modules never copied: the engine loader finds both trees by path itself. */
const NEVER_COPIED = /^src\/engine\//;

const SPECIFIER = /(\bfrom\s*|\brequire\(\s*|\bimport\(\s*)(["'])([^"']+)\2/g;

/** The package a framework specifier maps to, or undefined when it is not one. */
export function rewritePackageSpecifier(specifier: string): string | undefined {
  if (specifier === "cdktf" || specifier.startsWith("cdktf/")) return `cdktn${specifier.slice("cdktf".length)}`;
  if (specifier === "@cdktf/provider-aws" || specifier.startsWith("@cdktf/provider-aws/"))
    return `@cdktn/provider-aws${specifier.slice("@cdktf/provider-aws".length)}`;
  if (specifier.startsWith("@cdktf/")) throw new Error(`no CDK Terrain equivalent is known for ${specifier}`);
  return undefined;
}

const isFramework = (specifier: string) => /^(cdktf|@cdktf\/)/.test(specifier) && rewritePackageSpecifier(specifier) !== undefined;

interface Module {
  /** Path under dist/ without extension, with forward slashes. */
  readonly id: string;
  readonly files: string[];
  readonly imports: Set<string>;
  readonly packages: Set<string>;
}

function listFiles(dir: string, root = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, root) : [relative(root, full).split(sep).join("/")];
  });
}

const moduleId = (file: string) => file.replace(/(\.d\.ts|\.js)$/, "");

function resolveRelative(from: string, specifier: string, known: Map<string, Module>): string | undefined {
  const base = join(dirname(from), specifier).split(sep).join("/");
  if (known.has(base)) return base;
  if (known.has(`${base}/index`)) return `${base}/index`;
  return undefined;
}

function readModules(dist: string): Map<string, Module> {
  const modules = new Map<string, Module>();
  for (const file of listFiles(dist)) {
    if (!/(\.d\.ts|\.js)$/.test(file) || file.startsWith(`${CDKTN_TREE}/`)) continue;
    const id = moduleId(file);
    const m = modules.get(id) ?? { id, files: [], imports: new Set(), packages: new Set() };
    m.files.push(file);
    modules.set(id, m);
  }
  for (const m of modules.values()) {
    for (const file of m.files) {
      for (const [, , , specifier] of readFileSync(join(dist, file), "utf8").matchAll(SPECIFIER)) {
        if (specifier.startsWith(".")) {
          const target = resolveRelative(m.id, specifier, modules);
          if (target) m.imports.add(target);
        } else m.packages.add(specifier);
      }
    }
  }
  return modules;
}

/** The modules to copy: reachable from the entries, and depending on the framework themselves or through another. */
export function frameworkModules(modules: Map<string, Module>): Set<string> {
  const depends = new Map<string, boolean>();
  const visiting = new Set<string>();
  const dependsOnFramework = (id: string): boolean => {
    const known = depends.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return false;
    visiting.add(id);
    const m = modules.get(id)!;
    let result = [...m.packages].some(isFramework);
    for (const target of m.imports) if (dependsOnFramework(target)) result = true;
    visiting.delete(id);
    depends.set(id, result);
    return result;
  };
  const selected = new Set<string>();
  const visit = (id: string) => {
    if (selected.has(id) || NEVER_COPIED.test(id) || !dependsOnFramework(id)) return;
    selected.add(id);
    for (const target of modules.get(id)!.imports) visit(target);
  };
  for (const entry of ENGINE_ENTRIES) {
    if (!modules.has(entry)) throw new Error(`entry point ${entry} is missing from the build`);
    visit(entry);
    if (!selected.has(entry))
      throw new Error(`${entry} no longer depends on cdktf: the ds-onboard/cdktn entry point made from it would be the cdktf one`);
  }
  return selected;
}

/** One compiled file of the cdktf tree, as it reads in the cdktn tree. */
export function rewriteSource(source: string, id: string, copied: ReadonlySet<string>, modules: Map<string, Module>): string {
  return source.replace(SPECIFIER, (whole, prefix: string, quote: string, specifier: string) => {
    if (specifier.startsWith(".")) {
      const target = resolveRelative(id, specifier, modules);
      if (!target) throw new Error(`${id}: cannot resolve ${specifier}`);
      if (copied.has(target)) return whole;
      // From dist/cdktn/<id> back to the one shared module in dist/.
      let path = relative(join(CDKTN_TREE, dirname(id)), target)
        .split(sep)
        .join("/");
      if (target.endsWith("/index") && !specifier.endsWith("index")) path = path.replace(/\/index$/, "");
      return `${prefix}${quote}${path.startsWith(".") ? path : `./${path}`}${quote}`;
    }
    const mapped = rewritePackageSpecifier(specifier);
    return mapped === undefined ? whole : `${prefix}${quote}${mapped}${quote}`;
  });
}

export function buildCdktnTree(dist: string): string[] {
  const modules = readModules(dist);
  const copied = frameworkModules(modules);
  const out = join(dist, CDKTN_TREE);
  rmSync(out, { recursive: true, force: true });
  const written: string[] = [];
  for (const id of [...copied].sort()) {
    for (const file of modules.get(id)!.files) {
      const source = readFileSync(join(dist, file), "utf8");
      // A copied module finds files by its own location at its peril: it has moved.
      if (/\b__dirname\b|\b__filename\b/.test(source.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "")))
        throw new Error(`${file} uses __dirname or __filename; it cannot be copied into the cdktn tree`);
      const target = join(out, file);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, rewriteSource(source, id, copied, modules));
      written.push(`${CDKTN_TREE}/${file}`);
    }
  }
  return written;
}

if (require.main === module) {
  const dist = process.argv[2] ?? join(__dirname, "..", "..");
  if (!existsSync(join(dist, "constructs", "index.js"))) {
    console.error(`build-tree: ${dist} has no compiled constructs; run tsc first`);
    process.exit(1);
  }
  const written = buildCdktnTree(dist);
  console.error(`build-tree: wrote ${written.length} files to ${join(dist, CDKTN_TREE)}`);
}
