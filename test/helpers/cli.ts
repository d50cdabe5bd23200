import { execFile } from "node:child_process";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { runCli as run } from "../../src/cli/main";

const BIN = join(__dirname, "..", "..", "bin", "ds-onboard.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment a run sees: only what is given, plus PATH and HOME, so that nothing from the developer's shell leaks in. */
function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const clean: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return clean;
}

class Capture extends Writable {
  text = "";
  isTTY = false;
  columns = 100;
  _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let running = false;

/**
 * Runs the CLI in this process, as `main` would, against captured streams and only the given
 * environment (swapped into process.env for the run: the AWS SDK reads it there). One run at a time.
 */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  if (running) throw new Error("runCli: one in-process run at a time; use runCliProcess for concurrent runs");
  running = true;
  const saved = process.env;
  process.env = cleanEnv(env);
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = Object.assign(Readable.from([]), { isTTY: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await Promise.race([
      run(args, { env: process.env, stdout, stderr, stdin }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`runCli ${args.join(" ")}: no result within ${options.timeoutMs ?? 60_000} ms`)),
          options.timeoutMs ?? 60_000,
        );
      }),
    ]);
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    clearTimeout(timer);
    process.env = saved;
    running = false;
  }
}

/**
 * Runs the built CLI (`npm test` builds first) in a child process with only the environment given
 * (plus PATH and HOME): for what only a process shows (exit codes of the program, signals, pipes).
 */
export function runCliProcess(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: cleanEnv(env), timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
