/**
 * The projection's arithmetic (pure): line fits, flat vs growing, errors that widen with extrapolation, and a
 * projection built from RunReports at three scales.
 */
import { describe, expect, it } from "vitest";
import { classify, fitLine, FitError, predict, sumPredictions } from "../../src/project/fit.ts";
import { renderProjectionMarkdown } from "../../src/project/markdown.ts";
import { buildProjection } from "../../src/project/projection.ts";
import type { RunReport } from "../../src/report/model.ts";
import { passingRun } from "./report-fixtures.ts";

describe("fitLine", () => {
  it.each([
    { a: 5, b: 0.002, xs: [10_000, 20_000, 40_000] },
    { a: 0, b: 1.5, xs: [1, 2] },
    { a: 120, b: 0.0001, xs: [1e5, 3e5, 9e5, 2.7e6] },
  ])("recovers intercept $a and slope $b from an exact line", ({ a, b, xs }) => {
    const fit = fitLine(xs.map((x) => ({ x, y: a + b * x })));
    expect(fit.b).toBeCloseTo(b, 10);
    expect(fit.a).toBeCloseTo(a, 6);
    if (xs.length > 2) expect(fit.rse!).toBeLessThan(1e-6);
    else expect(fit.rse).toBeNull();
  });

  it("refuses fewer than two points and points at one row count", () => {
    expect(() => fitLine([{ x: 1, y: 1 }])).toThrow(FitError);
    expect(() =>
      fitLine([
        { x: 5, y: 1 },
        { x: 5, y: 2 },
      ]),
    ).toThrow(/same row count/);
  });
});

describe("classify", () => {
  it("flags a metadata-only phase (a few ms of jitter) as flat", () => {
    const fit = fitLine([
      { x: 10_000, y: 3 },
      { x: 20_000, y: 5 },
      { x: 40_000, y: 2 },
    ]);
    expect(classify(fit).kind).toBe("flat");
  });

  it("flags a noisy phase whose slope is within its own residual noise as flat", () => {
    const fit = fitLine([
      { x: 10_000, y: 100 },
      { x: 20_000, y: 160 },
      { x: 30_000, y: 90 },
      { x: 40_000, y: 150 },
    ]);
    const c = classify(fit, { floorMs: 1, sigmas: 2 });
    expect(c.kind).toBe("flat");
    expect(c.noiseMs).toBeGreaterThan(c.growthMs);
  });

  it("flags a copy that doubles with the rows as growing", () => {
    const fit = fitLine([
      { x: 10_000, y: 110 },
      { x: 20_000, y: 205 },
      { x: 40_000, y: 410 },
    ]);
    const c = classify(fit);
    expect(c.kind).toBe("grows");
    expect(c.growthMs).toBeCloseTo(fit.b * 30_000, 6);
  });
});

describe("predict", () => {
  const fit = fitLine([
    { x: 10_000, y: 110 },
    { x: 20_000, y: 205 },
    { x: 40_000, y: 410 },
  ]);

  it("has an error that grows with the extrapolation distance", () => {
    const near = predict(fit, 50_000).se!;
    const far = predict(fit, 5_000_000).se!;
    const farther = predict(fit, 500_000_000).se!;
    expect(near).toBeGreaterThan(0);
    expect(far).toBeGreaterThan(near);
    expect(farther).toBeGreaterThan(far * 10);
  });

  it("gives no error from two points (no residual to estimate noise from)", () => {
    const two = fitLine([
      { x: 1, y: 1 },
      { x: 2, y: 3 },
    ]);
    expect(predict(two, 100)).toEqual({ value: 199, se: null });
  });

  it("adds errors in quadrature", () => {
    expect(
      sumPredictions([
        { value: 1, se: 3 },
        { value: 2, se: 4 },
      ]),
    ).toEqual({ value: 3, se: 5 });
    expect(
      sumPredictions([
        { value: 1, se: 3 },
        { value: 2, se: null },
      ]).se,
    ).toBeNull();
  });
});

