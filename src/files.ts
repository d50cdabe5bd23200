/**
 * Files written so that a reader never sees half of one: write a temporary file beside the
 * target, then rename it over the target (atomic on POSIX file systems).
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

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
