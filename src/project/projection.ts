/**
 * projection.json: each phase's and step's duration fitted against rows over runs of one scenario at several
 * scales, and projected to production size with the fit's error. Pure: reads RunReports, returns a model.
 */
import type { RunReport, StepResult } from "../report/model.ts";
import {
  classify,
  DEFAULT_FLATNESS,
  type FlatnessOptions,
  fitLine,
  type LineFit,
  type Prediction,
  predict,
  sumPredictions,
} from "./fit.ts";

/** Changes whenever a field of projection.json changes meaning. */
export const PROJECTION_SCHEMA_VERSION = 1;

export const PROJECTION_METHOD =
  "Ordinary least squares of duration_ms = a + b·rows over the runs, rows being the largest seeded " +
  "table's. Error: ±1 prediction standard error, rse·√(1 + 1/n + (x − x̄)²/Sxx), where rse is the residual " +
  "standard error of the fit (n − 2 degrees of freedom); it widens with the distance from the measured " +
  "rows. A flat phase is projected as the mean of its runs ± their standard deviation. Totals add values " +
  "and add errors in quadrature. With only two scales there is no residual, so no error can be given.";

export const PROJECTION_CAVEAT =
  "This projection is a lower bound, an order of magnitude: it was measured on a throwaway clone on this " +
  "machine's storage and CPU, with an empty cache and no production traffic. Production storage (burst " +
  "credits, provisioned IOPS, network disks), instance class, concurrent load, bloat and replication all " +
  "differ, and can make the real run several times slower (write-up 002 estimated 32 h and took ~7 d " +
  "until the storage was changed). Rehearse again on production-class hardware before scheduling.";

export interface ProjectionSample {
  run_id: string;
  rows: number;
  duration_ms: number;
  /** Rows its statements read (seq_tup_read + idx_tup_fetch over effects[]), or a backfill's rows copied. */
  rows_touched: number;
  /** A statement rewrote a relation (effects[].rewritten). */
  rewritten: boolean;
}

export interface ProjectedSeries {
  section: "migration" | "rollback";
  phase: string;
  /** null: the phase as a whole. */
  step: string | null;
  /** flat: does not depend on rows (metadata only); grows: scans, copies, rewrites. */
  kind: "flat" | "grows";
  /** Why it was classified so, in words: the timing fit and what effects[] / backfill facts show. */
  evidence: string;
  samples: ProjectionSample[];
  fit: {
    intercept_ms: number;
    ms_per_row: number;
    residual_se_ms: number | null;
    growth_ms: number;
    noise_ms: number;
  };
  projected_ms: number;
  error_ms: number | null;
  /** Backfill steps: measured rows/s per run and the marginal rate 1/b of the fit. */
  backfill?: { rows_per_s: number[]; marginal_rows_per_s: number | null };
}

export interface Projection {
  schema_version: typeof PROJECTION_SCHEMA_VERSION;
  scenario: string;
  /** The table whose row count is the x of every fit (the largest seeded table). */
  table: string;
  target_rows: number;
  target_from: "flag" | "source_reltuples";
  runs: { run_id: string; rows: number; status: string; exit_code: number }[];
  method: string;
  caveat: string;
  phases: ProjectedSeries[];
  steps: ProjectedSeries[];
  total: { projected_ms: number; error_ms: number | null; growing_ms: number; flat_ms: number };
  /** Phases or steps that could not be fitted, and why. */
  warnings: string[];
}

export interface ProjectionInput {
  reports: RunReport[];
  targetRows: number;
  targetFrom?: "flag" | "source_reltuples";
  flatness?: FlatnessOptions;
}

/** The largest seeded table and its rows in a run: the x of every fit. */
export function runRows(report: RunReport): { table: string; rows: number } {
  let best = { table: "", rows: 0 };
  for (const [table, rows] of Object.entries(report.context.rows))
    if (rows > best.rows) best = { table, rows };
  return best;
}

interface Unit {
  section: "migration" | "rollback";
  phase: string;
  step: string | null;
}

const keyOf = (u: Unit) => `${u.section}\u0000${u.phase}\u0000${u.step ?? ""}`;

