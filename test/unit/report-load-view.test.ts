import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatLatency,
  formatRate,
  hurtingSteps,
  rateText,
  stepsDuring,
  tableVacuum,
  topErrors,
  windowLabel,
} from "../../src/report/load-view.ts";
import { loadRun } from "./report-fixtures.ts";

describe("load views", () => {
  it("formats latencies to the precision an HDR histogram carries", () => {
    expect(formatLatency(0.4249)).toBe("0.42");
    expect(formatLatency(12.34)).toBe("12.3");
    expect(formatLatency(80)).toBe("80");
    expect(formatLatency(899.6)).toBe("900");
    expect(formatLatency(1_180)).toBe("1,180");
    expect(formatLatency(Number.NaN)).toBe("-");
    expect(formatRate(1_122.5)).toBe("1,123");
    expect(formatRate(2.25)).toBe("2.3");
  });

  it("formats WAL volumes the way pg_size_pretty does", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(2_202_010)).toBe("2.1 MB");
    expect(formatBytes(50_331_648)).toBe("48 MB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3 GB");
  });

  it("describes a ramping rate and ranks error classes", () => {
    expect(
      rateText([
        { duration_ms: 10_000, target: 500 },
        { duration_ms: 30_000, target: 2_000 },
      ]),
    ).toBe("writes ramping to 500/s over 10.0 s, then to 2,000/s over 30.0 s");
    expect(topErrors({ a: 1, "55P03": 30, "57014": 5, "40001": 5 }, 3)).toBe(
      "55P03 ×30, 40001 ×5, 57014 ×5, +1 more",
    );
    expect(topErrors({ "55P03": 0 })).toBe("");
  });

  it("labels rollback windows so they do not collide with migration phases of the same name", () => {
    expect(windowLabel({ section: "rollback", phase: "expand", step: "drop" })).toBe("rollback/expand/drop");
    expect(windowLabel({ section: "cooldown", phase: "", step: null })).toBe("cooldown");
  });

  it("attributes a period to every step it overlaps, longest overlap first, or to none", () => {
    const r = loadRun();
    expect(stepsDuring(r, 26_430, 26_460)).toEqual([
      { label: "cutover/resume_writes", overlap_ms: 20 },
      { label: "cutover/swap_names", overlap_ms: 10 },
    ]);
    // A point in time (a zero-length period) goes to the step running then.
    expect(stepsDuring(r, 24_500, 24_500)).toEqual([{ label: "cutover/attach", overlap_ms: 0 }]);
    // Between the phases (23,950–24,000) nothing ran.
    expect(stepsDuring(r, 23_960, 23_990)).toEqual([]);
  });

  it("has no steps that hurt without a usable baseline", () => {
    const r = loadRun();
    for (const w of r.load!.windows) if (w.section === "warmup") w.latency.p99 = 0;
    expect(hurtingSteps(r.load!)).toEqual([]);
  });

  it("counts autovacuum runs as separate starts, one already running at the first sample included", () => {
    const r = loadRun();
    r.observations!.tables = [true, true, false, true, false, false, true].map((running, i) => ({
      t: i * 1000,
      table: "public.orders",
      live: 100,
      dead: i * 10,
      autovacuum_running: running,
    }));
    expect(tableVacuum(r.observations!)[0]).toMatchObject({
      autovacuum_runs: 3,
      dead_start: 0,
      dead_end: 60,
      dead_max: 60,
    });
  });
});
