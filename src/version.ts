import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** This package's version, from its package.json (found from here upward: works from src/ and dist/). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ds-onboard" && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return "0.0.0";
  }
}
