/**
 * Running the `terraform` command line from the library (the demo deploys its synthesized
 * stacks with it when it can): finding the binary on PATH, running a subcommand with a
 * deadline, and reading Terraform's error out of its output.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { stripControl } from "../redact";

/** `terraform` on the PATH of `env`, or undefined. */
export function findTerraformOnPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const names = process.platform === "win32" ? ["terraform.exe"] : ["terraform"];
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = join(dir, name);
      try {
        if (!statSync(candidate).isFile()) continue;
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export interface TerraformRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
  /** The deadline passed and the process was killed. */
  readonly timedOut: boolean;
}

export interface TerraformRunOptions {
  readonly cwd: string;
  /** The whole environment of the run. */
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds before the run is killed (SIGTERM, then SIGKILL 5 s later). @default none */
  readonly timeoutMs?: number;
}

/** Runs `terraform <args>`; resolves with the exit code and output, never rejects for a non-zero exit. */
export function runTerraform(binary: string, args: readonly string[], options: TerraformRunOptions): Promise<TerraformRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
            kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
            kill.unref();
          }, options.timeoutMs);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      if (kill) clearTimeout(kill);
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: Date.now() - started,
        timedOut,
      });
    });
  });
}

/**
 * Terraform's error from a failed run, on one line: the first `Error:` summary and the paragraph
 * of detail after it (from `-no-color` output), at most `max` characters.
 */
export function terraformError(run: Pick<TerraformRun, "stdout" | "stderr">, max = 300): string {
  const text = stripControl(`${run.stderr}\n${run.stdout}`, { keepNewlines: true });
  const lines = text.split("\n").map((l) => l.replace(/^[\s│╷╵]+/, "").trim());
  const at = lines.findIndex((l) => l.startsWith("Error:"));
  let picked: string[];
  if (at < 0) picked = lines.filter((l) => l !== "").slice(0, 3);
  else {
    // The summary, then the detail up to the next blank line.
    const detailStart = lines.findIndex((l, i) => i > at && l !== "");
    const detailEnd = detailStart < 0 ? -1 : lines.findIndex((l, i) => i > detailStart && l === "");
    picked = [
      lines[at].replace(/^Error:\s*/, ""),
      ...(detailStart < 0 ? [] : lines.slice(detailStart, detailEnd < 0 ? undefined : detailEnd)),
    ];
  }
  const one = picked.join(" ").replace(/\s+/g, " ").trim() || "no output";
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
