/**
 * Reads a report.json back (to re-render it, compare runs, or gate CI on it). The schema version is checked
 * first and on its own, so a report from another rehearse version fails with "version 2, expected 1" rather
 * than with a list of field errors; then the shape is validated, so a reporter never meets a missing field.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { REPORT_SCHEMA_VERSION, type RunReport } from "./model.ts";

const Section = z.enum(["migration", "rollback"]);
const StepStatus = z.enum(["success", "error", "not_executed"]);
const num = z.number();

// Loose objects: fields added to the model later (optional ones do not bump schema_version) are kept, so a
// report re-rendered by this version loses nothing. Every field a reporter reads is checked.
const SqlErrorInfo = z.looseObject({
  sqlstate: z.string().optional(),
  message: z.string(),
  detail: z.string().optional(),
  hint: z.string().optional(),
  file: z.string().optional(),
  line: num.optional(),
  column: num.optional(),
  excerpt: z.string().optional(),
});

const StatementResult = z.looseObject({
  index: num,
  sql: z.string(),
  file: z.string().optional(),
  line: num.optional(),
  duration_ms: num,
  status: StepStatus,
});

const StepResult = z.looseObject({
  section: Section,
  phase: z.string(),
  name: z.string(),
  status: StepStatus,
  transaction: z.boolean(),
  attempts: num,
  started_ms: num.optional(),
  duration_ms: num.optional(),
  statements: z.array(StatementResult),
  error: SqlErrorInfo.optional(),
  backfill: z
    .looseObject({
      source: z.string(),
      target: z.string(),
      rows: num,
      batches: num,
      workers: num,
      key_from: num.optional(),
      key_to: num.optional(),
      resumed_rows: num,
      restarts: num,
      faults_injected: num,
      rows_per_s: num,
      throttled_ms: num,
      waited_for_lag_ms: num,
      stale_lag_readings: num,
      window_wait_ms: num,
    })
    .optional(),
});

const PhaseResult = z.looseObject({
  section: Section,
  name: z.string(),
  status: StepStatus,
  started_ms: num.optional(),
  duration_ms: num.optional(),
});

const LockHold = z.looseObject({
  section: Section,
  phase: z.string(),
  step: z.string(),
  statement: num,
  relation: z.string(),
  relation_oid: num,
  relkind: z.string().nullable(),
  mode: z.string(),
  acquired_ms: num,
  released_ms: num,
  held_ms: num,
  in_transaction: z.boolean(),
});

const LockWait = z.looseObject({
  section: Section,
  phase: z.string(),
  step: z.string(),
  statement: num,
  attempt: num,
  relation: z.string(),
  relation_oid: num,
  relkind: z.string().nullable(),
  mode: z.string(),
  started_ms: num,
  ended_ms: num,
  wait_ms: num,
  outcome: z.enum(["granted", "timeout", "error"]),
  blockers: z.array(
    z.looseObject({
      pid: num,
      name: z.string(),
      kind: z.enum(["background", "load", "query"]),
      state: z.string().optional(),
    }),
  ),
  queued_load_requests: num,
  queued_load_max_ms: num,
});

const StatementEffect = z.looseObject({
  section: Section,
  phase: z.string(),
  step: z.string(),
  statement: num,
  relation: z.string(),
  relation_oid: num,
  seq_scans: num,
  seq_tup_read: num,
  idx_tup_fetch: num,
  rewritten: z.boolean(),
  held_mode: z.string().nullable(),
  hot: z.boolean(),
});

const CheckResult = z.looseObject({
  id: z.string(),
  kind: z.enum(["invariant", "budget"]),
  status: z.enum(["pass", "fail", "error", "skipped"]),
  summary: z.string(),
  findings: z.array(z.string()),
  remediation: z.string().optional(),
  measured: num.optional(),
  limit: num.optional(),
  unit: z.string().optional(),
  stage: z.enum(["after_migration", "after_rollback"]).optional(),
});

const SeedTableResult = z.looseObject({ table: z.string(), rows: num, duration_ms: num, rows_per_s: num });

const Latency = z.looseObject({ count: num, p50: num, p95: num, p99: num, p999: num, max: num, mean: num });
const ErrorsBySqlstate = z.record(z.string(), num);

const LoadWindow = z.looseObject({
  section: z.enum(["warmup", "migration", "rollback", "cooldown"]),
  phase: z.string(),
  step: z.string().nullable(),
  kind: z.enum(["write", "read"]),
  started_ms: num,
  ended_ms: num,
  count: num,
  errors: num,
  errors_by_sqlstate: ErrorsBySqlstate,
  throughput: num,
  latency: Latency,
  service: Latency,
  longest_unavailability_ms: num,
});

const LoadSecond = z.looseObject({
  t: num,
  writes: num,
  reads: num,
  errors: num,
  write_p50: num,
  write_p99: num,
  read_p99: num,
  in_flight: num,
});

// The sub-second series of each step (LoadReport.detail); optional, absent from older reports.
const LoadDetail = z.looseObject({
  section: z.enum(["migration", "rollback"]),
  phase: z.string(),
  step: z.string(),
  started_ms: num,
  ended_ms: num,
  from_ms: num,
  to_ms: num,
  bucket_ms: num,
  points: z.array(
    z.looseObject({ t_ms: num, writes: num, errors: num, write_p50: num, write_p99: num, write_max: num }),
  ),
});

const LoadReport = z.looseObject({
  engine: z.string(),
  mode: z.enum(["reverse", "forward"]),
  rate: z.union([num, z.array(z.looseObject({ duration_ms: num, target: num }))]),
  connections: num,
  totals: z.looseObject({
    intended: num,
    writes_ok: num,
    reads_ok: num,
    errors: num,
    late: num,
    dropped: num,
    paused: num,
    errors_by_sqlstate: ErrorsBySqlstate,
  }),
  windows: z.array(LoadWindow),
  series: z.array(LoadSecond),
  detail: z.array(LoadDetail).optional(),
  unavailability: z.array(
    z.looseObject({ from_ms: num, to_ms: num, reason: z.enum(["paused", "blocked", "errors"]) }),
  ),
  ack: z.looseObject({ acknowledged: num, indeterminate: num, file: z.string() }),
  source: z.looseObject({ rows_read: num, wrapped: num }),
  flags: z.array(z.looseObject({ name: z.string(), value: z.boolean(), set_ms: num, seen_ms: num })),
  // The first message per SQLSTATE; optional, absent from reports written before it existed.
  error_samples: z
    .array(z.looseObject({ sqlstate: z.string(), message: z.string(), first_ms: num.optional() }))
    .optional(),
});

const BlockingEpisode = z.looseObject({
  blocker_pid: num,
  blocker_is_migration: z.boolean(),
  relation: z.string().nullable(),
  mode: z.string(),
  started_ms: num,
  ended_ms: num,
  max_waiters: num,
  load_waiters: num,
  longest_wait_ms: num,
  phase: z.string().nullable(),
  step: z.string().nullable(),
  // Proposed for the model (one blocked load query); the reporters read it when present.
  waiter_query: z.string().optional(),
});

const Observations = z.looseObject({
  interval_ms: num,
  samples: num,
  blocking: z.array(BlockingEpisode),
  tables: z.array(
    z.looseObject({ t: num, table: z.string(), live: num, dead: num, autovacuum_running: z.boolean() }),
  ),
  wal: z.array(z.looseObject({ t: num, bytes_per_s: num })),
  replication_lag: z.array(z.looseObject({ t: num, lag_ms: num })),
  failure: z.string().optional(),
});

const RunReportSchema = z.looseObject({
  schema_version: z.literal(REPORT_SCHEMA_VERSION),
  tool: z.looseObject({ name: z.literal("rehearse"), version: z.string() }),
  run_id: z.string(),
  scenario: z.looseObject({
    name: z.string(),
    path: z.string(),
    description: z.string(),
    writeup: z.string().optional(),
  }),
  started_at: z.string(),
  finished_at: z.string(),
  duration_ms: num,
  status: z.enum(["passed", "failed", "inconclusive", "aborted"]),
  exit_code: num,
  reason: z.string().optional(),
  context: z.looseObject({
    provider: z.string(),
    postgres_version: z.string().optional(),
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    seed: num,
    scale: num,
    rows: z.record(z.string(), num),
    rollback: z.boolean(),
    node: z.string(),
  }),
  // Defaulted rather than required: reports written before timings existed carry the same schema_version
  // (nothing changed meaning), and a missing list of stage times is no reason to refuse to re-render one.
  timings: z.array(z.looseObject({ stage: z.string(), ms: num })).default([]),
  seeding: z
    .looseObject({ tables: z.array(SeedTableResult), rows: num, duration_ms: num, rows_per_s: num })
    .optional(),
  load: LoadReport.optional(),
  observations: Observations.optional(),
  phases: z.array(PhaseResult),
  steps: z.array(StepResult),
  locks: z.array(LockHold),
  lock_waits: z.array(LockWait).optional(),
  effects: z.array(StatementEffect),
  checks: z.array(CheckResult),
  failing: z.array(z.string()),
  expectation: z.looseObject({
    verdict: z.enum(["pass", "fail"]),
    failing: z.array(z.string()),
    met: z.boolean(),
    explanation: z.string(),
  }),
});

// Compile-time guard against drift: if the model gains a required field or changes a type, this line stops
// compiling until the schema above follows. (Optional additions pass through the loose objects unchecked.)
const _schemaMatchesModel: (v: z.infer<typeof RunReportSchema>) => RunReport = (v) => v;
void _schemaMatchesModel;

/** How many validation problems to list before "… and N more". */
const MAX_ISSUES = 8;

