/**
 * Open-model arrivals: when each request is *meant* to start, independent of when earlier ones complete.
 * That independence is what makes latency honest: a stall delays completions, never the schedule, so every
 * request caught behind it is measured from its intended start (no coordinated omission).
 *
 * A rate is a constant (operations per second) or k6-style ramping stages: each stage moves the rate linearly
 * from the previous stage's target (0 before the first) to its own target over its duration; after the last
 * stage the rate holds at the last target (the load runs as long as the migration, whose length is unknown).
 *
 * The k-th arrival (k = 0, 1, …) is at the time t where the expected count ∫₀ᵗ rate = k, computed in closed
 * form per stage, never by accumulating intervals, so long runs do not drift.
 *
 * Poisson arrivals (an option for programmatic use, e.g. to reproduce `pgbench --rate`, whose transaction
 * starts follow a Poisson process) use the same mapping with k advancing by exponentially distributed steps
 * of mean 1 instead of by 1: the time-rescaling construction of a Poisson process with that (varying) rate.
 *
 * A segment's share (share.ts) takes every `of`-th arrival from the `index`-th: k advances by `of`. Poisson
 * shares advance by steps of mean `of`: `of` independent Poisson processes of rate/of add up to one of rate.
 */

import { type Share, WHOLE } from "./share.ts";

export type RateSpec = number | { stages: { duration: number; target: number }[] };

export type ArrivalProcess = "uniform" | "poisson";

interface Segment {
  /** Start of the segment, seconds since the schedule's start. */
  t0: number;
  duration: number;
  r0: number;
  r1: number;
  /** Arrivals expected before the segment starts. */
  c0: number;
}

export class ArrivalSchedule {
  readonly #segments: Segment[] = [];
  /** Rate after the last stage (per second), and where the tail starts. */
  readonly #tailRate: number;
  readonly #tailT0: number;
  readonly #tailC0: number;
  #k = 0;
  #n = 0;
  #seg = 0;
  readonly #poisson: boolean;
  readonly #stride: number;

  constructor(
    rate: RateSpec,
    process: ArrivalProcess = "uniform",
    private readonly random: () => number = Math.random,
    share: Share = WHOLE,
  ) {
    this.#poisson = process === "poisson";
    this.#stride = share.of;
    this.#k = share.index;
    if (typeof rate === "number") {
      if (!(rate > 0)) throw new RangeError("a constant rate must be above zero");
      this.#tailRate = rate;
      this.#tailT0 = 0;
      this.#tailC0 = 0;
      return;
    }
    let t = 0;
    let c = 0;
    let prev = 0;
    for (const s of rate.stages) {
      const d = s.duration / 1000;
      if (d > 0) {
        this.#segments.push({ t0: t, duration: d, r0: prev, r1: s.target, c0: c });
        c += ((prev + s.target) / 2) * d;
        t += d;
      }
      prev = s.target;
    }
    this.#tailRate = prev;
    this.#tailT0 = t;
    this.#tailC0 = c;
  }

  /** Intended start of the k-th arrival, ms since the schedule's start (Infinity: none, the rate is 0). */
  timeOf(k: number): number {
    let i = 0;
    while (i < this.#segments.length && this.#end(i) <= k) i++;
    return this.#within(i, k);
  }

  /** The next arrival's intended start, ms since the schedule's start; Infinity when the rate stays at 0. */
  next(): number {
    const k = this.#k;
    this.#k += this.#poisson ? -Math.log(1 - this.random()) * this.#stride : this.#stride;
    this.#n++;
    while (this.#seg < this.#segments.length && this.#end(this.#seg) <= k) this.#seg++;
    return this.#within(this.#seg, k);
  }

  /** Arrivals handed out so far. */
  get count(): number {
    return this.#n;
  }

  /** Expected arrivals by the end of segment i. */
  #end(i: number): number {
    const s = this.#segments[i]!;
    return s.c0 + ((s.r0 + s.r1) / 2) * s.duration;
  }

  #within(i: number, k: number): number {
    const s = this.#segments[i];
    if (!s) {
      if (this.#tailRate <= 0) return Infinity;
      return (this.#tailT0 + (k - this.#tailC0) / this.#tailRate) * 1000;
    }
    // Solve c0 + r0·u + (r1 − r0)·u²/(2D) = k for u in [0, D]; the rationalised root is stable when the
    // ramp is flat (a → 0) and when it goes down (a < 0).
    const x = k - s.c0;
    if (x <= 0) return s.t0 * 1000;
    const a = (s.r1 - s.r0) / (2 * s.duration);
    const b = s.r0;
    const u = (2 * x) / (b + Math.sqrt(Math.max(0, b * b + 4 * a * x)));
    return (s.t0 + Math.min(u, s.duration)) * 1000;
  }
}

/** The configured rate as the report shows it: a number, or the stages with durations in ms. */
export function describeRate(rate: RateSpec): number | { duration_ms: number; target: number }[] {
  return typeof rate === "number"
    ? rate
    : rate.stages.map((s) => ({ duration_ms: s.duration, target: s.target }));
}
