/**
 * A load split into segments (issue 18) must be the same load, measured the same way: the shares of the
 * arrivals and of the write mix add up to the whole, and the coordinator's merge of the segments' events
 * gives exactly the report one Measurements fed directly would give.
 */
import { describe, expect, it } from "vitest";
import { ArrivalSchedule } from "../../src/load/arrivals.ts";
import { Measurements, type Kind } from "../../src/load/measurements.ts";
import { WeightedPick } from "../../src/load/mix.ts";
import { EventMerger, EventRecorder, type EventBatch } from "../../src/load/segment-events.ts";
import { portion } from "../../src/load/share.ts";

describe("segment shares", () => {
  it("the segments' arrivals are the whole schedule's, each exactly once (constant and ramping rates)", () => {
    for (const rate of [
      250,
      {
        stages: [
          { duration: 2000, target: 400 },
          { duration: 1000, target: 50 },
        ],
      },
    ]) {
      const whole = new ArrivalSchedule(rate);
      const expected = Array.from({ length: 3000 }, () => whole.next());
      for (const of of [2, 3]) {
        const shares = Array.from(
          { length: of },
          (_, index) => new ArrivalSchedule(rate, "uniform", Math.random, { index, of }),
        );
        const merged = Array.from({ length: 3000 }, (_, k) => shares[k % of]!.next());
        expect(merged).toEqual(expected);
      }
    }
  });

  it("the segments' write-mix picks interleave into the whole sequence", () => {
    const weights = [5, 3, 2];
    const whole = new WeightedPick(weights, 42);
    const expected = Array.from({ length: 999 }, () => whole.next());
    const shares = [0, 1, 2].map((index) => new WeightedPick(weights, 42, { index, of: 3 }));
    expect(Array.from({ length: 999 }, (_, k) => shares[k % 3]!.next())).toEqual(expected);
  });

  it("connections and max_in_flight are split without losing any", () => {
    for (const [total, of] of [
      [8, 3],
      [4, 2],
      [5, 5],
      [7, 2],
    ] as const) {
      const parts = Array.from({ length: of }, (_, index) => portion(total, { index, of }));
      expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
      expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
    }
  });
});

/** A deterministic pseudo-random sequence (the test must fail the same way twice). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

type Call =
  | { seg: number; t: number; op: "demand"; kind: Kind; intended: number }
  | { seg: number; t: number; op: "dropped"; kind: Kind; intended: number; out: number }
  | {
      seg: number;
      t: number;
      op: "complete";
      kind: Kind;
      intended: number;
      sent: number;
      error: string | null;
      out: number;
    }
  | { seg: number; t: number; op: "inFlight"; n: number }
  | { seg: -1; t: number; op: "mark"; phase: string; step: string | null }
  | { seg: -1; t: number; op: "paused"; on: boolean };

/**
 * A simulated run of two segments: arrivals, completions (some failing, some far apart: a stall), drops,
 * in-flight samples, and the coordinator's marks and a pause, at distinct times. Each segment's counts are
 * its own; the direct run gets their sums, as one engine would have counted.
 */
function simulate(seed: number): Call[] {
  const rnd = lcg(seed);
  const calls: Call[] = [];
  const out = [
    [0, 0],
    [0, 0],
  ];
  const inflight = [0, 0];
  let t = 1000;
  const marks: [number, string, string | null][] = [
    [1800, "expand", "copy"],
    [2600, "cutover", "swap"],
    [3100, "cutover", null],
    [3500, "soak", null],
  ];
  for (let i = 0; i < 4000; i++) {
    // A 600 ms stall in the middle, writes waiting in both segments: one gap of the load, not two.
    if (i === 2000)
      for (const seg of [0, 1]) {
        t += 0.1;
        calls.push({ seg, t, op: "demand", kind: "write", intended: t });
        out[seg]![0]!++;
      }
    t += i === 2000 ? 600 : 0.2 + rnd();
    while (marks.length > 0 && marks[0]![0] < t) {
      const [at, phase, step] = marks.shift()!;
      calls.push({ seg: -1, t: at, op: "mark", phase, step });
    }
    if (i === 3000) calls.push({ seg: -1, t: t - 0.05, op: "paused", on: true });
    if (i === 3200) calls.push({ seg: -1, t: t - 0.05, op: "paused", on: false });
    const seg = rnd() < 0.5 ? 0 : 1;
    const kind: Kind = rnd() < 0.8 ? "write" : "read";
    const k = kind === "write" ? 0 : 1;
    const r = rnd();
    if (r < 0.4) {
      calls.push({ seg, t, op: "demand", kind, intended: t - rnd() });
      out[seg]![k]!++;
    } else if (r < 0.45) {
      out[seg]![k] = Math.max(0, out[seg]![k]! - 1);
      calls.push({ seg, t, op: "dropped", kind, intended: t - 5 * rnd(), out: out[seg]![k]! });
    } else if (r < 0.9) {
      out[seg]![k] = Math.max(0, out[seg]![k]! - 1);
      const intended = t - 50 * rnd();
      calls.push({
        seg,
        t,
        op: "complete",
        kind,
        intended,
        sent: intended + rnd(),
        error: rnd() < 0.05 ? (rnd() < 0.5 ? "40P01" : "23505") : null,
        out: out[seg]![k]!,
      });
    } else {
      inflight[seg] = Math.floor(10 * rnd());
      calls.push({ seg, t, op: "inFlight", n: inflight[seg]! });
    }
  }
  return calls;
}

