/** The CLI shows a running backfill's progress: at most once a second, with the share done and an ETA. */
import { keysIn, type Range } from "./state.ts";

/** Progress of a running backfill, reported at most once a second. */
export interface BackfillProgress {
  /** "phase/step". */
  step: string;
  rows: number;
  rowsPerS: number;
  /** Share of the key range done, 0…1. */
  fraction: number;
  /** Estimated ms left, from the key range still to cover; absent until there is a rate. */
  etaMs?: number;
}

export class ProgressPacer {
  readonly #keysTotal: number;
  #last: number;

  /** `ranges` are the workers' own, read as they advance; `t0` and `now` are Clock ms. */
  constructor(
    private readonly stepId: string,
    private readonly ranges: Range[],
    private readonly t0: number,
    private readonly onProgress: ((p: BackfillProgress) => void) | undefined,
    now: number,
  ) {
    this.#keysTotal = keysIn(ranges);
    this.#last = now;
  }

  /** After a committed batch: reports `rows` (this run's) if a second has passed since the last report. */
  afterCommit(now: number, rows: number): void {
    if (!this.onProgress || now - this.#last < 1000) return;
    this.#last = now;
    const done = this.ranges.reduce((n, r) => n + (r.next - r.from), 0);
    const fraction = this.#keysTotal > 0 ? done / this.#keysTotal : 1;
    const ms = now - this.t0;
    this.onProgress({
      step: this.stepId,
      rows,
      rowsPerS: ms > 0 ? rows / (ms / 1000) : 0,
      fraction,
      etaMs: fraction > 0 && fraction < 1 ? (ms * (1 - fraction)) / fraction : undefined,
    });
  }
}
