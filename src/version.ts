import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** This package's folder (found from here upward: works from src/ and dist/). */
export function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "ds-onboard") return dir;
    if (dirname(dir) === dir) throw new Error("internal error: the ds-onboard package.json was not found above its code");
  }
}

/** This package's version, from its package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}
