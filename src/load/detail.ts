/**
 * The sub-second view of each migration and rollback step (report.json `load.detail[]`): the per-second
 * series squeezes a 100 ms cutover into one point, so each step window also gets buckets fine enough to show
 * it, in bounded memory.
 *
 * A track per step: it starts LEAD_MS before the step (from a small ring of recent completions) and ends
 * TAIL_MS after it (the writes a lock release lets through finish just after the step). Buckets start at
 * 10 ms and double whenever the track would need more than MAX_BUCKETS, so a 100 ms cutover keeps 10 ms
 * buckets and an hour-long backfill gets about 256 buckets of ~16 s: at most MAX_BUCKETS buckets, each a
 * fixed log histogram (8 bins per octave), per open track; a track is reduced to its points when it ends.
 *
 * Like the per-second series, a write counts in the bucket it *completed* in, and latency is from its
 * intended start, successful writes only; failed writes are counted as errors. Quantiles come from the
 * bins: at most one bin (9 %) above the exact value, and never above the bucket's exact maximum.
 */
import type { LoadDetail, LoadDetailPoint } from "../report/model.ts";

export const FIRST_BUCKET_MS = 10;
export const MAX_BUCKETS = 256;
export const LEAD_MS = 500;
export const TAIL_MS = 500;
/** Recent write completions kept to give a new track its lead (older ones fall off). */
const RING = 4096;

// Bin 0 holds [0, 16 µs); bin k ≥ 1 holds [16 µs · 2^((k-1)/8), 16 µs · 2^(k/8)); the last bin everything
// from ~67 s up.
const BINS_PER_OCTAVE = 8;
const BIN_FLOOR_US = 16;
const BINS = 1 + BINS_PER_OCTAVE * 22;

function binOf(us: number): number {
  if (us < BIN_FLOOR_US) return 0;
  return Math.min(BINS - 1, Math.floor(BINS_PER_OCTAVE * Math.log2(us / BIN_FLOOR_US)) + 1);
}

const upperEdgeUs = (bin: number) => BIN_FLOOR_US * 2 ** (bin / BINS_PER_OCTAVE);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

class Bucket {
  writes = 0;
  errors = 0;
  maxUs = 0;
  bins: Uint32Array | null = null;

  add(us: number, error: boolean): void {
    if (error) {
      this.errors++;
      return;
    }
    this.writes++;
    if (us > this.maxUs) this.maxUs = us;
    (this.bins ??= new Uint32Array(BINS))[binOf(us)]!++;
  }

  merge(o: Bucket): void {
    this.writes += o.writes;
    this.errors += o.errors;
    this.maxUs = Math.max(this.maxUs, o.maxUs);
    if (!o.bins) return;
    const bins = (this.bins ??= new Uint32Array(BINS));
    for (let i = 0; i < BINS; i++) bins[i]! += o.bins[i]!;
  }

  /** The q-quantile (0..1) of the successful writes' latency, ms. */
  quantile(q: number): number {
    if (!this.bins || this.writes === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.writes));
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      seen += this.bins[i]!;
      if (seen >= rank) return round3(Math.min(upperEdgeUs(i), this.maxUs) / 1000);
    }
    return round3(this.maxUs / 1000);
  }
}

/** One step's track. Times are performance.now() values until `points`. */
class Track {
  res = FIRST_BUCKET_MS;
  buckets: (Bucket | undefined)[] = [];
  ended: number | null = null;
  constructor(
    readonly section: "migration" | "rollback",
    readonly phase: string,
    readonly step: string,
    readonly origin: number,
    readonly started: number,
  ) {}

  /** Still taking completions at `t`: open, or within TAIL_MS of its end. */
  takes(t: number): boolean {
    return t >= this.origin && (this.ended === null || t < this.ended + TAIL_MS);
  }

  add(done: number, us: number, error: boolean): void {
    let i = Math.floor((done - this.origin) / this.res);
    while (i >= MAX_BUCKETS) {
      this.#coarsen();
      i = Math.floor((done - this.origin) / this.res);
    }
    (this.buckets[i] ??= new Bucket()).add(us, error);
  }