/**
 * Rows the unit read or copied, whether it rewrote a relation, and whether those counts are exact: only a
 * step run in one transaction is traced from its own backend's counters; statements outside one are
 * sampled, and a short scan can fall between samples.
 */
function touched(report: RunReport, u: Unit): { rows: number; rewritten: boolean; exact: boolean } {
  const steps = report.steps.filter(
    (s) => s.section === u.section && s.phase === u.phase && (u.step === null || s.name === u.step),
  );
  const exact = steps.length > 0 && steps.every((s) => s.transaction && !s.backfill);
  let rows = 0;
  let rewritten = false;
  for (const e of report.effects) {
    if (e.section !== u.section || e.phase !== u.phase || (u.step !== null && e.step !== u.step)) continue;
    rows += e.seq_tup_read + e.idx_tup_fetch;
    rewritten ||= e.rewritten;
  }
  const backfills = report.steps.filter(
    (s) =>
      s.backfill && s.section === u.section && s.phase === u.phase && (u.step === null || s.name === u.step),
  );
  for (const s of backfills) rows += s.backfill!.rows;
  return { rows, rewritten, exact };
}

function flatPrediction(ys: number[]): Prediction {
  const n = ys.length;
  const mean = ys.reduce((s, y) => s + y, 0) / n;
  if (n < 2) return { value: mean, se: null };
  const sd = Math.sqrt(ys.reduce((s, y) => s + (y - mean) ** 2, 0) / (n - 1));
  return { value: mean, se: sd * Math.sqrt(1 + 1 / n) };
}

const round = (v: number, digits = 0) => Number(v.toFixed(digits));

function series(
  u: Unit,
  reports: RunReport[],
  targetRows: number,
  flatness: FlatnessOptions,
  stepOf: (
    r: RunReport,
  ) => { duration_ms?: number; status: string; backfill?: StepResult["backfill"] } | undefined,
  warnings: string[],
): ProjectedSeries | undefined {
  const samples: ProjectionSample[] = [];
  const rates: number[] = [];
  let exact = true;
  for (const r of reports) {
    const s = stepOf(r);
    if (!s || s.status !== "success" || s.duration_ms === undefined) continue;
    const t = touched(r, u);
    exact &&= t.exact;
    samples.push({
      run_id: r.run_id,
      rows: runRows(r).rows,
      duration_ms: s.duration_ms,
      rows_touched: t.rows,
      rewritten: t.rewritten,
    });
    if (s.backfill) rates.push(s.backfill.rows_per_s);
  }
  const label = `${u.phase}${u.step ? `/${u.step}` : ""}`;
  if (new Set(samples.map((s) => s.rows)).size < 2) {
    warnings.push(`${label}: succeeded at fewer than two scales, so it cannot be fitted`);
    return undefined;
  }
  const fit: LineFit = fitLine(samples.map((s) => ({ x: s.rows, y: s.duration_ms })));
  const c = classify(fit, flatness);
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const largest = samples.reduce((m, s) => (s.rows > m.rows ? s : m), first);
  // Rows read that track the table (at least half of it) mean a scan or copy, whatever the timer said.
  const scans = largest.rows_touched >= 0.5 * largest.rows && last.rows_touched > first.rows_touched;
  const rewrites = samples.some((s) => s.rewritten);
  let kind = c.kind;
  const facts =
    largest.rows_touched > 0
      ? `touched ${samples.map((s) => s.rows_touched).join(" → ")} rows${rewrites ? ", rewrote a relation" : ""}`
      : rewrites
        ? "rewrote a relation"
        : "read no rows and rewrote nothing";
  let evidence =
    `duration grew ${round(c.growthMs, 1)} ms across ${fit.xMin}–${fit.xMax} rows ` +
    `(noise ${round(c.noiseMs, 1)} ms); ${facts}`;
  if (kind === "flat" && (scans || rewrites)) {
    kind = "grows";
    evidence +=
      "; classified as growing because it scans or rewrites, though its timing is still within noise";
  }
  // And the converse, only where the counts are exact (every step traced in its own transaction): a unit
  // that read no rows and rewrote nothing is metadata-only at any size (index builds and VALIDATE count
  // their heap reads), so its timing growth is this machine's noise (a loaded CI box made a 5 ms ALTER look
  // like it grew 40 ms across the scales). Sampled steps keep the timer's word: calling a copy flat would
  // project production far too short, the dangerous direction.
  if (kind === "grows" && exact && samples.every((s) => s.rows_touched === 0) && !rewrites) {
    kind = "flat";
    evidence +=
      "; classified as flat because it read no rows and rewrote nothing: the timing growth is noise";
  }
  const p = kind === "flat" ? flatPrediction(samples.map((s) => s.duration_ms)) : predict(fit, targetRows);
  const marginal = fit.b > 0 ? 1000 / fit.b : null;
  return {
    ...u,
    kind,
    evidence,
    samples,
    fit: {
      intercept_ms: round(fit.a, 3),
      ms_per_row: fit.b,
      residual_se_ms: fit.rse === null ? null : round(fit.rse, 3),
      growth_ms: round(c.growthMs, 3),
      noise_ms: round(c.noiseMs, 3),
    },
    projected_ms: round(Math.max(0, p.value)),
    error_ms: p.se === null ? null : round(p.se),
    ...(rates.length > 0
      ? { backfill: { rows_per_s: rates, marginal_rows_per_s: marginal === null ? null : round(marginal) } }
      : {}),
  };
}

