/**
 * Compares two rehearsals of (usually) the same scenario: A is "before", B is "after". Pure: no I/O, so the
 * diff is unit-tested over fixtures and the CLI only reads the two report.json files and prints.
 *
 * Per phase (matched by section and name) it reports what an SRE compares between two attempts at a
 * migration: how long the phase took, what the write load saw (p50/p99/max latency, throughput, errors),
 * the longest lock hold per mode, rows scanned under ACCESS EXCLUSIVE on hot tables, and the most load
 * requests blocked at once. Then check status changes: regressions (passed in A, fails in B) first.
 *
 * A comparison involving an aborted or inconclusive run never reads as an improvement: `verdict` is
 * "inconclusive" and the renderers put the reason at the top.
 */
import { contextDifferences } from "./compare-context.ts";
import { type ComparedMetric, type Significance, thresholds, warmupNoise } from "./compare-noise.ts";
import { isAccessExclusive } from "./format.ts";
import type { CheckResult, CheckStatus, PhaseResult, RunReport, RunStatus, StepStatus } from "./model.ts";

/** A metric in A and B. `diff` and `pct` only when both sides have it; `pct` only when A is non-zero. */
export interface Delta {
  a?: number;
  b?: number;
  diff?: number;
  pct?: number;
  /** Which direction is bad for this metric (duration, latency, errors: up; throughput: down). */
  worse: "up" | "down";
  /** B is worse than A beyond the metric's threshold (compare-noise.ts). */
  regressed: boolean;
  /** B is worse than A, but by no more than the threshold: shown, not marked. */
  within_noise?: true;
}

export interface LockModeDelta {
  mode: string;
  /** Longest hold in this phase in this mode on a table (relkind r, p, or dropped), ms. */
  held_ms: Delta;
}

export interface PhaseComparison {
  section: "migration" | "rollback";
  phase: string;
  /** Which runs have this phase at all. */
  present: "both" | "a_only" | "b_only";
  status: { a?: StepStatus; b?: StepStatus };
  duration_ms: Delta;
  write_p50_ms: Delta;
  write_p99_ms: Delta;
  write_max_ms: Delta;
  /** Successful writes per second over the phase. */
  write_throughput: Delta;
  /** Load errors (writes and reads) during the phase. */
  load_errors: Delta;
  locks: LockModeDelta[];
  /** Rows sequentially read from hot tables while holding ACCESS EXCLUSIVE on them. */
  exclusive_rows_scanned: Delta;
  /** Most load requests waiting at once on a lock the migration held. */
  max_load_waiters: Delta;
}

export interface CheckChange {
  id: string;
  kind: CheckResult["kind"];
  stage?: CheckResult["stage"];
  a?: CheckStatus;
  b?: CheckStatus;
  /** B's summary when B has the check, else A's. */
  summary: string;
}

export interface RunSide {
  run_id: string;
  scenario: string;
  status: RunStatus;
  exit_code: number;
  started_at: string;
  reason?: string;
}

export interface Comparison {
  a: RunSide;
  b: RunSide;
  /** "B is INCONCLUSIVE: …" for each side that is aborted or inconclusive, A first. */
  notConclusive: string[];
  /** Other things the reader must know before trusting the numbers (different scenarios…). */
  warnings: string[];
  /** Every difference in the conditions A and B ran under (rows, settings, provider…), before any delta. */
  differences: string[];
  /** The thresholds a phase delta must exceed to be marked, and the warmup noise that set them. */
  thresholds: string;
  phases: PhaseComparison[];
  checks: {
    /** Passed (or was absent/skipped) in A, fails or errors in B. */
    regressions: CheckChange[];
    /** Failed or errored in A, passes in B. */
    fixed: CheckChange[];
    /** Any other status change, or a check only one run has. */
    other: CheckChange[];
    unchanged: number;
  };
  /**
   * The headline. "inconclusive" whenever either run is: a comparison with no verdict on one side says
   * nothing about improvement. Otherwise by checks: any regression → "regressed"; any fix → "improved".
   */
  verdict: "inconclusive" | "regressed" | "improved" | "unchanged";
}

const CONCLUSIVE: ReadonlySet<RunStatus> = new Set(["passed", "failed"]);

export function isConclusive(report: Pick<RunReport, "status">): boolean {
  return CONCLUSIVE.has(report.status);
}

/**
 * Builds a delta; `undefined` on a side means "not measured in that run". A change in the bad direction is a
 * regression only beyond `sig` (by default any change is).
 */
