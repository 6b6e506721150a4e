import { describe, expect, it } from "vitest";
import { DetailTracks, FIRST_BUCKET_MS, LEAD_MS, MAX_BUCKETS, TAIL_MS } from "../../src/load/detail.ts";
import { Measurements } from "../../src/load/measurements.ts";

// Times are performance.now()-style ms; t0 = 1000 so report times are t − 1000.
const T0 = 1000;

describe("load.detail: each step at sub-second resolution", () => {
  it("a 100 ms cutover keeps 10 ms buckets, with 500 ms of context either side", () => {
    const d = new DetailTracks(T0);
    // One write a millisecond from t = 1000 to 3000; the step runs 2000 → 2100, writes stall inside it.
    const stepStart = 2000;
    const stepEnd = 2100;
    d.complete(1000, 1, false);
    for (let t = 1001; t < 3000; t++) {
      if (t === stepStart) d.open("migration", "cutover", "swap", t);
      if (t === stepEnd) d.close(t);
      const stalled = t >= stepStart && t < stepEnd;
      // The writes that queued behind the lock complete at its release, 1..100 ms late.
      if (t === stepEnd) for (let k = 1; k <= 100; k++) d.complete(t, k, false);
      else if (!stalled) d.complete(t, 2, false);
    }
    const [cut] = d.finish(3000);
    expect(cut).toMatchObject({
      section: "migration",
      phase: "cutover",
      step: "swap",
      started_ms: 1000,
      ended_ms: 1100,
      from_ms: 1000 - LEAD_MS,
      to_ms: 1100 + TAIL_MS,
      bucket_ms: FIRST_BUCKET_MS,
    });
    // The lead comes from the writes completed before the step opened.
    expect(cut!.points[0]!.t_ms).toBe(500);
    // Inside the step: nothing completed (no points), then the release's burst in one bucket.
    const inside = cut!.points.filter((p) => p.t_ms >= 1000 && p.t_ms < 1100);
    expect(inside).toEqual([]);
    const burst = cut!.points.find((p) => p.t_ms === 1100)!;
    expect(burst.writes).toBe(100 + 9);
    expect(burst.write_max).toBe(100);
    // Quantiles from the bins: at most 9 % above the exact value, never above the max.
    expect(burst.write_p99).toBeGreaterThanOrEqual(99);
    expect(burst.write_p99).toBeLessThanOrEqual(100);
    expect(burst.write_p50).toBeGreaterThanOrEqual(46);
    expect(burst.write_p50).toBeLessThanOrEqual(46 * 1.09);
    // 10 ms buckets around the step: 110 of them from 500 to 1600 ms.
    expect(cut!.points.length).toBeGreaterThanOrEqual(100);
    expect(cut!.points.length).toBeLessThanOrEqual(110);
  });

  it("a long step doubles its buckets to stay within MAX_BUCKETS", () => {
    const d = new DetailTracks(T0);
    d.open("migration", "backfill", "copy", 2000);
    // One hour, a write every 50 ms, one of them failing every 10 s.
    const hour = 3_600_000;
    for (let t = 2000; t < 2000 + hour; t += 50) d.complete(t, 3, (t - 2000) % 10_000 === 0);
    d.close(2000 + hour);
    const [copy] = d.finish(2000 + hour + 1000);
    expect(copy!.points.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(copy!.points.length).toBeGreaterThan(MAX_BUCKETS / 2);
    // 10 ms × 2^k ≥ 3.6 s / 256 → 20.48 s buckets.
    expect(copy!.bucket_ms).toBe(20_480);
    const total = copy!.points.reduce((n, p) => n + p.writes + p.errors, 0);
    expect(total).toBe(hour / 50);
    expect(copy!.points.reduce((n, p) => n + p.errors, 0)).toBe(hour / 10_000);
  });

  it("a track ends after its tail and a later step gets its own", () => {
    const d = new DetailTracks(T0);
    d.open("migration", "p", "a", 1000);
    d.complete(1010, 1, false);
    d.close(1050);
    d.open("rollback", "rollback", "b", 3000);
    d.complete(3010, 1, false);
    const tracks = d.finish(3100);
    expect(tracks.map((t) => [t.section, t.step, t.to_ms])).toEqual([
      ["migration", "a", 50 + TAIL_MS],
      ["rollback", "b", 2100],
    ]);
    expect(tracks[0]!.points).toHaveLength(1);
    expect(tracks[1]!.points).toHaveLength(1);
  });

  it("a track reaches back no further than its load's start (the rollback's load starts afresh)", () => {
    const d = new DetailTracks(T0, 2_800);
    d.open("rollback", "rollback", "undo", 3_000);
    d.complete(3_010, 1, false);
    expect(d.finish(3_100)[0]).toMatchObject({ from_ms: 1_800, started_ms: 2_000 });
  });

  it("Measurements records a detail per migration step and none for warmup or between steps", () => {
    const m = new Measurements(T0, T0, false);
    m.mark("expand", null, 1100);
    m.mark("expand", "a", 1200);
    m.complete("write", 1200, 1200, 1230, null, 0);
    m.complete("write", 1210, 1210, 1240, "55P03", 0);
    m.complete("read", 1210, 1210, 1240, null, 0);
    m.mark("cooldown", null, 1300);
    const r = m.finish(1400);
    expect(r.detail).toHaveLength(1);
    expect(r.detail[0]).toMatchObject({ phase: "expand", step: "a", started_ms: 200, ended_ms: 300 });
    expect(r.detail[0]!.points).toEqual([
      { t_ms: 230, writes: 1, errors: 0, write_p50: 30, write_p99: 30, write_max: 30 },
      { t_ms: 240, writes: 0, errors: 1, write_p50: 0, write_p99: 0, write_max: 0 },
    ]);
  });
});