function issuePath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) out += typeof k === "number" ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out || "(root)";
}

/** Validates an already-parsed report; `source` names it in errors (a path, "stdin"). */
export function parseReport(data: unknown, source: string): RunReport {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${source}: not a rehearse report (expected a JSON object)`);
  }
  if (!("schema_version" in data)) {
    throw new Error(
      `${source}: not a rehearse report: no schema_version (expected schema_version ${REPORT_SCHEMA_VERSION})`,
    );
  }
  const found = (data as { schema_version: unknown }).schema_version;
  if (found !== REPORT_SCHEMA_VERSION) {
    const newer = typeof found === "number" && found > REPORT_SCHEMA_VERSION;
    throw new Error(
      `${source}: report schema_version ${JSON.stringify(found)} is not supported; this rehearse reads schema_version ${REPORT_SCHEMA_VERSION}` +
        (newer
          ? " (the report was written by a newer rehearse: upgrade to read it)"
          : " (re-run the rehearsal to regenerate it)"),
    );
  }
  const result = RunReportSchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues;
    const lines = issues.slice(0, MAX_ISSUES).map((i) => `  ${issuePath(i.path)}: ${i.message}`);
    if (issues.length > MAX_ISSUES) lines.push(`  … and ${issues.length - MAX_ISSUES} more`);
    throw new Error(
      `${source}: invalid rehearse report (schema_version ${REPORT_SCHEMA_VERSION}):\n${lines.join("\n")}`,
    );
  }
  return result.data as RunReport;
}

/** Reads and validates a report.json; every error names the file. */
export async function readReport(file: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`${file}: cannot read report: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseReport(data, file);
}