export function delta(
  a: number | undefined,
  b: number | undefined,
  worse: "up" | "down" = "up",
  sig: Significance = { pct: 0, floor: 0 },
): Delta {
  const d: Delta = { worse, regressed: false };
  if (a !== undefined) d.a = a;
  if (b !== undefined) d.b = b;
  if (a !== undefined && b !== undefined) {
    d.diff = b - a;
    if (a !== 0) d.pct = ((b - a) / Math.abs(a)) * 100;
    const worseNow = worse === "up" ? b > a : b < a;
    const beyond = Math.abs(d.diff) > sig.floor && (d.pct === undefined || Math.abs(d.pct) > sig.pct);
    d.regressed = worseNow && beyond;
    if (worseNow && !beyond) d.within_noise = true;
  }
  return d;
}

const isFailing = (s: CheckStatus | undefined) => s === "fail" || s === "error";

function side(r: RunReport): RunSide {
  const s: RunSide = {
    run_id: r.run_id,
    scenario: r.scenario.name,
    status: r.status,
    exit_code: r.exit_code,
    started_at: r.started_at,
  };
  if (r.reason !== undefined) s.reason = r.reason;
  return s;
}

const phaseKey = (section: string, phase: string) => `${section}\u0000${phase}`;

/** Per-phase measurements of one run, keyed by section+phase. */
interface PhaseMetrics {
  phase?: PhaseResult;
  p50?: number;
  p99?: number;
  max?: number;
  throughput?: number;
  errors?: number;
  locks: Map<string, number>;
  exclusiveRows?: number;
  waiters?: number;
}

/** Relkinds counted as "a table" for lock holds: plain, partitioned, or dropped in the same transaction. */
const TABLE_RELKINDS = new Set<string | null>(["r", "p", null]);

function metrics(r: RunReport): Map<string, PhaseMetrics> {
  const out = new Map<string, PhaseMetrics>();
  const get = (section: string, phase: string): PhaseMetrics => {
    const k = phaseKey(section, phase);
    let m = out.get(k);
    if (!m) {
      m = { locks: new Map() };
      out.set(k, m);
    }
    return m;
  };
  for (const p of r.phases) get(p.section, p.name).phase = p;

  for (const w of r.load?.windows ?? []) {
    if (w.step !== null || (w.section !== "migration" && w.section !== "rollback")) continue;
    const m = get(w.section, w.phase);
    m.errors = (m.errors ?? 0) + w.errors;
    if (w.kind !== "write") continue;
    m.p50 = w.latency.p50;
    m.p99 = w.latency.p99;
    m.max = w.latency.max;
    m.throughput = w.throughput;
  }

  for (const l of r.locks) {
    if (!TABLE_RELKINDS.has(l.relkind)) continue;
    const m = get(l.section, l.phase);
    m.locks.set(l.mode, Math.max(m.locks.get(l.mode) ?? 0, l.held_ms));
  }

  for (const e of r.effects) {
    // Only phases that ran get a row; a metric of zero there means "measured, none".
    const m = get(e.section, e.phase);
    if (e.hot && isAccessExclusive(e.held_mode)) m.exclusiveRows = (m.exclusiveRows ?? 0) + e.seq_tup_read;
  }
  for (const p of r.phases) {
    const m = get(p.section, p.name);
    if (p.status !== "not_executed") m.exclusiveRows ??= 0;
  }

  if (r.observations) {
    for (const e of r.observations.blocking) {
      if (!e.blocker_is_migration || e.phase === null) continue;
      // Episodes carry a phase name but no section: place by time when the name exists in both sections.
      const candidates = r.phases.filter((p) => p.name === e.phase);
      const placed =
        candidates.length > 1
          ? candidates.find(
              (p) =>
                p.started_ms !== undefined &&
                p.duration_ms !== undefined &&
                e.started_ms >= p.started_ms &&
                e.started_ms <= p.started_ms + p.duration_ms,
            )
          : candidates[0];
      const m = get(placed?.section ?? "migration", e.phase);
      const waiters = e.max_load_waiters ?? e.load_waiters;
      m.waiters = Math.max(m.waiters ?? 0, waiters);
    }
    for (const p of r.phases) {
      const m = get(p.section, p.name);
      if (p.status !== "not_executed") m.waiters ??= 0;
    }
  }
  return out;
}

