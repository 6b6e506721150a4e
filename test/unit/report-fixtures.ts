/**
 * Realistic RunReports for reporter tests, shaped like what a rehearsal of a partition ATTACH produces.
 * Each builder returns a fresh object, so a test may mutate its copy.
 */
import {
  type CheckResult,
  type LatencySummary,
  type LoadWindow,
  REPORT_SCHEMA_VERSION,
  type RunReport,
  type StepResult,
} from "../../src/report/model.ts";

function base(): RunReport {
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    tool: { name: "rehearse", version: "0.1.0" },
    run_id: "20240611T101500Z-7f3a",
    scenario: {
      name: "orders-attach-partition",
      path: "scenarios/003-orders-attach/scenario.yaml",
      description: "Attach last year's orders as a partition of the live orders table",
    },
    started_at: "2024-06-11T10:15:00.000Z",
    finished_at: "2024-06-11T10:15:42.500Z",
    duration_ms: 42_500,
    status: "passed",
    exit_code: 0,
    timings: [
      { stage: "seeding", ms: 1200 },
      { stage: "running the migration", ms: 900 },
    ],
    context: {
      provider: "embedded",
      postgres_version: "17.2",
      settings: { lock_timeout: "2s", max_connections: 100, fsync: false },
      seed: 42,
      scale: 0.1,
      rows: { "public.orders": 1_200_000, "public.customers": 50_000 },
      rollback: false,
      node: "v20.20.2",
    },
    seeding: {
      tables: [
        { table: "public.customers", rows: 50_000, duration_ms: 610, rows_per_s: 81_967 },
        { table: "public.orders", rows: 1_200_000, duration_ms: 14_200, rows_per_s: 84_507 },
      ],
      rows: 1_250_000,
      duration_ms: 14_810,
      rows_per_s: 84_402,
    },
    phases: [
      { section: "migration", name: "expand", status: "success", started_ms: 15_000, duration_ms: 9_000 },
      { section: "migration", name: "cutover", status: "success", started_ms: 24_000, duration_ms: 4_600 },
    ],
    steps: [
      {
        section: "migration",
        phase: "expand",
        name: "create_partition",
        status: "success",
        transaction: true,
        attempts: 1,
        started_ms: 15_000,
        duration_ms: 8_950,
        statements: [
          {
            index: 0,
            sql: "CREATE TABLE orders_2023 (LIKE orders INCLUDING ALL)",
            file: "migration/01_expand.sql",
            line: 1,
            duration_ms: 40,
            status: "success",
          },
          {
            index: 1,
            sql: "INSERT INTO orders_2023 SELECT * FROM orders_legacy",
            file: "migration/01_expand.sql",
            line: 3,
            duration_ms: 8_900,
            status: "success",
          },
        ],
      },
      {
        section: "migration",
        phase: "cutover",
        name: "attach",
        status: "success",
        transaction: true,
        attempts: 2,
        started_ms: 24_000,
        duration_ms: 4_590,
        statements: [
          {
            index: 0,
            sql: "SET lock_timeout = '2s'",
            file: "migration/02_cutover.sql",
            line: 1,
            duration_ms: 1,
            status: "success",
          },
          {
            index: 1,
            sql: "ALTER TABLE orders ATTACH PARTITION orders_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')",
            file: "migration/02_cutover.sql",
            line: 2,
            duration_ms: 4_210,
            status: "success",
          },
        ],
      },
    ],
    locks: [
      {
        section: "migration",
        phase: "expand",
        step: "create_partition",
        statement: 1,
        relation: "public.orders_legacy",
        relation_oid: 16_410,
        relkind: "r",
        mode: "AccessShareLock",
        acquired_ms: 15_050,
        released_ms: 23_950,
        held_ms: 8_900,
        in_transaction: true,
      },
      {
        section: "migration",
        phase: "cutover",
        step: "attach",
        statement: 1,
        relation: "public.orders",
        relation_oid: 16_384,
        relkind: "p",
        mode: "AccessExclusiveLock",
        acquired_ms: 24_010,
        released_ms: 24_310,
        held_ms: 300,
        in_transaction: true,
      },
      {
        // The second attempt: the longest AccessExclusiveLock on orders; the 300 ms one above must not show.
        section: "migration",
        phase: "cutover",
        step: "attach",
        statement: 1,
        relation: "public.orders",
        relation_oid: 16_384,
        relkind: "p",
        mode: "AccessExclusiveLock",
        acquired_ms: 24_380,
        released_ms: 28_590,
        held_ms: 4_210,
        in_transaction: true,
      },
      {
        section: "migration",
        phase: "cutover",
        step: "attach",
        statement: 1,
        relation: "public.orders_2023",
        relation_oid: 16_400,
        relkind: "r",
        mode: "ShareUpdateExclusiveLock",
        acquired_ms: 24_380,
        released_ms: 28_590,
        held_ms: 4_210,
        in_transaction: true,
      },
    ],
    effects: [
      {
        section: "migration",
        phase: "expand",
        step: "create_partition",
        statement: 1,
        relation: "public.orders_legacy",
        relation_oid: 16_410,
        seq_scans: 1,
        seq_tup_read: 400_000,
        idx_tup_fetch: 0,
        rewritten: false,
        held_mode: "AccessShareLock",
        hot: false,
      },
    ],
    checks: [],
    failing: [],
    expectation: { verdict: "pass", failing: [], met: true, explanation: "all checks passed, as expected" },
  };
}