  /** Twice as wide buckets, pairs merged: what keeps a long step's track at MAX_BUCKETS. */
  #coarsen(): void {
    const next: (Bucket | undefined)[] = [];
    this.buckets.forEach((b, i) => {
      if (!b) return;
      const j = i >> 1;
      if (next[j]) next[j].merge(b);
      else next[j] = b;
    });
    this.buckets = next;
    this.res *= 2;
  }

  report(t0: number, now: number): LoadDetail {
    const ms = (t: number) => round3(t - t0);
    const ended = this.ended ?? now;
    const points: LoadDetailPoint[] = [];
    this.buckets.forEach((b, i) => {
      if (!b) return;
      points.push({
        t_ms: ms(this.origin + i * this.res),
        writes: b.writes,
        errors: b.errors,
        write_p50: b.quantile(0.5),
        write_p99: b.quantile(0.99),
        write_max: round3(b.maxUs / 1000),
      });
    });
    return {
      section: this.section,
      phase: this.phase,
      step: this.step,
      started_ms: ms(this.started),
      ended_ms: ms(ended),
      from_ms: ms(this.origin),
      to_ms: ms(Math.min(now, ended + TAIL_MS)),
      bucket_ms: this.res,
      points,
    };
  }
}

/** Every step's track, fed with each write completion (see the file comment). */
export class DetailTracks {
  readonly #t0: number;
  readonly #start: number;
  readonly #open: Track[] = [];
  readonly #done: LoadDetail[] = [];
  // The ring of recent completions: done time, latency µs (negative: an error).
  readonly #ringT = new Float64Array(RING);
  readonly #ringUs = new Float64Array(RING);
  #ringN = 0;

  /** t0: the run's time origin; start: when this load started (no track reaches back before it). */
  constructor(t0: number, start = t0) {
    this.#t0 = t0;
    this.#start = start;
  }

  /** A step window opened at `now`: its track starts LEAD_MS earlier, with what completed since then. */
  open(section: "migration" | "rollback", phase: string, step: string, now: number): void {
    const oldest = this.#ringN >= RING ? this.#ringT[this.#ringN % RING]! : -Infinity;
    const origin = Math.max(now - LEAD_MS, oldest, this.#start);
    const track = new Track(section, phase, step, origin, now);
    for (let k = Math.max(0, this.#ringN - RING); k < this.#ringN; k++) {
      const t = this.#ringT[k % RING]!;
      const us = this.#ringUs[k % RING]!;
      if (t >= origin) track.add(t, Math.abs(us), us < 0);
    }
    this.#open.push(track);
  }

  /** The step window that opened last ended at `now`. */
  close(now: number): void {
    const track = this.#open.findLast((t) => t.ended === null);
    if (track) track.ended = now;
  }

  /** A write completed at `done` after `latencyMs` from its intended start (error: it failed). */
  complete(done: number, latencyMs: number, error: boolean): void {
    const us = Math.max(0, Math.round(latencyMs * 1000));
    const k = this.#ringN++ % RING;
    this.#ringT[k] = done;
    // -0 would read back as a success: a failed write of 0 µs is stored as -1 µs.
    this.#ringUs[k] = error ? -Math.max(1, us) : us;
    for (let i = this.#open.length - 1; i >= 0; i--) {
      const track = this.#open[i]!;
      if (track.takes(done)) track.add(done, us, error);
      else if (track.ended !== null && done >= track.ended + TAIL_MS) {
        // Past its tail: reduced to points now, so its histograms are freed.
        this.#done.push(track.report(this.#t0, done));
        this.#open.splice(i, 1);
      }
    }
  }

  /** Every track's points, in step order. */
  finish(now: number): LoadDetail[] {
    const all = [...this.#done, ...this.#open.map((t) => t.report(this.#t0, now))];
    this.#open.length = 0;
    return all.sort((a, b) => a.started_ms - b.started_ms);
  }
}
