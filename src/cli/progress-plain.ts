/** Today's behaviour: timestamped, redacted lines; progress lines throttled. Greppable in CI logs. */
import { createLogger, type Logger, type ProgressEvent } from "../util/logger.ts";
import type { ProgressStream, ProgressView } from "./progress.ts";

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
  /** The lines already say everything the events carry (stages, steps, seeding): nothing more to print. */
  event(_e: ProgressEvent): void {}
  finish(): void {}
}
