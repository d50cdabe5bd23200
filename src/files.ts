/**
 * Files written so that a reader never sees half of one: write a temporary file beside the
 * target, then rename it over the target (atomic on POSIX file systems).
 */
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";

export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(temp, content, { mode, flag: "wx" });
    chmodSync(temp, mode); // the umask may have narrowed or widened nothing; be explicit
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Moves a staged output folder into place file by file, each with an atomic rename, so that a
 * reader sees the old or the new version of each file and never a mix within one. Files the
 * staging does not have (a stack folder's .terraform, lock files) are left alone. `last`: files
 * that index the others (a manifest), moved after them.
 */
export function publishDirectory(staging: string, outdir: string, last: (file: string) => boolean = () => false): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
  const files = walk(staging).sort((a, b) => Number(last(a)) - Number(last(b)));
  for (const file of files) {
    const target = join(outdir, relative(staging, file));
    mkdirSync(dirname(target), { recursive: true });
    renameSync(file, target);
  }
}