describe("merging the segments' events", () => {
  it("gives exactly the windows, series, gaps and detail of one Measurements fed directly", () => {
    for (const seed of [1, 2, 3]) {
      const calls = simulate(seed);
      const start = 1000;
      const end = calls.at(-1)!.t + 10;

      // One engine: every call straight into Measurements, with the load's totals.
      const direct = new Measurements(0, start, true, 5000);
      const out = [
        [0, 0],
        [0, 0],
      ];
      const inflight = [0, 0];
      for (const c of calls) {
        if (c.op === "mark") direct.mark(c.phase, c.step, c.t);
        else if (c.op === "paused") direct.paused(c.on, c.t);
        else if (c.op === "demand") direct.demand(c.kind, c.intended);
        else if (c.op === "inFlight") {
          inflight[c.seg] = c.n;
          direct.inFlight(inflight[0]! + inflight[1]!, c.t);
        } else {
          const k = c.kind === "write" ? 0 : 1;
          out[c.seg]![k] = c.out;
          const sum = out[0]![k]! + out[1]![k]!;
          if (c.op === "dropped") direct.dropped(c.kind, c.intended, c.t, sum);
          else direct.complete(c.kind, c.intended, c.sent, c.t, c.error, sum);
        }
      }

      // Two segments on clocks of their own (offsets), batches flushed at random and delivered late and
      // interleaved; the coordinator's marks arrive before the segments' events that precede them.
      const merged = new Measurements(0, start, true, 5000);
      const acks: string[] = [];
      const merger = new EventMerger(2, merged, { ack: (k) => acks.push(k), unknown: () => {} });
      const offsets = [-123.25, 456.5];
      let now = 0;
      const pending: EventBatch[][] = [[], []];
      const recorders = [0, 1].map(
        (s) =>
          new EventRecorder(
            offsets[s]!,
            (b) => pending[s]!.push(b),
            () => now - offsets[s]!,
          ),
      );
      const rnd = lcg(seed + 100);
      const deliver = () => {
        for (const s of [0, 1]) if (rnd() < 0.3) for (const b of pending[s]!.splice(0)) merger.push(s, b);
      };
      for (const c of calls) {
        now = c.t;
        if (c.op === "mark" || c.op === "paused") {
          merger.local(c.t, (m) => (c.op === "mark" ? m.mark(c.phase, c.step, c.t) : m.paused(c.on, c.t)));
          continue;
        }
        const rec = recorders[c.seg]!;
        const o = offsets[c.seg]!;
        if (c.op === "demand") rec.demand(c.kind, c.intended - o);
        else if (c.op === "inFlight") rec.inFlight(c.n, c.t - o);
        else if (c.op === "dropped") rec.dropped(c.kind, c.intended - o, c.t - o, c.out);
        else rec.complete(c.kind, c.intended - o, c.sent - o, c.t - o, c.error, c.out);
        if (c.op === "complete" && c.error === null && c.kind === "write") rec.ack(`k${c.t}`);
        if (rnd() < 0.05) rec.flush();
        if (rnd() < 0.1) deliver();
      }
      for (const s of [0, 1]) recorders[s]!.flush(true);
      for (const s of [0, 1]) for (const b of pending[s]!.splice(0)) merger.push(s, b);

      const a = direct.finish(end);
      const b = merged.finish(end);
      // Times went through the segments' clocks and back: equal to the last bit is too strict for floats.
      const round = (x: unknown) =>
        JSON.parse(
          JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : v)),
        );
      expect(round(b)).toEqual(round(a));
      expect(a.unavailability.length).toBeGreaterThan(0);
      expect(a.windows.length).toBeGreaterThan(6);
      expect(acks.length).toBe(
        calls.filter((c) => c.op === "complete" && c.error === null && c.kind === "write").length,
      );
    }
  });
});
