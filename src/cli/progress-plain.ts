/** Today's behaviour: timestamped, redacted lines; progress lines throttled. Greppable in CI logs. */
import { createLogger, type Logger, type ProgressEvent } from "../index.ts";
import type { ProgressStream, ProgressView } from "./progress-view.ts";

export interface PlainProgressOptions {
  stream: ProgressStream;
  debug?: boolean;
  quiet?: boolean;
  /** Minimum ms between progress lines (default 2000). */
  progressEveryMs?: number;
}

export class PlainProgress implements ProgressView {
  readonly #log: Logger;

  constructor(o: PlainProgressOptions) {
    this.#log = createLogger({
      debug: o.debug,
      quiet: o.quiet,
      progressEveryMs: o.progressEveryMs,
      write: (l) => o.stream.write(`${l}\n`),
    });
  }

  info(line: string): void {
    this.#log.info(line);
  }
  progress(line: string): void {
    this.#log.progress(line);
  }
  debug(line: string): void {
    this.#log.debug(line);
  }
  /**
   * Stage changes get one greppable line (`stage: seeding`), so a CI log — or a test waiting for a stage —
   * can tell where a run was; the other events repeat what the info and progress lines already say.
   */
  event(e: ProgressEvent): void {
    if (e.kind === "stage") this.#log.info(`stage: ${e.stage}`);
  }
  finish(): void {}
}
