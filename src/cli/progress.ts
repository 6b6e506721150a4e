/**
 * How `rehearse run` shows progress on stderr. Two views, one per file: plain timestamped lines (CI, pipes,
 * `--no-progress`) and a live status block redrawn in place on a terminal. Both are Loggers, so the rest of
 * the harness logs to them as before; the rehearsal adds structured events through `Logger.event`.
 */
import { PlainProgress } from "./progress-plain.ts";
import { TtyProgress } from "./progress-tty.ts";

import type { ProgressStream, ProgressView } from "./progress-view.ts";

export type { LoadSnapshot, ProgressEvent } from "../index.ts";
export type { ProgressStream, ProgressView } from "./progress-view.ts";

export interface ProgressViewOptions {
  debug?: boolean;
  quiet?: boolean;
  /** `--no-progress`: plain lines even on a terminal. */
  noProgress?: boolean;
  stream?: ProgressStream;
  env?: NodeJS.ProcessEnv;
}

/** Whether a live view fits: a terminal, not CI, not asked for plain lines, not quiet. */
export function wantsLiveProgress(o: ProgressViewOptions): boolean {
  const stream = o.stream ?? process.stderr;
  const env = o.env ?? process.env;
  const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false" && env.CI !== "0";
  return stream.isTTY === true && !ci && !o.noProgress && !o.quiet;
}

export function createProgressView(o: ProgressViewOptions = {}): ProgressView {
  const stream = o.stream ?? process.stderr;
  if (!wantsLiveProgress(o)) return new PlainProgress({ stream, debug: o.debug, quiet: o.quiet });
  const view = new TtyProgress({ stream, debug: o.debug });
  // A crash or a signal must not leave a half-drawn block under the shell prompt.
  process.once("exit", () => view.finish());
  return view;
}
