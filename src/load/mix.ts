/**
 * The write mix's pick: which operation each write arrival runs, by weight. Deterministic from the run's seed
 * (dataset.seed), so two runs of a scenario send the same sequence of operations and a report can be compared
 * with the last one; the sequence depends only on the arrival's index, never on timing or on what failed.
 */
import type { LoadReport } from "../report/model.ts";
import { streamFor, unit32 } from "../seed/random.ts";
import { type Share, WHOLE } from "./share.ts";

export class WeightedPick {
  /** Cumulative shares, the last one exactly 1. */
  readonly #bounds: Float64Array;
  readonly #random: () => number;
  /** Draws belonging to the other segments, skipped after each of ours. */
  readonly #skip: number;

  /**
   * `weights` must be positive and finite (the format checks); the seed is the run's dataset.seed. A segment's
   * share draws the picks of its own arrivals only, so the segments' picks together are one engine's.
   */
  constructor(weights: readonly number[], seed: number, share: Share = WHOLE) {
    if (weights.length === 0 || weights.some((w) => !(w > 0) || !Number.isFinite(w)))
      throw new RangeError("a write mix needs at least one operation, every weight above zero");
    const total = weights.reduce((a, b) => a + b, 0);
    let sum = 0;
    this.#bounds = Float64Array.from(weights, (w) => (sum += w) / total);
    this.#bounds[weights.length - 1] = 1;
    // The seeder's own generator (pure-rand), on a stream of its own: the dataset's columns take the same seed.
    const rng = streamFor(seed, "load", "write mix", 0);
    this.#random = () => unit32(rng);
    this.#skip = share.of - 1;
    if (weights.length > 1) for (let i = 0; i < share.index; i++) this.#random();
  }

  /** The next arrival's operation index. A mix of one costs no draw. */
  next(): number {
    const b = this.#bounds;
    if (b.length === 1) return 0;
    const r = this.#random();
    for (let s = 0; s < this.#skip; s++) this.#random();
    let i = 0;
    while (r >= b[i]!) i++;
    return i;
  }
}

/** Per-operation counts: one entry of report.json's load.operations[], defined once in the report model. */
export type OperationCounts = NonNullable<LoadReport["operations"]>[number];

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