const passingChecks = (): CheckResult[] => [
  {
    id: "triggers_preserved",
    kind: "invariant",
    status: "pass",
    summary: "all 3 triggers on public.orders are present after the migration",
    findings: [],
  },
  {
    id: "row_count_preserved",
    kind: "invariant",
    status: "pass",
    summary: "public.orders has the same 1,200,000 rows",
    findings: [],
  },
  {
    id: "budget.max_lock_ms",
    kind: "budget",
    status: "pass",
    summary: "longest ACCESS EXCLUSIVE hold within budget",
    findings: [],
    measured: 180,
    limit: 2_000,
    unit: "ms",
  },
];

/** Every check passes. */
export function passingRun(): RunReport {
  const r = base();
  r.checks = passingChecks();
  return r;
}

/**
 * ATTACH PARTITION scanned the hot orders table under ACCESS EXCLUSIVE, and a foreign key was left NOT VALID.
 * Passing checks come first in `checks` on purpose, so a reporter that keeps model order puts them first.
 */
export function failingRun(): RunReport {
  const r = base();
  r.status = "failed";
  r.exit_code = 1;
  r.effects.push({
    section: "migration",
    phase: "cutover",
    step: "attach",
    statement: 1,
    relation: "public.orders",
    relation_oid: 16_384,
    seq_scans: 1,
    seq_tup_read: 1_200_000,
    idx_tup_fetch: 0,
    rewritten: false,
    held_mode: "AccessExclusiveLock",
    hot: true,
  });
  const [triggers, rows, maxLock] = passingChecks();
  r.checks = [
    triggers!,
    rows!,
    {
      id: "fk_valid",
      kind: "invariant",
      status: "fail",
      summary: "1 foreign key on public.orders is NOT VALID after the migration",
      findings: ["orders_2023_customer_id_fkey on public.orders_2023 | NOT VALID"],
      remediation:
        "VALIDATE CONSTRAINT orders_2023_customer_id_fkey in a later step; it takes only SHARE UPDATE EXCLUSIVE.",
    },
    {
      id: "sequence_ahead",
      kind: "invariant",
      status: "skipped",
      summary: "no sequences in scope",
      findings: [],
    },
    maxLock!,
    {
      id: "budget.no_scan_under_access_exclusive",
      kind: "budget",
      status: "fail",
      summary:
        "1 full scan(s) of a hot table under ACCESS EXCLUSIVE (1200000 rows read here; production reads them all while every query waits)",
      findings: [
        "cutover/attach statement 2 (migration/02_cutover.sql:2) seq-scanned hot table public.orders (1200000 rows read) while holding ACCESS EXCLUSIVE on it",
      ],
      remediation:
        "Add CHECK … NOT VALID matching the partition bound and VALIDATE CONSTRAINT it in an earlier step, so ATTACH skips the scan.",
      measured: 1_200_000,
      limit: 0,
      unit: "rows",
    },
  ];
  r.failing = ["fk_valid", "budget.no_scan_under_access_exclusive"];
  r.expectation = {
    verdict: "pass",
    failing: [],
    met: false,
    explanation: "fk_valid and budget.no_scan_under_access_exclusive failed unexpectedly",
  };
  return r;
}

