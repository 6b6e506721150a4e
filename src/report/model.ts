/**
 * The run-result model: the one structure every reporter (json, markdown, junit, terminal, later html) reads.
 * report.json is this object serialised; `schema_version` changes whenever a field changes meaning.
 */

export const REPORT_SCHEMA_VERSION = 1;

export type RunStatus = "passed" | "failed" | "inconclusive" | "aborted";
export type StepStatus = "success" | "error" | "not_executed";
export type CheckStatus = "pass" | "fail" | "error" | "skipped";

/** A failed SQL statement, located in the scenario's files. */
export interface SqlErrorInfo {
  sqlstate?: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Scenario-relative file ("migration/03_cutover.sql") or "scenario.yaml" for inline SQL. */
  file?: string;
  line?: number;
  column?: number;
  /** The offending source line followed by a caret line under the error position. */
  excerpt?: string;
}

export interface StatementResult {
  index: number;
  /** First 200 characters of the statement, whitespace collapsed. */
  sql: string;
  file?: string;
  line?: number;
  duration_ms: number;
  status: StepStatus;
}

export interface StepResult {
  section: "migration" | "rollback";
  phase: string;
  name: string;
  status: StepStatus;
  transaction: boolean;
  attempts: number;
  started_ms?: number;
  duration_ms?: number;
  statements: StatementResult[];
  error?: SqlErrorInfo;
}

export interface PhaseResult {
  section: "migration" | "rollback";
  name: string;
  status: StepStatus;
  started_ms?: number;
  duration_ms?: number;
}

/** One relation lock held by the migration's backend: the lock timeline. Times are ms since run start. */
export interface LockHold {
  section: "migration" | "rollback";
  phase: string;
  step: string;
  /** Index of the statement that took the lock, within its step. */
  statement: number;
  relation: string;
  relation_oid: number;
  /** pg_class.relkind: r table, p partitioned table, i index…; null when dropped in the same transaction. */
  relkind: string | null;
  mode: string;
  acquired_ms: number;
  released_ms: number;
  held_ms: number;
  /** false: observed by sampling while a statement ran outside a transaction (CONCURRENTLY …). */
  in_transaction: boolean;
}

/** What one statement did to one relation: rows it read and whether it rewrote it, and under which lock. */
export interface StatementEffect {
  section: "migration" | "rollback";
  phase: string;
  step: string;
  statement: number;
  relation: string;
  relation_oid: number;
  seq_scans: number;
  seq_tup_read: number;
  idx_tup_fetch: number;
  rewritten: boolean;
  /** Strongest lock mode the backend held on the relation when the statement ended (null: none seen). */
  held_mode: string | null;
  hot: boolean;
}

export interface CheckResult {
  /** Stable id used by `expect.failing`, e.g. "triggers_preserved" or "budget.no_scan_under_access_exclusive". */
  id: string;
  kind: "invariant" | "budget";
  status: CheckStatus;
  /** One line a person can act on. */
  summary: string;
  /** Each concrete problem found, one line each. */
  findings: string[];
  /** What to change in the migration to fix it. */
  remediation?: string;
  /** Budgets: the measured value and the limit, same unit. */
  measured?: number;
  limit?: number;
  unit?: string;
  /** Checks re-run after `--rollback` carry stage "after_rollback". */
  stage?: "after_migration" | "after_rollback";
}

export interface SeedTableResult {
  table: string;
  rows: number;
  duration_ms: number;
  rows_per_s: number;
}

export interface RunReport {
  schema_version: typeof REPORT_SCHEMA_VERSION;
  tool: { name: "rehearse"; version: string };
  run_id: string;
  scenario: { name: string; path: string; description: string; writeup?: string };
  started_at: string;
  finished_at: string;
  duration_ms: number;
  status: RunStatus;
  exit_code: number;
  /** Why the run is inconclusive or aborted. */
  reason?: string;
  context: {
    provider: string;
    postgres_version?: string;
    settings: Record<string, string | number | boolean>;
    seed: number;
    scale: number;
    rows: Record<string, number>;
    rollback: boolean;
    node: string;
  };
  /** Wall time per harness stage, in the order they ran ("seeding", "running the migration"…). */
  timings: { stage: string; ms: number }[];
  seeding?: { tables: SeedTableResult[]; rows: number; duration_ms: number; rows_per_s: number };
  phases: PhaseResult[];
  steps: StepResult[];
  locks: LockHold[];
  effects: StatementEffect[];
  checks: CheckResult[];
  /** Ids of failing checks, failures first order as in `checks`. */
  failing: string[];
  expectation: { verdict: "pass" | "fail"; failing: string[]; met: boolean; explanation: string };
}
