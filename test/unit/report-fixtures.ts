/**
 * Realistic RunReports for reporter tests, shaped like what a rehearsal of a partition ATTACH produces.
 * Each builder returns a fresh object, so a test may mutate its copy.
 */
import {
  type CheckResult,
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

export const ALL_FIXTURES = { passingRun, failingRun, inconclusiveRun, expectedFailureRun };
