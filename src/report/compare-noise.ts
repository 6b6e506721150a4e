/**
 * When a change between two rehearsals is a change and not run-to-run noise. Every metric has a stated
 * threshold (a relative one and an absolute floor); the load's latency and throughput thresholds widen to
 * twice the noise each run measured in its own warmup, where nothing but the load ran: a p99 that wobbles by
 * 30 % from second to second before the migration starts says nothing when it moves 20 % during it. Counts
 * of what happened (load errors, rows scanned under ACCESS EXCLUSIVE) have no noise: any increase counts.
 * Pure.
 */
import type { RunReport } from "./model.ts";

/** A change counts when |B − A| exceeds `floor` and, when A is not 0, |B − A| / A exceeds `pct` %. */
export interface Significance {
  pct: number;
  floor: number;
}

export type ComparedMetric =
  "duration" | "latency" | "throughput" | "errors" | "rows_scanned" | "waiters" | "lock_hold";

/** The stated thresholds, before the warmup's noise widens the load's. */
export const STATED: Record<ComparedMetric, Significance> = {
  duration: { pct: 10, floor: 50 },
  latency: { pct: 10, floor: 2 },
  throughput: { pct: 10, floor: 0 },
  errors: { pct: 0, floor: 0 },
  rows_scanned: { pct: 0, floor: 0 },
  // One request more or less blocked at a sampled instant is the sampler's timing, not the migration's.
  waiters: { pct: 0, floor: 1 },
  lock_hold: { pct: 10, floor: 20 },
};

/** The seconds the noise is read from need at least this many points to say anything. */
const MIN_SECONDS = 3;

export interface RunNoise {
  /** Warmup seconds the estimate used (the first, a ramp, left out). */
  seconds: number;
  /** Coefficient of variation of writes per second, and of the per-second write p99, in %. */
  throughput_pct?: number;
  p99_pct?: number;
}

function cvPct(xs: number[]): number | undefined {
  if (xs.length < MIN_SECONDS) return undefined;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  if (mean <= 0) return undefined;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
  return (sd / mean) * 100;
}

/**
 * The load's own noise in a run's warmup: the per-second series (second t covers [t, t+1) s of the run, like
 * the windows' ms) over the seconds wholly inside the warmup window, the first of them (a ramp) left out.
 */
export function warmupNoise(r: RunReport): RunNoise {
  const w = r.load?.windows.find((x) => x.section === "warmup" && x.kind === "write" && x.step === null);
  if (!r.load || !w) return { seconds: 0 };
  const first = Math.ceil(w.started_ms / 1000) + 1;
  const end = Math.floor(w.ended_ms / 1000);
  const secs = r.load.series.filter((s) => s.t >= first && s.t < end && s.writes > 0);
  const out: RunNoise = { seconds: secs.length };
  const tp = cvPct(secs.map((s) => s.writes));
  const p99 = cvPct(secs.map((s) => s.write_p99));
  if (tp !== undefined) out.throughput_pct = Math.round(tp * 10) / 10;
  if (p99 !== undefined) out.p99_pct = Math.round(p99 * 10) / 10;
  return out;
}

/** The thresholds for this pair: the stated ones, the load's widened to twice the larger run's noise. */
export function thresholds(
  a: RunNoise,
  b: RunNoise,
): { significance: Record<ComparedMetric, Significance>; text: string } {
  const wider = (base: Significance, ...noise: (number | undefined)[]): Significance => {
    const n = Math.max(0, ...noise.filter((x): x is number => x !== undefined));
    return { ...base, pct: Math.max(base.pct, Math.round(2 * n)) };
  };
  const significance = {
    ...STATED,
    latency: wider(STATED.latency, a.p99_pct, b.p99_pct),
    throughput: wider(STATED.throughput, a.throughput_pct, b.throughput_pct),
  };
  const noise =
    a.seconds >= MIN_SECONDS || b.seconds >= MIN_SECONDS
      ? `warmup noise (per-second CV): write p99 ${pct(a.p99_pct)} / ${pct(b.p99_pct)}, throughput ${pct(a.throughput_pct)} / ${pct(b.throughput_pct)} (A / B)`
      : "no warmup long enough to estimate the load's noise";
  const text =
    `⚠ marks a change for the worse beyond the noise: durations over ${significance.duration.pct}% and ${significance.duration.floor} ms, ` +
    `write latency over ${significance.latency.pct}% and ${significance.latency.floor} ms, throughput over ${significance.throughput.pct}%, ` +
    `lock holds over ${significance.lock_hold.pct}% and ${significance.lock_hold.floor} ms, blocked requests by more than ${significance.waiters.floor}, ` +
    `any more load errors or rows scanned under ACCESS EXCLUSIVE; ${noise}.`;
  return { significance, text };
}

const pct = (v: number | undefined) => (v === undefined ? "-" : `${v}%`);
