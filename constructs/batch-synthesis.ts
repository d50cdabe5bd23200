/**
 * Synthesis of many independent stacks in bounded memory: the stacks are built and written a
 * batch at a time, each batch in its own `App` writing into the same output folder, and the
 * `manifest.json` of every batch is merged into one that lists every stack.
 *
 * One `App` holding every stack keeps every construct tree until `synth()` is done, and cdktf
 * keeps every token it ever made (a reference such as a role's ARN) in a process-wide map, with
 * the stack it points into: memory grows with the number of stacks. Here a batch's trees are
 * dropped once its files are written, and its tokens forgotten.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { App, type AppConfig } from "cdktf";

/** How {@link synthesizeInBatches} builds and writes the stacks. */
export interface BatchSynthesisOptions {
  /** The output folder, as the `outdir` of an `App`. */
  readonly outdir: string;
  /** How many items (each one or more stacks) there are. */
  readonly count: number;
  /** Items per `App`. */
  readonly batchSize: number;
  /** Adds to `app` the stacks of the items `start` to `end` (exclusive). */
  readonly build: (app: App, start: number, end: number) => void;
  /** The rest of each `App`'s configuration. @default cdktf's defaults */
  readonly app?: Omit<AppConfig, "outdir">;
  /**
   * Items between two full garbage collections (0: none): V8 collects lazily and lets garbage
   * pile up to several times what is live, so that the peak would drift up with the run's
   * length; a collection every few hundred stacks keeps it flat, for 1 to 2% of the time.
   * @default 500
   */
  readonly collectEvery?: number;
}

/** A stack's entry in cdktf's manifest.json (its fields are cdktf's own). */
type StackEntry = Record<string, unknown>;

interface CdktfManifest {
  readonly version: string;
  readonly stacks: Record<string, StackEntry>;
}

const MANIFEST = "manifest.json";

/**
 * Builds and synthesizes the items batch by batch into `outdir`; returns when every stack file
 * and the merged `manifest.json` are written. Items given in stack-name order give the manifest
 * one `App` would write.
 */
export function synthesizeInBatches(options: BatchSynthesisOptions): void {
  const { outdir, count, build } = options;
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  mkdirSync(outdir, { recursive: true });
  const merging = join(outdir, `.${MANIFEST}.${process.pid}.partial`);
  const fd = openSync(merging, "w");
  let closed = false;
  try {
    let version: string | undefined;
    let first = true;
    const collectEvery = options.collectEvery ?? 500;
    let sinceCollection = 0;
    writeSync(fd, '{\n  "stacks": {');
    for (let start = 0; start < count; start += batchSize) {
      const end = Math.min(count, start + batchSize);
      const mark = tokenMark();
      try {
        const app = new App({ ...options.app, outdir });
        build(app, start, end);
        app.synth();
      } finally {
        // The batch's stacks are written (or failed): nothing may resolve its tokens again.
        forgetTokensSince(mark);
      }
      sinceCollection += end - start;
      if (collectEvery > 0 && sinceCollection >= collectEvery && end < count) {
        fullGc()?.();
        sinceCollection = 0;
      }
      const manifest = JSON.parse(readFileSync(join(outdir, MANIFEST), "utf8")) as CdktfManifest;
      version = manifest.version;
      for (const name of Object.keys(manifest.stacks).sort()) {
        const entry = JSON.stringify(sortKeys(manifest.stacks[name]), null, 2).replace(/\n/g, "\n    ");
        writeSync(fd, `${first ? "" : ","}\n    ${JSON.stringify(name)}: ${entry}`);
        first = false;
      }
    }
    writeSync(fd, `${first ? "" : "\n  "}},\n  "version": ${JSON.stringify(version ?? "")}\n}`);
    closeSync(fd);
    closed = true;
    if (count > 0) renameSync(merging, join(outdir, MANIFEST));
  } finally {
    if (!closed) closeSync(fd);
    if (existsSync(merging)) rmSync(merging, { force: true });
  }
}

let gc: (() => void) | null | undefined;

/**
 * V8's full garbage collection: `global.gc` when Node runs with `--expose-gc`, else the same
 * function from a fresh context after turning the flag on (it then exists in new contexts
 * only). Undefined if neither works.
 */
function fullGc(): (() => void) | undefined {
  if (gc === undefined) {
    gc = (globalThis as { gc?: () => void }).gc ?? null;
    if (!gc) {
      try {
        setFlagsFromString("--expose-gc");
        const found: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
        gc = typeof found === "function" ? (found as () => void) : null;
      } catch {
        gc = null;
      }
    }
  }
  return gc ?? undefined;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, sortKeys(record[k])]),
  );
}

/**
 * cdktf's process-wide token map (`global.__cdktfTokenMap`, shared by every copy of cdktf and
 * of CDK Terrain in the process): every token ever made, by key, each holding what it refers
 * to. Undefined when its shape is not the one known here; then nothing is forgotten (memory
 * grows, the output does not change).
 */
interface TokenMapShape {
  readonly stringTokenMap: Map<string, unknown>;
  readonly numberTokenMap: Map<number, unknown>;
  readonly tokenCounter: number;
}

function tokenMap(): TokenMapShape | undefined {
  const map = (globalThis as { __cdktfTokenMap?: Partial<TokenMapShape> }).__cdktfTokenMap;
  return map && map.stringTokenMap instanceof Map && map.numberTokenMap instanceof Map && typeof map.tokenCounter === "number"
    ? (map as TokenMapShape)
    : undefined;
}

/** The counter of the next token: tokens made from now on have a number at least this. */
function tokenMark(): number {
  return tokenMap()?.tokenCounter ?? 0;
}

/**
 * Forgets the tokens made since `mark` (keys `<hint>.<counter>`, numbers by counter). Tokens
 * made before, such as those in the caller's props, stay.
 */
function forgetTokensSince(mark: number): void {
  const map = tokenMap();
  if (!map) return;
  for (const key of map.stringTokenMap.keys()) {
    const counter = Number(key.slice(key.lastIndexOf(".") + 1));
    if (Number.isInteger(counter) && counter >= mark) map.stringTokenMap.delete(key);
  }
  for (const counter of map.numberTokenMap.keys()) if (counter >= mark) map.numberTokenMap.delete(counter);
}