/** A run at `rows` rows: a metadata-only phase, a rewrite and a backfill that grow linearly. */
function runAt(rows: number, jitter: number): RunReport {
  const r = passingRun();
  r.run_id = `run-${rows}`;
  r.context.rows = { "public.orders": rows, "public.customers": 1000 };
  const copy = 20 + rows * 0.01 + jitter;
  const rewrite = 5 + rows * 0.002 - jitter;
  r.phases = [
    { section: "migration", name: "prepare", status: "success", duration_ms: 3 + (jitter % 2) },
    { section: "migration", name: "rewrite", status: "success", duration_ms: rewrite },
    { section: "migration", name: "backfill", status: "success", duration_ms: copy },
  ];
  r.steps = [
    {
      section: "migration",
      phase: "prepare",
      name: "create",
      status: "success",
      transaction: true,
      attempts: 1,
      duration_ms: 3 + (jitter % 2),
      statements: [],
    },
    {
      section: "migration",
      phase: "backfill",
      name: "copy",
      status: "success",
      transaction: false,
      attempts: 1,
      duration_ms: copy,
      statements: [],
      backfill: {
        source: "orders",
        target: "orders_new",
        rows,
        batches: 10,
        workers: 1,
        resumed_rows: 0,
        restarts: 0,
        faults_injected: 0,
        rows_per_s: Math.round(rows / (copy / 1000)),
        throttled_ms: 0,
        waited_for_lag_ms: 0,
        stale_lag_readings: 0,
        window_wait_ms: 0,
      },
    },
  ];
  r.effects = [
    {
      section: "migration",
      phase: "rewrite",
      step: "alter",
      statement: 0,
      relation: "public.orders",
      relation_oid: 1,
      seq_scans: 1,
      seq_tup_read: rows,
      idx_tup_fetch: 0,
      rewritten: true,
      held_mode: "AccessExclusiveLock",
      hot: true,
    },
  ];
  return r;
}

describe("buildProjection", () => {
  const reports = [runAt(40_000, 3), runAt(10_000, 1), runAt(20_000, -2)];
  const p = buildProjection({ reports, targetRows: 100_000_000 });

  it("tells the metadata-only phase from the rewrite and the copy", () => {
    const kinds = Object.fromEntries(p.phases.map((s) => [s.phase, s.kind]));
    expect(kinds).toEqual({ prepare: "flat", rewrite: "grows", backfill: "grows" });
    expect(p.phases.find((s) => s.phase === "prepare")!.evidence).toMatch(/read no rows/);
    expect(p.phases.find((s) => s.phase === "rewrite")!.evidence).toMatch(/rewrote/);
  });

  it("projects the copy near its true line, with an error, and a flat phase at its mean", () => {
    const copy = p.phases.find((s) => s.phase === "backfill")!;
    const truth = 20 + 100_000_000 * 0.01;
    expect(Math.abs(copy.projected_ms - truth) / truth).toBeLessThan(0.05);
    expect(copy.error_ms).toBeGreaterThan(0);
    expect(p.phases.find((s) => s.phase === "prepare")!.projected_ms).toBeLessThan(10);
    expect(p.total.projected_ms).toBe(p.phases.reduce((s, x) => s + x.projected_ms, 0));
    expect(p.runs.map((r) => r.rows)).toEqual([10_000, 20_000, 40_000]);
  });

  it("fits the backfill's marginal rows/s", () => {
    const step = p.steps.find((s) => s.step === "copy")!;
    expect(step.backfill!.marginal_rows_per_s).toBeGreaterThan(90_000);
    expect(step.backfill!.marginal_rows_per_s).toBeLessThan(110_000);
  });

  it("says in projection.md that production hardware differs", () => {
    const md = renderProjectionMarkdown(p);
    expect(md).toMatch(/Lower bound/);
    expect(md).toMatch(/instance class/);
    expect(md).toMatch(/Projected migration: .* ± /);
  });

  it("keeps a traced metadata-only phase flat whatever a noisy timer says, but trusts the timer for a sampled one", () => {
    const noisy = (rows: number, ms: number, transaction: boolean) => {
      const r = runAt(rows, 0);
      r.phases[0]!.duration_ms = ms;
      r.steps[0]!.duration_ms = ms;
      r.steps[0]!.transaction = transaction;
      return r;
    };
    const timings: Array<[number, number]> = [
      [10_000, 4],
      [20_000, 15],
      [40_000, 60],
    ];
    const traced = buildProjection({
      reports: timings.map(([n, ms]) => noisy(n, ms, true)),
      targetRows: 1e8,
    });
    const prepare = traced.phases.find((s) => s.phase === "prepare")!;
    expect(prepare.kind).toBe("flat");
    expect(prepare.evidence).toMatch(/classified as flat because it read no rows/);
    const sampled = buildProjection({
      reports: timings.map(([n, ms]) => noisy(n, ms, false)),
      targetRows: 1e8,
    });
    expect(sampled.phases.find((s) => s.phase === "prepare")!.kind).toBe("grows");
  });

  it("warns instead of fitting a phase that ran at only one scale", () => {
    const r = runAt(10_000, 0);
    r.phases.push({ section: "migration", name: "late", status: "success", duration_ms: 1 });
    const q = buildProjection({ reports: [r, runAt(20_000, 0)], targetRows: 1e6 });
    expect(q.warnings.join("\n")).toMatch(/late: succeeded at fewer than two scales/);
    expect(q.total.error_ms).toBeNull();
  });
});