function comparePhases(
  a: RunReport,
  b: RunReport,
  sig: Record<ComparedMetric, Significance>,
): PhaseComparison[] {
  const ma = metrics(a);
  const mb = metrics(b);
  // A's order, then phases only B has, in B's order.
  const keys = [...ma.keys()];
  for (const k of mb.keys()) if (!ma.has(k)) keys.push(k);
  const out: PhaseComparison[] = [];
  for (const k of keys) {
    const [section, phase] = k.split("\u0000") as ["migration" | "rollback", string];
    const x = ma.get(k);
    const y = mb.get(k);
    const inA = x?.phase !== undefined;
    const inB = y?.phase !== undefined;
    // Metrics seen for a phase neither run declares (should not happen) are still shown, as "both".
    const present = inA && !inB ? "a_only" : inB && !inA ? "b_only" : "both";
    const modes = [...new Set([...(x?.locks.keys() ?? []), ...(y?.locks.keys() ?? [])])];
    const locks = modes
      .map((mode) => ({
        mode,
        held_ms: delta(x?.locks.get(mode), y?.locks.get(mode), "up", sig.lock_hold),
      }))
      .sort(
        (p, q) =>
          Math.max(q.held_ms.a ?? 0, q.held_ms.b ?? 0) - Math.max(p.held_ms.a ?? 0, p.held_ms.b ?? 0) ||
          p.mode.localeCompare(q.mode),
      );
    const status: PhaseComparison["status"] = {};
    if (x?.phase) status.a = x.phase.status;
    if (y?.phase) status.b = y.phase.status;
    out.push({
      section,
      phase,
      present,
      status,
      duration_ms: delta(x?.phase?.duration_ms, y?.phase?.duration_ms, "up", sig.duration),
      write_p50_ms: delta(x?.p50, y?.p50, "up", sig.latency),
      write_p99_ms: delta(x?.p99, y?.p99, "up", sig.latency),
      write_max_ms: delta(x?.max, y?.max, "up", sig.latency),
      write_throughput: delta(x?.throughput, y?.throughput, "down", sig.throughput),
      load_errors: delta(x?.errors, y?.errors, "up", sig.errors),
      locks,
      exclusive_rows_scanned: delta(x?.exclusiveRows, y?.exclusiveRows, "up", sig.rows_scanned),
      max_load_waiters: delta(x?.waiters, y?.waiters, "up", sig.waiters),
    });
  }
  return out;
}

function compareChecks(a: RunReport, b: RunReport): Comparison["checks"] {
  const key = (c: CheckResult) => `${c.stage ?? "after_migration"}\u0000${c.id}`;
  const ca = new Map(a.checks.map((c) => [key(c), c]));
  const cb = new Map(b.checks.map((c) => [key(c), c]));
  const keys = [...ca.keys()];
  for (const k of cb.keys()) if (!ca.has(k)) keys.push(k);
  const result: Comparison["checks"] = { regressions: [], fixed: [], other: [], unchanged: 0 };
  for (const k of keys) {
    const x = ca.get(k);
    const y = cb.get(k);
    if (x && y && x.status === y.status) {
      result.unchanged++;
      continue;
    }
    const ref = (y ?? x)!;
    const change: CheckChange = { id: ref.id, kind: ref.kind, summary: ref.summary };
    if (ref.stage !== undefined) change.stage = ref.stage;
    if (x) change.a = x.status;
    if (y) change.b = y.status;
    // A check that fails in B and did not fail in A (passed, was skipped, or did not exist) is a regression.
    if (isFailing(change.b) && !isFailing(change.a)) result.regressions.push(change);
    else if (isFailing(change.a) && change.b === "pass") result.fixed.push(change);
    else result.other.push(change);
  }
  return result;
}

function notConclusiveLine(label: "A" | "B", r: RunReport): string {
  return `${label} is ${r.status.toUpperCase()}: ${r.reason ?? "no reason recorded"}`;
}

/** The typed diff between run A (before) and run B (after). */
export function compareReports(a: RunReport, b: RunReport): Comparison {
  const notConclusive: string[] = [];
  if (!isConclusive(a)) notConclusive.push(notConclusiveLine("A", a));
  if (!isConclusive(b)) notConclusive.push(notConclusiveLine("B", b));
  const warnings: string[] = [];
  if (a.scenario.name !== b.scenario.name) {
    warnings.push(
      `different scenarios: A is "${a.scenario.name}", B is "${b.scenario.name}"; phases are matched by name`,
    );
  }
  if (a.run_id === b.run_id) warnings.push(`A and B are the same run (${a.run_id})`);
  const checks = compareChecks(a, b);
  const verdict: Comparison["verdict"] =
    notConclusive.length > 0
      ? "inconclusive"
      : checks.regressions.length > 0
        ? "regressed"
        : checks.fixed.length > 0
          ? "improved"
          : "unchanged";
  const t = thresholds(warmupNoise(a), warmupNoise(b));
  return {
    a: side(a),
    b: side(b),
    notConclusive,
    warnings,
    differences: contextDifferences(a, b),
    thresholds: t.text,
    phases: comparePhases(a, b, t.significance),
    checks,
    verdict,
  };
}
