/** A progress bar on a terminal; one line per step otherwise (both on stderr). */
import type { Io } from "./io";

export interface Progress {
  tick(line: string): void;
  stop(): void;
}

export function progress(io: Io, total: number, label: string): Progress {
  if (io.stderrIsTty && !io.verbose && io.mode === "text") {
    const { SingleBar, Presets } = require("cli-progress") as typeof import("cli-progress");
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} {last}`, stream: io.progressStream, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0, { last: "" });
    return { tick: (line) => bar.increment(1, { last: line }), stop: () => bar.stop() };
  }
  return { tick: (line) => io.info(line), stop: () => undefined };
}
