/**
 * Wording, number formatting and derived views shared by the human-facing reporters (markdown, terminal,
 * junit), so a budget reads "4.2 s" and a check's label is the same in the PR comment and the terminal.
 */
import type {
  BackfillFacts,
  CheckResult,
  CheckStatus,
  LockHold,
  RunReport,
  RunStatus,
  StatementEffect,
} from "./model.ts";

// Fixed locale: output must not depend on the machine rendering it (reports are diffed and snapshot-tested).
const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function formatNumber(n: number): string {
  return NUMBER.format(n);
}

/** 850 ms, 4.2 s, 3 min 05 s; "-" when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalS = Math.round(ms / 1000);
  return `${Math.floor(totalS / 60)} min ${String(totalS % 60).padStart(2, "0")} s`;
}

/** "50,000 rows in 10 batches by 4 workers, 12,000 rows/s; 1 worker restart; throttled 3.2 s (…)". */
export function backfillSummary(b: BackfillFacts): string {
  const plural = (n: number, word: string, many = `${word}s`) =>
    `${formatNumber(n)} ${n === 1 ? word : many}`;
  const parts = [
    `${plural(b.rows, "row")} in ${plural(b.batches, "batch", "batches")} by ${plural(b.workers, "worker")}, ` +
      `${formatNumber(b.rows_per_s)} rows/s`,
  ];
  if (b.resumed_rows > 0) parts.push(`resumed after ${plural(b.resumed_rows, "row")} copied earlier`);
  if (b.restarts > 0) parts.push(`${plural(b.restarts, "worker restart")}`);
  if (b.throttled_ms > 0) {
    const why: string[] = [];
    if (b.waited_for_lag_ms > 0) why.push(`${formatDuration(b.waited_for_lag_ms)} on replica lag`);
    if (b.stale_lag_readings > 0) why.push(plural(b.stale_lag_readings, "stale lag reading"));
    if (b.window_wait_ms > 0) why.push(`${formatDuration(b.window_wait_ms)} outside the windows`);
    parts.push(`throttled ${formatDuration(b.throttled_ms)}${why.length > 0 ? ` (${why.join(", ")})` : ""}`);
  }
  return parts.join("; ");
}

/**
 * A budget's measured value or limit with its unit, as given: "180 ms" next to "2,000 ms" compares at a
 * glance where "180 ms" next to "2.0 s" makes the reader convert.
 */
