/**
 * How a new project (`ds-onboard init`) depends on ds-onboard, so that its `npm install` works
 * before ds-onboard is on the registry as well as after:
 *
 * - this copy was installed from the registry: the same exact version;
 * - otherwise (a git checkout, a copy installed from a tarball or a folder): a tarball of this
 *   copy made with `npm pack`, in the project folder, as `file:ds-onboard-<version>.tgz`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { UserError } from "../errors";

export interface InstallSource {
  /** `registry`: installed from a registry; `checkout`: a git working tree; `local`: anything else. */
  readonly kind: "registry" | "checkout" | "local";
  readonly version: string;
  /** The folder holding ds-onboard's package.json. */
  readonly root: string;
  /** What the decision rests on, for the user. */
  readonly reason: string;
}

/** The folder of this copy's package.json (found from here upward: works from src/ and dist/). */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "ds-onboard") return dir;
    if (dirname(dir) === dir) throw new Error(`no ds-onboard package.json above ${from}`);
  }
}

export interface LockEntry {
  resolved?: string;
  integrity?: string;
  link?: boolean;
}

/** The lockfile entry npm recorded for the package at `root`, from the hidden lockfile or the project's. */
function lockEntry(root: string): LockEntry | undefined {
  const nodeModules = dirname(root);
  const project = dirname(nodeModules);
  const key = relative(project, root).split(sep).join("/");
  for (const file of [join(nodeModules, ".package-lock.json"), join(project, "package-lock.json")]) {
    if (!existsSync(file)) continue;
    try {
      const lock = JSON.parse(readFileSync(file, "utf8")) as { packages?: Record<string, LockEntry> };
      const entry = lock.packages?.[key];
      if (entry) return entry;
    } catch {
      // An unreadable lockfile tells nothing; the next one may.
    }
  }
  return undefined;
}

/**
 * Whether npm recorded the package as fetched from a registry: a registry tarball URL, or (with
 * `omit-lockfile-registry-resolved`) no `resolved` at all, and an integrity either way. Tarballs
 * (`file:`), folders (`link`) and git sources record their origin in `resolved`.
 */
export function registryEntry(entry: LockEntry | undefined): boolean {
  if (!entry || entry.link || !entry.integrity) return false;
  return entry.resolved === undefined || (/^https?:\/\//.test(entry.resolved) && /\/-\/[^/]+\.tgz$/.test(entry.resolved));
}

/** Where this copy of ds-onboard came from. */
export function installSource(root = packageRoot()): InstallSource {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; _resolved?: string };
  const version = pkg.version;
  if (existsSync(join(root, ".git"))) return { kind: "checkout", version, root, reason: `a git checkout (${join(root, ".git")})` };
  if (basename(dirname(root)) === "node_modules" || basename(dirname(dirname(root))) === "node_modules") {
    const entry = lockEntry(root) ?? (pkg._resolved ? { resolved: pkg._resolved, integrity: "(package.json)" } : undefined);
    const resolved = entry?.resolved;
    if (registryEntry(entry)) return { kind: "registry", version, root, reason: `installed from ${resolved ?? "the registry"}` };
    return {
      kind: "local",
      version,
      root,
      reason: resolved ? `installed from ${resolved}, not from a registry` : "installed without a registry record",
    };
  }
  return { kind: "local", version, root, reason: `a folder that is neither a git checkout nor an npm install (${root})` };
}

export interface DependencyOnSelf {
  /** The value for `dependencies["ds-onboard"]` in the new project's package.json. */
  readonly spec: string;
  readonly source: InstallSource;
  /** The tarball made for the project, when one was. */
  readonly tarball?: string;
  /** One sentence for the user: what the project depends on, and why. */
  readonly note: string;
}

export interface DependencyOnSelfOptions {
  /** Where this copy came from. Default: {@link installSource}. */
  readonly source?: InstallSource;
  /** Makes the tarball of `root` in `destination`; returns its file name. Default: `npm pack`. */
  readonly pack?: (root: string, destination: string) => string;
}

/** Packs `root` into `destination` with `npm pack` (its scripts not run: the built code is what runs now). */
export function npmPack(root: string, destination: string): string {
  let out: string;
  try {
    out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", destination], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      shell: process.platform === "win32",
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new UserError(
      `Could not pack ds-onboard (${root}) for the new project: ${stderr.trim() || (error as Error).message}. Give the dependency yourself with --package <version or file:path>.`,
    );
  }
  const packed = JSON.parse(out.slice(out.indexOf("["))) as { filename: string }[];
  return basename(packed[0].filename);
}

/**
 * Decides how a new project in `projectDir` depends on ds-onboard; when this copy is not from a
 * registry, makes the tarball in `projectDir` (created if needed).
 */
export function dependencyOnSelf(projectDir: string, options: DependencyOnSelfOptions = {}): DependencyOnSelf {
  const source = options.source ?? installSource();
  if (source.kind === "registry")
    return { spec: source.version, source, note: `the project depends on ds-onboard ${source.version} from the registry (this version)` };
  mkdirSync(projectDir, { recursive: true });
  const file = (options.pack ?? npmPack)(source.root, projectDir);
  return {
    spec: `file:${file}`,
    source,
    tarball: join(projectDir, file),
    note: `this ds-onboard ${source.version} is not from the registry (${source.reason}): packed it as ${file} in the project, which depends on that file. Keep the file with the project, or replace "file:${file}" by a published version.`,
  };
}
