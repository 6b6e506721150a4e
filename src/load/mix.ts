/**
 * The write mix's pick: which operation each write arrival runs, by weight. Deterministic from the run's seed
 * (dataset.seed), so two runs of a scenario send the same sequence of operations and a report can be compared
 * with the last one; the sequence depends only on the arrival's index, never on timing or on what failed.
 */

/** mulberry32: a tiny, fast 32-bit generator; plenty for spreading arrivals over a handful of operations. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WeightedPick {
  /** Cumulative shares, the last one exactly 1. */
  readonly #bounds: Float64Array;
  readonly #random: () => number;

  /** `weights` must be positive and finite (the format checks); the seed is the run's dataset.seed. */
  constructor(weights: readonly number[], seed: number) {
    if (weights.length === 0 || weights.some((w) => !(w > 0) || !Number.isFinite(w)))
      throw new RangeError("a write mix needs at least one operation, every weight above zero");
    const total = weights.reduce((a, b) => a + b, 0);
    let sum = 0;
    this.#bounds = Float64Array.from(weights, (w) => (sum += w) / total);
    this.#bounds[weights.length - 1] = 1;
    // A different stream from the dataset's generators, which take the same seed.
    this.#random = mulberry32(Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d));
  }

  /** The next arrival's operation index. A mix of one costs no draw. */
  next(): number {
    const b = this.#bounds;
    if (b.length === 1) return 0;
    const r = this.#random();
    let i = 0;
    while (r >= b[i]!) i++;
    return i;
  }
}

/** Per-operation counts for report.json's load.operations[]. */
export interface OperationCounts {
  name: string;
  weight: number;
  /** weight / the sum of the weights: the share of write arrivals it was meant to get. */
  share: number;
  /** Write arrivals picked for it (paused and dropped ones included). */
  intended: number;
  ok: number;
  errors: number;
  dropped: number;
}

/** What each operation of the mix did, counted by the engine as requests arrive and complete. */
export class MixTally {
  readonly intended: Float64Array;
  readonly ok: Float64Array;
  readonly errors: Float64Array;
  readonly dropped: Float64Array;

  constructor(operations: number) {
    this.intended = new Float64Array(operations);
    this.ok = new Float64Array(operations);
    this.errors = new Float64Array(operations);
    this.dropped = new Float64Array(operations);
  }

  report(ops: readonly { name: string; weight: number }[]): OperationCounts[] {
    const total = ops.reduce((a, o) => a + o.weight, 0);
    return ops.map((o, i) => ({
      name: o.name,
      weight: o.weight,
      share: Math.round((o.weight / total) * 10_000) / 10_000,
      intended: this.intended[i]!,
      ok: this.ok[i]!,
      errors: this.errors[i]!,
      dropped: this.dropped[i]!,
    }));
  }
}
