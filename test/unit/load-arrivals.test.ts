import { describe, expect, it } from "vitest";
import { ArrivalSchedule, describeRate } from "../../src/load/arrivals.ts";

const take = (s: ArrivalSchedule, n: number) => Array.from({ length: n }, () => s.next());

describe("ArrivalSchedule", () => {
  it("spaces a constant rate evenly from time 0", () => {
    const s = new ArrivalSchedule(200);
    expect(take(s, 4)).toEqual([0, 5, 10, 15]);
    expect(s.count).toBe(4);
  });

  it("does not drift over a long run (closed form, not accumulated intervals)", () => {
    const s = new ArrivalSchedule(3);
    let last = 0;
    for (let i = 0; i < 3_000_000; i++) last = s.next();
    expect(last).toBe((2_999_999 * 1000) / 3);
  });

  it("ramps linearly from 0 to the first target, then holds the last target", () => {
    // 0 → 100/s over 10 s: N(t) = 5 t², so arrival k is at sqrt(k / 5) s; 500 arrivals by t = 10 s.
    const s = new ArrivalSchedule({ stages: [{ duration: 10_000, target: 100 }] });
    expect(s.timeOf(0)).toBe(0);
    expect(s.timeOf(5)).toBeCloseTo(1000, 6);
    expect(s.timeOf(20)).toBeCloseTo(2000, 6);
    expect(s.timeOf(500)).toBeCloseTo(10_000, 6);
    // After the last stage: 100/s, 10 ms apart.
    expect(s.timeOf(501)).toBeCloseTo(10_010, 6);
    expect(s.timeOf(600)).toBeCloseTo(11_000, 6);
    expect(take(s, 3)).toEqual([s.timeOf(0), s.timeOf(1), s.timeOf(2)]);
  });

  it("ramps between stage targets, down as well as up, and a flat stage is constant", () => {
    const s = new ArrivalSchedule({
      stages: [
        { duration: 1000, target: 100 }, // 0→100: 50 arrivals
        { duration: 2000, target: 100 }, // flat: 200 arrivals
        { duration: 1000, target: 0 }, //   100→0: 50 arrivals
      ],
    });
    expect(s.timeOf(50)).toBeCloseTo(1000, 6);
    expect(s.timeOf(150)).toBeCloseTo(2000, 6);
    expect(s.timeOf(250)).toBeCloseTo(3000, 6);
    // Ramping down 100→0 over 1 s: N(u) = 100u − 50u²; 37.5 arrivals by u = 0.5 s.
    expect(s.timeOf(287.5)).toBeCloseTo(3500, 6);
    expect(s.timeOf(299.999)).toBeLessThanOrEqual(4000);
    // Rate 0 after the last stage: no more arrivals.
    expect(s.timeOf(300)).toBe(Infinity);
    const all = take(s, 301);
    for (let i = 1; i < 300; i++) expect(all[i]!).toBeGreaterThanOrEqual(all[i - 1]!);
    expect(all[300]).toBe(Infinity);
  });

  it("has monotone, correctly counted times across a ramp (every arrival exactly once)", () => {
    const s = new ArrivalSchedule({
      stages: [
        { duration: 500, target: 40 },
        { duration: 500, target: 10 },
      ],
    });
    // 0→40 over 0.5 s: 10 arrivals; 40→10 over 0.5 s: 12.5 arrivals; then 10/s.
    const times = take(s, 40);
    expect(times.filter((t) => t < 500).length).toBe(10);
    expect(times.filter((t) => t < 1000).length).toBe(23);
    expect(times.filter((t) => t < 2000).length).toBe(33);
  });

  it("draws Poisson arrivals at the configured mean rate", () => {
    let seed = 1;
    const rnd = () => {
      // Deterministic LCG so the test is stable.
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const s = new ArrivalSchedule(1000, "poisson", rnd);
    const times = take(s, 20_000);
    const span = times[times.length - 1]! - times[0]!;
    expect(20_000 / (span / 1000)).toBeGreaterThan(970);
    expect(20_000 / (span / 1000)).toBeLessThan(1030);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Exponential gaps: some far shorter and some far longer than the mean 1 ms.
    expect(gaps.filter((g) => g < 0.1).length).toBeGreaterThan(1000);
    expect(gaps.filter((g) => g > 3).length).toBeGreaterThan(500);
  });

  it("rejects a constant rate of zero", () => {
    expect(() => new ArrivalSchedule(0)).toThrow(RangeError);
  });

  it("describes the rate for the report in ms", () => {
    expect(describeRate(50)).toBe(50);
    expect(describeRate({ stages: [{ duration: 2000, target: 10 }] })).toEqual([
      { duration_ms: 2000, target: 10 },
    ]);
  });
});