/** Fits every phase and step over the runs (at least two different row counts) and projects to targetRows. */
export function buildProjection(input: ProjectionInput): Projection {
  const { reports, targetRows } = input;
  const flatness = input.flatness ?? DEFAULT_FLATNESS;
  const warnings: string[] = [];
  const ordered = [...reports].sort((a, b) => runRows(a).rows - runRows(b).rows);
  const units = new Map<string, Unit>();
  const stepUnits = new Map<string, Unit>();
  for (const r of ordered) {
    for (const p of r.phases)
      units.set(keyOf({ ...p, phase: p.name, step: null }), {
        section: p.section,
        phase: p.name,
        step: null,
      });
    for (const s of r.steps)
      stepUnits.set(keyOf({ ...s, step: s.name }), { section: s.section, phase: s.phase, step: s.name });
  }
  const phases: ProjectedSeries[] = [];
  for (const u of units.values()) {
    const s = series(
      u,
      ordered,
      targetRows,
      flatness,
      (r) => r.phases.find((p) => p.section === u.section && p.name === u.phase),
      warnings,
    );
    if (s) phases.push(s);
  }
  const steps: ProjectedSeries[] = [];
  for (const u of stepUnits.values()) {
    const s = series(
      u,
      ordered,
      targetRows,
      flatness,
      (r) => r.steps.find((x) => x.section === u.section && x.phase === u.phase && x.name === u.step),
      warnings,
    );
    if (s) steps.push(s);
  }
  const migration = phases.filter((p) => p.section === "migration");
  const total = sumPredictions(migration.map((p) => ({ value: p.projected_ms, se: p.error_ms })));
  const sumKind = (k: "flat" | "grows") =>
    migration.filter((p) => p.kind === k).reduce((s, p) => s + p.projected_ms, 0);
  const last = ordered[ordered.length - 1];
  return {
    schema_version: PROJECTION_SCHEMA_VERSION,
    scenario: last?.scenario.name ?? "",
    table: last ? runRows(last).table : "",
    target_rows: targetRows,
    target_from: input.targetFrom ?? "flag",
    runs: ordered.map((r) => ({
      run_id: r.run_id,
      rows: runRows(r).rows,
      status: r.status,
      exit_code: r.exit_code,
    })),
    method: PROJECTION_METHOD,
    caveat: PROJECTION_CAVEAT,
    phases,
    steps,
    total: {
      projected_ms: Math.round(total.value),
      error_ms: total.se === null ? null : Math.round(total.se),
      growing_ms: sumKind("grows"),
      flat_ms: sumKind("flat"),
    },
    warnings,
  };
}