/** The cutover step hit lock_timeout after its retries: no verdict on the migration. */
export function inconclusiveRun(): RunReport {
  const r = base();
  r.status = "inconclusive";
  r.exit_code = 3;
  r.reason = "step cutover/attach failed with lock_timeout after 3 attempts; the checks did not run";
  const attach = r.steps[1]! as StepResult;
  attach.status = "error";
  attach.attempts = 3;
  attach.statements[1]!.status = "error";
  attach.error = {
    sqlstate: "55P03",
    message: "canceling statement due to lock timeout",
    hint: "Another session holds a lock on orders | check pg_stat_activity",
    file: "migration/02_cutover.sql",
    line: 2,
    column: 13,
    excerpt:
      "ALTER TABLE orders ATTACH PARTITION orders_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');\n            ^",
  };
  r.phases[1]!.status = "error";
  r.checks = passingChecks().map((c) => ({
    ...c,
    status: "skipped",
    summary: "not run: the migration did not complete",
  }));
  r.expectation = {
    verdict: "pass",
    failing: [],
    met: false,
    explanation: "no verdict: the run is inconclusive",
  };
  return r;
}

/** The scenario demonstrates the scan: expect.failing names it and it failed, so the run passed. */
export function expectedFailureRun(): RunReport {
  const r = failingRun();
  r.checks = r.checks.filter((c) => c.id !== "fk_valid");
  r.status = "passed";
  r.exit_code = 0;
  r.failing = ["budget.no_scan_under_access_exclusive"];
  r.expectation = {
    verdict: "fail",
    failing: ["budget.no_scan_under_access_exclusive"],
    met: true,
    explanation: "budget.no_scan_under_access_exclusive failed, as expected",
  };
  return r;
}

function latency(
  p50: number,
  p95: number,
  p99: number,
  p999: number,
  max: number,
  count: number,
): LatencySummary {
  return { count, p50, p95, p99, p999, max, mean: (p50 + p95) / 2 };
}

function window(
  w: Pick<LoadWindow, "section" | "phase" | "step" | "kind" | "started_ms" | "ended_ms" | "count"> &
    Partial<LoadWindow> & { p: [number, number, number, number, number] },
): LoadWindow {
  const { p, ...rest } = w;
  const errors = w.errors ?? 0;
  const seconds = (w.ended_ms - w.started_ms) / 1000;
  return {
    errors,
    errors_by_sqlstate: {},
    throughput: seconds > 0 ? Math.round(((w.count - errors) / seconds) * 10) / 10 : 0,
    latency: latency(...p, w.count),
    // Service time close to latency except where requests queued before being sent.
    service: latency(p[0] * 0.9, p[1] * 0.9, p[2] * 0.95, p[3] * 0.95, p[4], w.count),
    longest_unavailability_ms: 0,
    ...rest,
  };
}

/**
 * A rehearsal under replayed write load (2,000 writes/s, 200 reads/s). The timeline, in ms since run start:
 *
 *   13,000–15,000  warmup                     write p99 12.3 ms: the baseline
 *   15,000–24,000  expand/create_partition    p99 14.8 ms: not a step that hurts (under 2× the baseline)
 *   24,000–25,200  cutover/attach             holds AccessExclusiveLock on public.orders 1.18 s: 37 load
 *                                             requests wait (blocked unavailability 1.16 s), p99 1,100 ms
 *   25,200–25,250  cutover/pause_writes
 *   25,250–26,440  cutover/swap_names         writers paused 25,260–26,460 (1.2 s), spilling 20 ms into…
 *   26,440–26,470  cutover/resume_writes      p99 45 ms as writers reconnect
 *   26,800–27,800  cooldown
 *
 * The cutover phase's write p99 is 900 ms against a 250 ms budget: `budget.load.write_p99.cutover` fails.
 * Dead tuples on public.orders grow from 1,200 to 75,000 with one autovacuum run in between.
 */
