import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dependencyOnSelf, type InstallSource, installSource, packageRoot, registryEntry } from "../../src/engine/package-spec";

const REPO = join(__dirname, "..", "..");
const work = () => mkdtempSync(join(tmpdir(), "ds-spec-"));

/** A ds-onboard installed in an app's node_modules, with npm's hidden lockfile saying where from. */
function installed(entry: Record<string, unknown> | undefined, options: { projectLock?: boolean } = {}): string {
  const app = work();
  const root = join(app, "node_modules", "ds-onboard");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "ds-onboard", version: "1.2.3" }));
  const lock = JSON.stringify({ lockfileVersion: 3, packages: entry ? { "node_modules/ds-onboard": { version: "1.2.3", ...entry } } : {} });
  writeFileSync(options.projectLock ? join(app, "package-lock.json") : join(app, "node_modules", ".package-lock.json"), lock);
  return root;
}

const INTEGRITY = "sha512-abc";

describe("installSource: where the running copy came from", () => {
  it("this repository is a git checkout", () => {
    expect(packageRoot()).toBe(REPO);
    const source = installSource();
    expect(source).toMatchObject({ kind: "checkout", root: REPO });
    expect(source.reason).toMatch(/git checkout/);
  });

  it("a registry install: a registry tarball URL, or no resolved at all (omit-lockfile-registry-resolved), with an integrity", () => {
    expect(
      installSource(installed({ resolved: "https://registry.npmjs.org/ds-onboard/-/ds-onboard-1.2.3.tgz", integrity: INTEGRITY })),
    ).toMatchObject({
      kind: "registry",
      version: "1.2.3",
    });
    expect(installSource(installed({ integrity: INTEGRITY }))).toMatchObject({ kind: "registry" });
    // Found in the project's lockfile when the hidden one is missing.
    expect(installSource(installed({ integrity: INTEGRITY }, { projectLock: true }))).toMatchObject({ kind: "registry" });
  });

  it("anything else is local: a tarball, a linked folder, a git source, no record", () => {
    expect(installSource(installed({ resolved: "file:../ds-onboard-1.2.3.tgz", integrity: INTEGRITY }))).toMatchObject({
      kind: "local",
      reason: expect.stringMatching(/file:\.\.\/ds-onboard-1\.2\.3\.tgz, not from a registry/),
    });
    expect(installSource(installed({ resolved: "../ds-onboard", link: true }))).toMatchObject({ kind: "local" });
    expect(installSource(installed({ resolved: "git+ssh://git@example.invalid/ds-onboard.git#abc" }))).toMatchObject({ kind: "local" });
    expect(installSource(installed(undefined))).toMatchObject({ kind: "local", reason: "installed without a registry record" });
    const folder = work();
    writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "ds-onboard", version: "1.2.3" }));
    expect(installSource(folder)).toMatchObject({ kind: "local" });
  });

  it("registryEntry wants an integrity and no other origin", () => {
    expect(registryEntry(undefined)).toBe(false);
    expect(registryEntry({ integrity: INTEGRITY })).toBe(true);
    expect(registryEntry({ resolved: "https://registry.npmjs.org/ds-onboard/-/ds-onboard-1.2.3.tgz" })).toBe(false);
    expect(registryEntry({ resolved: "https://example.invalid/some/archive.tgz", integrity: INTEGRITY })).toBe(false);
    expect(registryEntry({ integrity: INTEGRITY, link: true })).toBe(false);
  });
});

describe("dependencyOnSelf: how a new project depends on ds-onboard", () => {
  const registry: InstallSource = { kind: "registry", version: "1.2.3", root: "/nowhere", reason: "installed from the registry" };

  it("from the registry: the same exact version, nothing packed", () => {
    const pack = jest.fn();
    const dep = dependencyOnSelf(join(work(), "project"), { source: registry, pack });
    expect(dep.spec).toBe("1.2.3");
    expect(dep.tarball).toBeUndefined();
    expect(dep.note).toMatch(/ds-onboard 1\.2\.3 from the registry/);
    expect(pack).not.toHaveBeenCalled();
  });

  it("otherwise: a tarball of this copy in the new project folder, and a note that says so", () => {
    const project = join(work(), "new", "project");
    const source: InstallSource = {
      kind: "checkout",
      version: "1.2.3",
      root: "/src/ds-onboard",
      reason: "a git checkout (/src/ds-onboard/.git)",
    };
    const pack = jest.fn((_root: string, destination: string) => {
      writeFileSync(join(destination, "ds-onboard-1.2.3.tgz"), "");
      return "ds-onboard-1.2.3.tgz";
    });
    const dep = dependencyOnSelf(project, { source, pack });
    expect(pack).toHaveBeenCalledWith("/src/ds-onboard", project);
    expect(dep).toMatchObject({ spec: "file:ds-onboard-1.2.3.tgz", tarball: join(project, "ds-onboard-1.2.3.tgz") });
    expect(dep.note).toMatch(/not from the registry \(a git checkout/);
    expect(dep.note).toMatch(/replace "file:ds-onboard-1\.2\.3\.tgz" by a published version/);
  });

  it("packs for real with npm pack (this checkout, as built)", () => {
    const project = join(work(), "p");
    const dep = dependencyOnSelf(project);
    expect(dep.spec).toMatch(/^file:ds-onboard-\d+\.\d+\.\d+\.tgz$/);
    expect(existsSync(dep.tarball!)).toBe(true);
  }, 60_000);
});
