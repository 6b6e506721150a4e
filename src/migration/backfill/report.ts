/** A backfill step's result has one shape however it ended: a summary statement, its facts, an error. */
import type { BackfillFacts, SqlErrorInfo, StatementResult, StepResult } from "../../report/model.ts";
import type { ResolvedBackfillStep } from "../../scenario/load.ts";
import type { ThrottleStats } from "../throttle.ts";

export type BackfillResult = Omit<StepResult, "section" | "phase" | "name">;

type Backfill = ResolvedBackfillStep["backfill"];

/** The facts before anything ran; the step fills them in as it goes. */
export function emptyFacts(b: Backfill): BackfillFacts {
  return {
    source: b.source,
    target: b.target,
    rows: 0,
    batches: 0,
    workers: 0,
    resumed_rows: 0,
    restarts: 0,
    faults_injected: 0,
    rows_per_s: 0,
    throttled_ms: 0,
    waited_for_lag_ms: 0,
    stale_lag_readings: 0,
    window_wait_ms: 0,
  };
}

export interface StepEnd {
  b: Backfill;
  /** Where the step is in scenario.yaml. */
  where: { file?: string; line?: number; column?: number };
  facts: BackfillFacts;
  throttle: ThrottleStats;
  /** How long the step took. */
  ms: number;
  /** The batch SQL to show, once known ("" before). */
  shownSql: string;
}

/** The step's result; completes `end.facts` with the throttle's time and the rate. */
export function stepResult(end: StepEnd, error?: SqlErrorInfo): BackfillResult {
  const { b, where, facts, ms } = end;
  Object.assign(facts, end.throttle);
  facts.rows_per_s = ms > 0 ? Math.round(facts.rows / (ms / 1000)) : 0;
  const summary: StatementResult = {
    index: 0,
    sql: shorten(end.shownSql || `backfill ${b.source} → ${b.target}`),
    file: where.file,
    line: where.line,
    duration_ms: ms,
    status: error ? "error" : "success",
  };
  return {
    status: error ? "error" : "success",
    transaction: false,
    attempts: 1,
    statements: [summary],
    error: error ? { file: where.file, line: where.line, column: where.column, ...error } : undefined,
    backfill: facts,
  };
}

function shorten(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}
