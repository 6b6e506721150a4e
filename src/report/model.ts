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
  /** What a backfill step did (backfill steps only). */
  backfill?: BackfillFacts;
}

/** A backfill step's facts: rows moved, how fast, how often it was held back, how often a worker restarted. */
export interface BackfillFacts {
  source: string;
  target: string;
  /** Rows copied (or moved) by this run of the step, as committed (read back from the state table). */
  rows: number;
  /** Batches committed by this run of the step. */
  batches: number;
  workers: number;
  /** The key range covered, [key_from, key_to); absent when the source was empty. */
  key_from?: number;
  key_to?: number;
  /** Rows an earlier, interrupted run of the same step had already copied (0 for a fresh start). */
  resumed_rows: number;
  /** Worker reconnections after a lost connection (a killed backend, a restarted server). */
  restarts: number;
  /** Worker backends terminated by `fault: kill_backfill_worker`. */
  faults_injected: number;
  rows_per_s: number;
  /** Time held back by the throttle, summed over workers: sleeps, lag waits and window waits. */
  throttled_ms: number;
  waited_for_lag_ms: number;
  /** Lag readings that were stale or missing (each one waited on). */
  stale_lag_readings: number;
  window_wait_ms: number;
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

/** Latency distribution in ms, from HDR histograms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** What the load saw in one window: a phase (step null) or one step of a phase. */
export interface LoadWindow {
  section: "warmup" | "migration" | "rollback" | "cooldown";
  phase: string;
  step: string | null;
  kind: "write" | "read";
  started_ms: number;
  ended_ms: number;
  /** Completed operations (success or error). */
  count: number;
  errors: number;
  /** SQLSTATE (or "timeout", "connection") → count. */
  errors_by_sqlstate: Record<string, number>;
  /** Successful operations per second over the window. */
  throughput: number;
  /** From each request's intended start (no coordinated omission). */
  latency: LatencySummary;
  /** From when the request was actually sent. */
  service: LatencySummary;
  /** Longest stretch in the window with no successful write, ms. */
  longest_unavailability_ms: number;
}

/** One second of the load. */
export interface LoadSecond {
  t: number;
  writes: number;
  reads: number;
  errors: number;
  write_p50: number;
  write_p99: number;
  read_p99: number;
  in_flight: number;
}

export interface LoadReport {
  engine: string;
  mode: "reverse" | "forward";
  rate: number | { duration_ms: number; target: number }[];
  connections: number;
  totals: {
    intended: number;
    writes_ok: number;
    reads_ok: number;
    errors: number;
    /** Requests that started late because every slot was busy (latency still counted from intent). */
    late: number;
    /** Requests never sent: later than drop_after, or over max_in_flight. */
    dropped: number;
    /** Write arrivals skipped while writers were paused. */
    paused: number;
    errors_by_sqlstate: Record<string, number>;
  };
  /**
   * When load connections were lost (ms since run start: a terminated backend, a restarted server); the
   * engine replaced each one. Absent when none was.
   */
  connection_losses?: number[];
  /** The first message seen for each SQLSTATE (ms since run start), so a report says what failed. */
  error_samples?: { sqlstate: string; message: string; first_ms?: number }[];
  windows: LoadWindow[];
  series: LoadSecond[];
  /** Periods with no successful write: paused by a step, or every write failing/blocked. */
  unavailability: { from_ms: number; to_ms: number; reason: "paused" | "blocked" | "errors" }[];
  ack: { acknowledged: number; indeterminate: number; file: string };
  /** History rows read; wrapped counts how often the source started over. */
  source: { rows_read: number; wrapped: number };
  /** Flag changes as the load saw them: when the step set them and when the load first acted on them. */
  flags: { name: string; value: boolean; set_ms: number; seen_ms: number }[];
}

/** A backend waiting for a lock another backend holds: sampled by the lock observer. */
export interface BlockingEpisode {
  blocker_pid: number;
  /** The blocker is the migration's own connection. */
  blocker_is_migration: boolean;
  relation: string | null;
  mode: string;
  started_ms: number;
  ended_ms: number;
  /** Most waiters seen at once, and how many distinct load backends waited. */
  max_waiters: number;
  load_waiters: number;
  /** Most load requests waiting at once (what max_blocked_by_one_lock judges). */
  max_load_waiters?: number;
  longest_wait_ms: number;
  /** Phase/step running when it started. */
  phase: string | null;
  step: string | null;
}

export interface TableSample {
  t: number;
  table: string;
  live: number;
  dead: number;
  autovacuum_running: boolean;
}

export interface Observations {
  interval_ms: number;
  samples: number;
  blocking: BlockingEpisode[];
  tables: TableSample[];
  /** WAL generated per second. */
  wal: { t: number; bytes_per_s: number }[];
  /** Replication replay lag (only when a replica exists). */
  replication_lag: { t: number; lag_ms: number }[];
  /** An observer that died makes the run inconclusive. */
  failure?: string;
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
    /**
     * How the clone was made: `method` initdb (empty, then seeded), overlay / reflink / copy (a thin copy of a
     * cached seeded cluster), provisioned (a cloud clone) or existing (a URL target); `cache` hit / miss / off.
     */
    clone?: {
      method: string;
      cache: "hit" | "miss" | "off";
      cache_key?: string;
      teardown_error?: string;
      /** The container image the clone ran (provider container). */
      image?: string;
    };
    /** Present when the clone had a streaming replica (target.replica): the replica's own settings. */
    replica?: { settings: Record<string, string | number | boolean> };
  };
  /** Wall time per harness stage, in the order they ran ("seeding", "running the migration"…). */
  timings: { stage: string; ms: number }[];
  seeding?: { tables: SeedTableResult[]; rows: number; duration_ms: number; rows_per_s: number };
  /** Present when the scenario has a load section. */
  load?: LoadReport;
  observations?: Observations;
  phases: PhaseResult[];
  steps: StepResult[];
  locks: LockHold[];
  effects: StatementEffect[];
  checks: CheckResult[];
  /** Ids of failing checks, failures first order as in `checks`. */
  failing: string[];
  expectation: { verdict: "pass" | "fail"; failing: string[]; met: boolean; explanation: string };
}