export function loadRun(): RunReport {
  const r = base();
  r.status = "failed";
  r.exit_code = 1;
  r.phases = [
    { section: "migration", name: "expand", status: "success", started_ms: 15_000, duration_ms: 9_000 },
    { section: "migration", name: "cutover", status: "success", started_ms: 24_000, duration_ms: 2_800 },
  ];
  const step = (name: string, started_ms: number, duration_ms: number, sql: string): StepResult => ({
    section: "migration",
    phase: "cutover",
    name,
    status: "success",
    transaction: true,
    attempts: 1,
    started_ms,
    duration_ms,
    statements: [
      { index: 0, sql, file: "migration/02_cutover.sql", line: 1, duration_ms, status: "success" },
    ],
  });
  r.steps = [
    r.steps[0]!,
    step(
      "attach",
      24_000,
      1_200,
      "ALTER TABLE orders ATTACH PARTITION orders_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')",
    ),
    step("pause_writes", 25_200, 50, "-- pause_writes"),
    step("swap_names", 25_250, 1_190, "ALTER TABLE orders RENAME TO orders_old"),
    step("resume_writes", 26_440, 30, "-- resume_writes"),
  ];
  r.locks = [
    {
      section: "migration",
      phase: "cutover",
      step: "attach",
      statement: 0,
      relation: "public.orders",
      relation_oid: 16_384,
      relkind: "p",
      mode: "AccessExclusiveLock",
      acquired_ms: 24_010,
      released_ms: 25_190,
      held_ms: 1_180,
      in_transaction: true,
    },
  ];
  r.effects = [];
  r.checks = [
    {
      id: "no_lost_writes",
      kind: "invariant",
      status: "pass",
      summary: "all 26,903 acknowledged writes are in public.orders (2 indeterminate)",
      findings: [],
    },
    {
      id: "budget.load.write_p99.expand",
      kind: "budget",
      status: "pass",
      summary: "write p99 in expand within budget",
      findings: [],
      measured: 14.8,
      limit: 250,
      unit: "ms",
    },
    {
      id: "budget.load.write_p99.cutover",
      kind: "budget",
      status: "fail",
      summary: "write p99 in cutover was 900 ms, over the 250 ms budget",
      findings: [
        "cutover/attach held AccessExclusiveLock on public.orders for 1.2 s while 37 load requests waited",
      ],
      remediation: "Add a CHECK constraint matching the partition bound and validate it before the cutover.",
      measured: 900,
      limit: 250,
      unit: "ms",
    },
  ];
  r.failing = ["budget.load.write_p99.cutover"];
  r.expectation = {
    verdict: "pass",
    failing: [],
    met: false,
    explanation: "budget.load.write_p99.cutover failed unexpectedly",
  };
  const cutoverErrors = { "55P03": 30, "57014": 5, connection: 2 };
  r.load = {
    engine: "native",
    mode: "reverse",
    rate: 2_000,
    connections: 64,
    totals: {
      intended: 32_290,
      writes_ok: 26_903,
      reads_ok: 2_950,
      errors: 37,
      late: 140,
      dropped: 0,
      paused: 2_400,
      errors_by_sqlstate: cutoverErrors,
    },
    windows: [
      // Phase windows, writes.
      window({
        section: "warmup",
        phase: "warmup",
        step: null,
        kind: "write",
        started_ms: 13_000,
        ended_ms: 15_000,
        count: 3_960,
        p: [3.1, 8.2, 12.3, 30, 80],
        longest_unavailability_ms: 15,
      }),
      window({
        section: "migration",
        phase: "expand",
        step: null,
        kind: "write",
        started_ms: 15_000,
        ended_ms: 24_000,
        count: 17_820,
        p: [3.4, 9, 14.8, 40, 95],
        longest_unavailability_ms: 20,
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: null,
        kind: "write",
        started_ms: 24_000,
        ended_ms: 26_800,
        count: 3_180,
        errors: 37,
        errors_by_sqlstate: cutoverErrors,
        p: [6.2, 640, 900, 1_150, 1_180],
        longest_unavailability_ms: 1_200,
      }),
      window({
        section: "cooldown",
        phase: "cooldown",
        step: null,
        kind: "write",
        started_ms: 26_800,
        ended_ms: 27_800,
        count: 1_980,
        p: [3.2, 8.5, 13.1, 31, 70],
      }),
      // Phase windows, reads.
      window({
        section: "warmup",
        phase: "warmup",
        step: null,
        kind: "read",
        started_ms: 13_000,
        ended_ms: 15_000,
        count: 400,
        p: [1.1, 2.5, 4.1, 6, 9],
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: null,
        kind: "read",
        started_ms: 24_000,
        ended_ms: 26_800,
        count: 560,
        p: [1.4, 700, 1_150, 1_170, 1_175],
      }),
      // Step windows, writes.
      window({
        section: "migration",
        phase: "expand",
        step: "create_partition",
        kind: "write",
        started_ms: 15_000,
        ended_ms: 23_950,
        count: 17_720,
        p: [3.4, 9, 14.8, 40, 95],
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: "attach",
        kind: "write",
        started_ms: 24_000,
        ended_ms: 25_200,
        count: 2_400,
        errors: 37,
        errors_by_sqlstate: cutoverErrors,
        p: [8, 1_050, 1_100, 1_160, 1_180],
        longest_unavailability_ms: 1_160,
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: "pause_writes",
        kind: "write",
        started_ms: 25_200,
        ended_ms: 25_250,
        count: 90,
        p: [3, 6, 9, 9, 9],
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: "swap_names",
        kind: "write",
        started_ms: 25_250,
        ended_ms: 26_440,
        count: 0,
        p: [0, 0, 0, 0, 0],
        longest_unavailability_ms: 1_180,
      }),
      window({
        section: "migration",
        phase: "cutover",
        step: "resume_writes",
        kind: "write",
        started_ms: 26_440,
        ended_ms: 26_470,
        count: 40,
        p: [12, 40, 45, 45, 45],
      }),
    ],
    series: [
      {
        t: 24,
        writes: 1_210,
        reads: 100,
        errors: 30,
        write_p50: 8,
        write_p99: 1_100,
        read_p99: 1_150,
        in_flight: 37,
      },
      {
        t: 25,
        writes: 400,
        reads: 100,
        errors: 7,
        write_p50: 6,
        write_p99: 1_180,
        read_p99: 900,
        in_flight: 0,
      },
    ],
    unavailability: [
      // Out of time order on purpose: the reporter sorts.
      { from_ms: 25_260, to_ms: 26_460, reason: "paused" },
      { from_ms: 24_020, to_ms: 25_180, reason: "blocked" },
    ],
    ack: { acknowledged: 26_903, indeterminate: 2, file: "reports/20240611T101500Z-7f3a/acks.txt" },
    source: { rows_read: 29_300, wrapped: 0 },
    flags: [
      { name: "__writes_paused", value: true, set_ms: 25_210, seen_ms: 25_260 },
      { name: "__writes_paused", value: false, set_ms: 26_440, seen_ms: 26_460 },
    ],
  };
  // Proposed model fields (not in model.ts yet): the first message per SQLSTATE.
  Object.assign(r.load, {
    error_samples: [
      { sqlstate: "55P03", message: "canceling statement due to lock timeout", first_ms: 25_010 },
      { sqlstate: "57014", message: "canceling statement due to statement timeout", first_ms: 25_100 },
    ],
  });
  r.observations = {
    interval_ms: 100,
    samples: 148,
    blocking: [
      {
        // Reads waiting behind the rename while writers were paused: fewer waiters, listed second.
        blocker_pid: 4_242,
        blocker_is_migration: true,
        relation: "public.orders",
        mode: "AccessExclusiveLock",
        started_ms: 25_300,
        ended_ms: 26_400,
        max_waiters: 4,
        load_waiters: 4,
        longest_wait_ms: 300,
        phase: "cutover",
        step: "swap_names",
      },
      {
        blocker_pid: 4_242,
        blocker_is_migration: true,
        relation: "public.orders",
        mode: "AccessExclusiveLock",
        started_ms: 24_020,
        ended_ms: 25_190,
        max_waiters: 37,
        load_waiters: 37,
        longest_wait_ms: 1_160,
        phase: "cutover",
        step: "attach",
        // Proposed model field: one blocked load query.
        ...{ waiter_query: "INSERT INTO orders (customer_id, amount) VALUES ($1, $2)" },
      },
      {
        // Two writers contending for the same customer row: the application's own contention.
        blocker_pid: 5_001,
        blocker_is_migration: false,
        relation: "public.customers",
        mode: "ShareLock",
        started_ms: 16_000,
        ended_ms: 16_040,
        max_waiters: 1,
        load_waiters: 1,
        longest_wait_ms: 40,
        phase: "expand",
        step: "create_partition",
      },
    ],
    tables: [
      { t: 13_000, table: "public.orders", live: 1_200_000, dead: 1_200, autovacuum_running: false },
      { t: 20_000, table: "public.orders", live: 1_212_000, dead: 40_000, autovacuum_running: false },
      { t: 24_500, table: "public.orders", live: 1_214_000, dead: 85_000, autovacuum_running: true },
      { t: 25_000, table: "public.orders", live: 1_215_000, dead: 90_000, autovacuum_running: true },
      { t: 26_000, table: "public.orders", live: 1_216_000, dead: 60_000, autovacuum_running: false },
      { t: 27_800, table: "public.orders", live: 1_218_000, dead: 75_000, autovacuum_running: false },
      { t: 13_000, table: "public.customers", live: 50_000, dead: 10, autovacuum_running: false },
      { t: 27_800, table: "public.customers", live: 50_000, dead: 900, autovacuum_running: false },
    ],
    wal: [
      { t: 14_000, bytes_per_s: 2_202_010 },
      { t: 16_000, bytes_per_s: 50_331_648 },
      { t: 24_500, bytes_per_s: 3_145_728 },
    ],
    replication_lag: [],
  };
  return r;
}

export const ALL_FIXTURES = { passingRun, failingRun, inconclusiveRun, expectedFailureRun, loadRun };
