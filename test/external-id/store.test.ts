import type * as fs from "node:fs";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStored, StoredFileConflictError, StoredFileReadError, type StoredLocation, writeStored } from "../../src/external-id/store";

const ID = "5c1b9e0a-7d3f-4a2b-8c6d-1e2f3a4b5c6d";
const OTHER = "0a1b2c3d-0000-4000-8000-000000000000";
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ds-store-"));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string): StoredLocation => ({ kind: "file", path: join(dir, name) });
const mode = (path: string) => statSync(path).mode & 0o777;

/** Makes the file unreadable: by its mode, and (as root ignores modes) by failing the read as the OS would. */
function lockFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o000 });
  if (process.getuid?.() !== 0) return;
  // The module object itself (an `import *` gives a copy): store.ts reads through it.
  const nodeFs = require("node:fs") as typeof fs;
  const real = nodeFs.readFileSync;
  jest.spyOn(nodeFs, "readFileSync").mockImplementation(((p: fs.PathOrFileDescriptor, o?: unknown) => {
    if (p === path) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES" });
    return real(p, o as BufferEncoding);
  }) as typeof fs.readFileSync);
}
afterEach(() => jest.restoreAllMocks());

async function thrown(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("writeStored to file:", () => {
  it("writes a new file with mode 0600, and reads it back", async () => {
    const loc = file("id.txt");
    await writeStored(loc, ID);
    expect(readFileSync(join(dir, "id.txt"), "utf8")).toBe(`${ID}\n`);
    expect(mode(join(dir, "id.txt"))).toBe(0o600);
    expect(await readStored(loc)).toBe(ID);
  });

  it("rewrites a file that holds the same ID, making it 0600", async () => {
    const path = join(dir, "id.txt");
    writeFileSync(path, `  ${ID}\n\n`, { mode: 0o644 });
    await writeStored(file("id.txt"), ID);
    expect(mode(path)).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe(`${ID}\n`);
  });

  it("refuses to replace a file that holds another ID: a named error, nothing written", async () => {
    const path = join(dir, "id.txt");
    writeFileSync(path, `${OTHER}\n`, { mode: 0o640 });
    const e = await thrown(writeStored(file("id.txt"), ID));
    expect(e).toBeInstanceOf(StoredFileConflictError);
    expect(e).toMatchObject({ path, found: "another value", exitCode: 2 });
    expect(e.message).toMatch(new RegExp(`^Nothing was written: ${path} already exists and holds something other than this external ID`));
    expect(e.message).not.toContain(OTHER);
    expect(e.message).not.toContain(ID);
    expect(readFileSync(path, "utf8")).toBe(`${OTHER}\n`);
    expect(mode(path)).toBe(0o640);
  });

  it("refuses to replace any other data (a config, a key) too", async () => {
    const path = join(dir, "config.yaml");
    writeFileSync(path, "accounts:\n  - 111122223333\n");
    await expect(writeStored(file("config.yaml"), ID)).rejects.toBeInstanceOf(StoredFileConflictError);
    expect(readFileSync(path, "utf8")).toBe("accounts:\n  - 111122223333\n");
  });

  it("replaces it with force, as 0600", async () => {
    const path = join(dir, "id.txt");
    writeFileSync(path, `${OTHER}\n`, { mode: 0o644 });
    await writeStored(file("id.txt"), ID, { force: true });
    expect(readFileSync(path, "utf8")).toBe(`${ID}\n`);
    expect(mode(path)).toBe(0o600);
  });

  it("never replaces a folder, even with force", async () => {
    mkdirSync(join(dir, "sub"));
    const e = await thrown(writeStored(file("sub"), ID, { force: true }));
    expect(e).toBeInstanceOf(StoredFileConflictError);
    expect(e.message).toMatch(/exists and is not a regular file/);
    expect(statSync(join(dir, "sub")).isDirectory()).toBe(true);
  });

  it("refuses to replace a file it cannot read to compare", async () => {
    const path = join(dir, "locked.txt");
    lockFile(path, `${OTHER}\n`);
    const e = await thrown(writeStored(file("locked.txt"), ID));
    expect(e).toMatchObject({ found: "an unreadable file" });
    jest.restoreAllMocks();
    chmodSync(path, 0o600);
    expect(readFileSync(path, "utf8")).toBe(`${OTHER}\n`);
  });

  it("follows the check through a symbolic link", async () => {
    writeFileSync(join(dir, "real.txt"), `${OTHER}\n`);
    symlinkSync(join(dir, "real.txt"), join(dir, "link.txt"));
    await expect(writeStored(file("link.txt"), ID)).rejects.toBeInstanceOf(StoredFileConflictError);
    expect(readFileSync(join(dir, "real.txt"), "utf8")).toBe(`${OTHER}\n`);
  });
});

describe("readStored from file:", () => {
  it("a missing file: which file, and what to do", async () => {
    const e = await thrown(readStored(file("missing.txt")));
    expect(e).toBeInstanceOf(StoredFileReadError);
    expect(e).toMatchObject({ problem: "missing", exitCode: 2 });
    expect(e.message).toMatch(/missing\.txt does not exist\. Store the ID first/);
  });

  it("a folder", async () => {
    mkdirSync(join(dir, "ids"));
    const e = await thrown(readStored(file("ids")));
    expect(e).toMatchObject({ problem: "directory" });
    expect(e.message).toMatch(/ids is a folder, not a file\. Name the file inside it/);
  });

  it("an empty file (or white space only)", async () => {
    writeFileSync(join(dir, "empty.txt"), " \n\t\n");
    const e = await thrown(readStored(file("empty.txt")));
    expect(e).toMatchObject({ problem: "empty" });
    expect(e.message).toMatch(/empty\.txt is empty\. Store the ID there again/);
  });

  it("a file it may not read", async () => {
    lockFile(join(dir, "locked.txt"), ID);
    const e = await thrown(readStored(file("locked.txt")));
    expect(e).toMatchObject({ problem: "unreadable" });
    expect(e.message).toMatch(/locked\.txt cannot be read \(EACCES\)\. Check its permissions/);
  });

  it("a path through a file (not a folder)", async () => {
    writeFileSync(join(dir, "plain"), "x");
    const e = await thrown(readStored(file("plain/id.txt")));
    expect(e).toMatchObject({ problem: "missing" });
  });
});