export function formatMeasure(value: number | undefined, unit: string | undefined): string {
  if (value === undefined) return "-";
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

export const VERDICT: Record<RunStatus, string> = {
  passed: "PASSED",
  failed: "FAILED",
  inconclusive: "INCONCLUSIVE",
  aborted: "ABORTED",
};

export const CHECK_WORD: Record<CheckStatus, string> = {
  fail: "FAIL",
  error: "ERROR",
  pass: "ok",
  skipped: "skipped",
};

// Failures first: the reader is here to learn what broke. Errors next (the check itself could not run),
// then passes, then skips.
const CHECK_RANK: Record<CheckStatus, number> = { fail: 0, error: 1, pass: 2, skipped: 3 };

/** Checks sorted failing-first; stable, so the model's order is kept within a status. */
export function orderChecks(checks: readonly CheckResult[]): CheckResult[] {
  return [...checks].sort((a, b) => CHECK_RANK[a.status] - CHECK_RANK[b.status]);
}

export function isProblem(c: CheckResult): boolean {
  return c.status === "fail" || c.status === "error";
}

/** The id, marked when the check was re-run after rollback (the same id then appears twice). */
export function checkLabel(c: CheckResult): string {
  return c.stage === "after_rollback" ? `${c.id} (after rollback)` : c.id;
}

/** A failing check the scenario declared in `expect.failing`: the run is demonstrating it, not hitting it. */
export function isExpectedFailure(report: RunReport, c: CheckResult): boolean {
  return c.status === "fail" && report.expectation.failing.includes(c.id);
}

export function phaseLabel(section: "migration" | "rollback", phase: string): string {
  return section === "rollback" ? `rollback/${phase}` : phase;
}

/**
 * "cutover/swap statement 3 (migration/03_cutover.sql:42)": the same wording the budgets use in their
 * findings, so a statement named in a finding and in the lock summary reads identically. `statement` is the
 * 0-based index within the step; people count from 1.
 */
export function statementWhere(
  report: RunReport,
  at: { section: "migration" | "rollback"; phase: string; step: string; statement: number },
): string {
  const step = report.steps.find(
    (s) => s.section === at.section && s.phase === at.phase && s.name === at.step,
  );
  const stmt = step?.statements.find((s) => s.index === at.statement);
  const loc = stmt?.file ? ` (${stmt.file}${stmt.line ? `:${stmt.line}` : ""})` : "";
  return `${phaseLabel(at.section, at.phase)}/${at.step} statement ${at.statement + 1}${loc}`;
}

/** "migration/03_cutover.sql:12:5", or undefined when the error was not located in a file. */
export function errorLocation(e: { file?: string; line?: number; column?: number }): string | undefined {
  if (!e.file) return undefined;
  if (e.line === undefined) return e.file;
  return e.column === undefined ? `${e.file}:${e.line}` : `${e.file}:${e.line}:${e.column}`;
}

/** Table lock modes that conflict with ROW EXCLUSIVE, the lock every INSERT, UPDATE and DELETE takes. */
export const BLOCKS_WRITES: ReadonlySet<string> = new Set([
  "ShareLock",
  "ShareRowExclusiveLock",
  "ExclusiveLock",
  "AccessExclusiveLock",
]);

/**
 * True for PostgreSQL's strongest table lock whichever way it is spelled: pg_locks says
 * "AccessExclusiveLock", the docs and people say "ACCESS EXCLUSIVE".
 */
export function isAccessExclusive(mode: string | null | undefined): boolean {
  if (!mode) return false;
  return (
    mode
      .replace(/[\s_-]/g, "")
      .toLowerCase()
      .replace(/lock$/, "") === "accessexclusive"
  );
}

export interface LongestHold {
  section: "migration" | "rollback";
  phase: string;
  relation: string;
  mode: string;
  held_ms: number;
  /** How long the statement waited for the lock before holding it (not part of held_ms). */
  waited_ms?: number;
  step: string;
  statement: number;
  in_transaction: boolean;
}

/**
 * The lock timeline boiled down to what an SRE asks: in each phase, how long was each relation held in
 * each mode at worst. Phases in run order (as in `phases`, then any only seen in `locks`); within a phase,
 * longest hold first.
 */
export function longestHolds(report: RunReport): LongestHold[][] {
  const byPhase = new Map<string, Map<string, LockHold>>();
  const key = (section: string, phase: string) => `${section}\u0000${phase}`;
  for (const p of report.phases) byPhase.set(key(p.section, p.name), new Map());
  for (const l of report.locks) {
    const pk = key(l.section, l.phase);
    let m = byPhase.get(pk);
    if (!m) {
      m = new Map();
      byPhase.set(pk, m);
    }
    const rk = `${l.relation_oid}\u0000${l.relation}\u0000${l.mode}`;
    const prev = m.get(rk);
    if (!prev || l.held_ms > prev.held_ms) m.set(rk, l);
  }
  const out: LongestHold[][] = [];
  for (const m of byPhase.values()) {
    if (m.size === 0) continue;
    out.push(
      [...m.values()]
        .sort((a, b) => b.held_ms - a.held_ms)
        .map((l) => ({
          section: l.section,
          phase: l.phase,
          relation: l.relation,
          mode: l.mode,
          held_ms: l.held_ms,
          waited_ms: l.waited_ms,
          step: l.step,
          statement: l.statement,
          in_transaction: l.in_transaction,
        })),
    );
  }
  return out;
}

export interface ExclusiveWork {
  effect: StatementEffect;
  /** What the statement did: "sequential scan of 1,200,000 rows", "table rewrite", or both. */
  what: string;
  /** How long the ACCESS EXCLUSIVE lock that covered it was held, when the timeline saw it. */
  held_ms?: number;
}

/**
 * Statements that scanned or rewrote a hot table while holding ACCESS EXCLUSIVE on it: every query on that
 * table (reads included) queued behind them for the whole scan. This is the finding most worth a line.
 */
export function hotExclusiveWork(report: RunReport): ExclusiveWork[] {
  const out: ExclusiveWork[] = [];
  for (const e of report.effects) {
    if (!e.hot || !isAccessExclusive(e.held_mode)) continue;
    if (e.seq_scans <= 0 && !e.rewritten) continue;
    const parts: string[] = [];
    if (e.seq_scans > 0) {
      const scans = e.seq_scans === 1 ? "sequential scan" : `${formatNumber(e.seq_scans)} sequential scans`;
      parts.push(`${scans} reading ${formatNumber(e.seq_tup_read)} rows`);
    }
    if (e.rewritten) parts.push("table rewrite");
    let held: number | undefined;
    for (const l of report.locks) {
      if (
        l.section === e.section &&
        l.phase === e.phase &&
        l.step === e.step &&
        l.statement === e.statement &&
        l.relation_oid === e.relation_oid &&
        isAccessExclusive(l.mode)
      ) {
        held = Math.max(held ?? 0, l.held_ms);
      }
    }
    out.push(
      held === undefined
        ? { effect: e, what: parts.join(" + ") }
        : { effect: e, what: parts.join(" + "), held_ms: held },
    );
  }
  return out;
}

/** One line on whether the run did what the scenario said it would. */
export function expectationLine(report: RunReport): string {
  const x = report.expectation;
  const expected =
    x.verdict === "fail"
      ? `expected to fail${x.failing.length ? ` with ${x.failing.join(", ")}` : ""}`
      : "expected to pass";
  return `${expected}: ${x.met ? "met" : "NOT met"}${x.explanation ? ` (${x.explanation})` : ""}`;
}

/** "2 of 9 checks failed, 1 errored" — the headline count under the verdict. */
export function checkCounts(report: RunReport): string {
  const n = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  const total = report.checks.length;
  if (total === 0) return "no checks ran";
  const parts = [`${n("fail")} of ${total} checks failed`];
  if (n("error")) parts.push(`${n("error")} errored`);
  if (n("skipped")) parts.push(`${n("skipped")} skipped`);
  return parts.join(", ");
}

/** Collapses a multi-line message to one line, for XML attributes and one-line summaries. */
export function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, " ").trim();
}
