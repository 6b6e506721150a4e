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
  /**
   * What the statement does, from its parse tree, when rehearse knows a non-blocking form of it
   * ("create_index", "reindex", "add_foreign_key", "attach_partition", "add_column"…): the remediation names it.
   */
  operations?: string[];
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
  /** The fault this step injected (fault steps only). */
  fault?: string;
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
  /** The table it protects when it is not one: an index's table, a partition's partitioned root. */
  table?: string;
  mode: string;
  acquired_ms: number;
  released_ms: number;
  held_ms: number;
  /** false: observed by sampling while a statement ran outside a transaction (CONCURRENTLY …). */
  in_transaction: boolean;
  /**
   * How long the statement waited to acquire this lock before `acquired_ms` (behind another session); the
   * wait is not part of `held_ms`. Absent when it did not wait (and in reports written before waits were told
   * apart, whose held_ms included any wait).
   */
  waited_ms?: number;
}

/** Who a waiting migration statement waited for (pg_blocking_pids of the migration's backend). */
export interface LockBlocker {
  pid: number;
  /** `background session <name>`, `load`, or the blocker's query text (redacted, truncated). */
  name: string;
  kind: "background" | "load" | "query";
  /** pg_stat_activity.state when last seen: active, idle in transaction… */
  state?: string;
}

/**
 * Time the migration's backend spent waiting to acquire one relation lock, sampled from a second connection
 * while the statement ran (pg_locks.waitstart gives the start). Times are ms since run start.
 */
export interface LockWait {
  section: "migration" | "rollback";
  phase: string;
  step: string;
  statement: number;
  /** The step's attempt (retries on lock_timeout each wait again). */
  attempt: number;
  relation: string;
  relation_oid: number;
  relkind: string | null;
  mode: string;
  started_ms: number;
  ended_ms: number;
  wait_ms: number;
  /** granted: the lock was acquired; timeout: the statement gave up (lock_timeout, 55P03); error: it failed otherwise. */
  outcome: "granted" | "timeout" | "error";
  blockers: LockBlocker[];
  /** Distinct load requests seen waiting on the migration's backend while it waited (the lock queue). */
  queued_load_requests: number;
  /** Longest a load request spent queued behind the migration's backend during this wait, ms. */
  queued_load_max_ms: number;
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
  /** pg_class.relkind of the relation ("r" table, "i" index, "m" materialized view), when known. */
  relkind?: string;
  /** An index created by the statement on a table that existed before it (CREATE INDEX, ADD UNIQUE…). */
  built?: boolean;
  /** An index: the table it belongs to, whether that table is hot, and the strongest lock held on it. */
  table?: string;
  table_hot?: boolean;
  table_mode?: string | null;
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
  /**
   * Problems the check counted but did not list (its examples are capped: no_lost_writes lists 10 missing
   * keys of 293 → 283). Reporters add it to "… and N more". Absent when every problem is listed.
   */
  unlisted?: number;
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
  /**
   * Requests that arrived in the window and were never sent (over max_in_flight, or waiting past drop_after):
   * failures the application saw, counted in the error rate. Absent in reports written before it was counted.
   */
  dropped?: number;
  /** Completed operations (counted in `count`) that finished more than drop_after after their intended start. */
  late?: number;
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

/**
 * One bucket of a step's sub-second series (`LoadReport.detail`): successful writes that completed in
 * [t_ms, t_ms + bucket_ms) and their latency from intended start (ms; 0 when none), failed writes as errors.
 */
export interface LoadDetailPoint {
  t_ms: number;
  writes: number;
  errors: number;
  write_p50: number;
  write_p99: number;
  write_max: number;
}

/**
 * A migration or rollback step at a resolution that shows it: buckets of `bucket_ms` (10 ms, doubled until
 * the track fits 256 buckets) from `from_ms` (500 ms before the step) to `to_ms` (500 ms after it); buckets
 * with no completion are left out. Quantiles are at most 9 % above the exact value, never above the max.
 */
export interface LoadDetail {
  section: "migration" | "rollback";
  phase: string;
  step: string;
  started_ms: number;
  ended_ms: number;
  from_ms: number;
  to_ms: number;
  bucket_ms: number;
  points: LoadDetailPoint[];
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
  /** Sub-second writes per migration/rollback step (absent in older reports and without steps). */
  detail?: LoadDetail[];
  /** Periods with no successful write: paused by a step, or every write failing/blocked. */
  unavailability: { from_ms: number; to_ms: number; reason: "paused" | "blocked" | "errors" }[];
  ack: { acknowledged: number; indeterminate: number; file: string };
  /** History rows read; wrapped counts how often the source started over. */
  source: { rows_read: number; wrapped: number };
  /** Flag changes as the load saw them: when the step set them and when the load first acted on them. */
  flags: { name: string; value: boolean; set_ms: number; seen_ms: number }[];
  /** SQLSTATEs the scenario declares the application expects and handles (load.expected_errors): not failures. */
  expected_errors?: string[];
  /**
   * Per operation of the write mix (load.write.mix): its weight and share, the write arrivals picked for it
   * (paused and dropped included), and how many succeeded, failed and were dropped. Absent without a mix.
   */
  operations?: {
    name: string;
    weight: number;
    share: number;
    intended: number;
    ok: number;
    errors: number;
    dropped: number;
  }[];
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

/** One run of a background session (scenario `background:`): when it ran, what it held, what it got in the way of. */
export interface BackgroundRun {
  name: string;
  kind: string;
  table?: string;
  /** 1 for a session started at a step; 1, 2, … for a scheduled one. */
  occurrence: number;
  /** What started it: the "phase/step" it was started just before, or "schedule". */
  trigger: string;
  /** Its backend (application_name `rehearse background <name>`). */
  pid?: number;
  /** How long it was to run, and when it ran (ms since run start). */
  planned_ms: number;
  started_ms: number;
  ended_ms?: number;
  /** completed: its duration ran out; ended_by_harness: the steps ended (or the run failed or was interrupted) first. */
  ended?: "completed" | "ended_by_harness" | "error";
  error?: { sqlstate?: string; message: string };
  /** Relation locks it was seen holding ("AccessShareLock on public.ledger"), sampled every 100 ms. */
  held: string[];
  /** Backends seen waiting behind it (pg_blocking_pids), sampled every 100 ms. */
  blocked: {
    /** Longest observed wait of the migration's backend behind it, ms (0: never seen waiting for it). */
    migration_wait_ms: number;
    /** Distinct load backends seen waiting behind it, and the most at one sample. */
    load_backends: number;
    max_waiters: number;
    /** Other sessions seen waiting behind it (their application_name). */
    others: string[];
  };
  /** Longest observed wait of the session itself for a lock, ms. */
  waited_ms: number;
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
    /** Production's rows per table, when known: the source's reltuples that `rehearse init` recorded. */
    source_rows?: Record<string, number>;
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
  /** Lock waits of the migration's backend (absent in reports written before waits were traced). */
  lock_waits?: LockWait[];
  /** Runs of the scenario's background sessions (absent when it has none). */
  background?: BackgroundRun[];
  effects: StatementEffect[];
  checks: CheckResult[];
  /** Ids of failing checks, failures first order as in `checks`. */
  failing: string[];
  expectation: { verdict: "pass" | "fail"; failing: string[]; met: boolean; explanation: string };
}
