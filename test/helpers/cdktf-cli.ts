/**
 * cdktf-cli for the tests that run `cdktf deploy` for real. It is not a dependency of this
 * repository (423 MB; users who deploy with it bring it themselves), so it is installed once
 * from the npm registry into a cache folder outside the repository and reused from there:
 * `~/.cache/ds-onboard-test/cdktf-cli-<version>`, or `$DS_ONBOARD_TEST_CACHE/cdktf-cli-<version>`.
 *
 * The install goes to a temporary sibling folder first and is renamed into place when complete,
 * so an interrupted install is never mistaken for a finished one and two test files installing
 * at once do not trip over each other.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const CDKTF_CLI_VERSION = "0.21.0";

/** A cold install from the registry takes 25 to 40 s; from a warm npm cache, less. */
export const CDKTF_CLI_INSTALL_TIMEOUT_MS = 5 * 60_000;

export interface CdktfCli {
  /** The folder the CLI is installed in (`<dir>/node_modules/cdktf-cli`). */
  readonly dir: string;
  /** The CLI's entry script; run it with `node`. */
  readonly script: string;
  readonly version: string;
  /** Whether this call installed it (false: it was in the cache already). */
  readonly installed: boolean;
  /** Wall time of this call, in milliseconds. */
  readonly ms: number;
}

/** Where cdktf-cli of `version` is (or will be) installed. */
export function cdktfCliDir(version = CDKTF_CLI_VERSION, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.DS_ONBOARD_TEST_CACHE || join(homedir(), ".cache", "ds-onboard-test");
  return join(cache, `cdktf-cli-${version}`);
}

function installedAt(dir: string, version: string): string | undefined {
  const manifest = join(dir, "node_modules", "cdktf-cli", "package.json");
  if (!existsSync(manifest)) return undefined;
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { version: string; bin: string | Record<string, string> };
  if (pkg.version !== version) return undefined;
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin.cdktf;
  const script = join(dir, "node_modules", "cdktf-cli", bin);
  return existsSync(script) ? script : undefined;
}

/**
 * cdktf-cli `version`, from the cache folder, installed there first when missing
 * (`npm install --prefix <dir> cdktf-cli@<version> --no-audit --no-fund`).
 */
export async function ensureCdktfCli(version = CDKTF_CLI_VERSION): Promise<CdktfCli> {
  const started = Date.now();
  const dir = cdktfCliDir(version);
  const found = installedAt(dir, version);
  if (found) return { dir, script: found, version, installed: false, ms: Date.now() - started };

  mkdirSync(join(dir, ".."), { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);
  await new Promise<void>((resolve, reject) => {
    execFile(
      "npm",
      ["install", "--prefix", partial, `cdktf-cli@${version}`, "--no-audit", "--no-fund", "--prefer-offline"],
      { timeout: CDKTF_CLI_INSTALL_TIMEOUT_MS, maxBuffer: 64 << 20, env: npmEnv() },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`npm install cdktf-cli@${version} into ${partial} failed: ${error.message}\n${stdout}\n${stderr}`))
          : resolve(),
    );
  }).catch((error: Error) => {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  });
  try {
    renameSync(partial, dir);
  } catch (error) {
    // Another test file finished first: use its copy.
    rmSync(partial, { recursive: true, force: true });
    if (!installedAt(dir, version)) throw error;
  }
  const script = installedAt(dir, version);
  if (!script) throw new Error(`cdktf-cli@${version} was installed into ${dir} but its entry script is missing`);
  return { dir, script, version, installed: true, ms: Date.now() - started };
}

/** This process's environment without npm's idea of the current project (so `--prefix` wins). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm_config_local_prefix|npm_config_prefix|npm_package_|npm_lifecycle_|npm_command$|INIT_CWD$)/.test(k)) env[k] = v;
  return env;
}

/**
 * The environment `cdktf` needs besides Terraform's own: nothing phones home (HashiCorp's
 * checkpoint, the version check) and cdktf leaves TF_PLUGIN_CACHE_DIR alone (by default it sets
 * it to ~/.terraform.d/plugin-cache, which would copy the provider out of the mirror).
 */
export const CDKTF_QUIET_ENV: Readonly<Record<string, string>> = {
  CHECKPOINT_DISABLE: "1",
  DISABLE_VERSION_CHECK: "1",
  CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1",
  CI: "1",
  FORCE_COLOR: "0",
};
