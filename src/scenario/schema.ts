/**
 * The scenario file format (scenario.yaml, format version 1). This is users' API: every change here is a
 * change to the README's "Scenario format" section and, if incompatible, a new `version`.
 */
import { z } from "zod";

export const SCENARIO_FORMAT_VERSION = 1;

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)$/;

/** Parses "250ms", "2s", "5m"/"5min", "1h" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2];
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "h" ? 3_600_000 : 60_000;
  return n * factor;
}

/** A duration is written with its unit ("500ms", "2s", "5m", "1h"); a bare number is refused as ambiguous. */
export const Duration = z
  .string({ error: 'expected a duration with a unit, e.g. "500ms", "2s", "5m"' })
  .refine((s) => parseDuration(s) !== undefined, {
    message: 'expected a duration with a unit: ms, s, m (or min), h — e.g. "500ms", "2s", "5m"',
  })
  .transform((s) => parseDuration(s)!);

const Identifier = z
  .string()
  .min(1)
  .max(63, "PostgreSQL identifiers are at most 63 bytes")
  .regex(/^[^\s"]+$/, "a table or column name without spaces or quotes (it is quoted for you)");

/** A table name, optionally schema-qualified ("public.ledger"). */
const TableName = z
  .string()
  .min(1)
  .regex(
    /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/,
    "a table name like ledger or public.ledger",
  );

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

export const Step = z.strictObject({
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
export type Step = z.output<typeof Step>;

export const Phase = z.strictObject({ name: z.string().min(1), steps: z.array(Step).min(1) });
export type Phase = z.output<typeof Phase>;

// ---------------------------------------------------------------- invariants

const InvBase = { id: z.string().min(1).optional() };

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

// ---------------------------------------------------------------- budgets

const LockMode = z.enum([
  "AccessShareLock",
  "RowShareLock",
  "RowExclusiveLock",
  "ShareUpdateExclusiveLock",
  "ShareLock",
  "ShareRowExclusiveLock",
  "ExclusiveLock",
  "AccessExclusiveLock",
]);
export type LockMode = z.output<typeof LockMode>;

export const Budgets = z.strictObject({
  locks: z
    .array(
      z.strictObject({
        mode: LockMode,
        /** A table name, or "*" for every user table. */
        relation: z.string().default("*"),
        phase: z.string().optional(),
        max: Duration,
      }),
    )
    .default([{ mode: "AccessExclusiveLock", relation: "*", max: 1000 }]),
  /** Fail when a hot table is scanned (seq scan) while ACCESS EXCLUSIVE is held on it. */
  no_scan_under_access_exclusive: z.boolean().default(true),
  /** Fail when a hot table is rewritten (new relfilenode) while ACCESS EXCLUSIVE is held on it. */
  no_rewrite_under_access_exclusive: z.boolean().default(true),
  /** Phase name → longest acceptable duration. */
  phases: z.record(z.string(), Duration).default({}),
  /** "phase/step" → longest acceptable duration. */
  steps: z.record(z.string(), Duration).default({}),
});
export type Budgets = z.output<typeof Budgets>;

// ---------------------------------------------------------------- whole file

export const Target = z.strictObject({
  provider: z.enum(["embedded"]).default("embedded"),
  /** PostgreSQL server settings (postgresql.conf names). */
  settings: z
    .record(
      z.string().regex(/^[a-z_][a-z0-9_.]*$/, "a postgresql.conf setting name"),
      z.union([z.string(), z.number(), z.boolean()]),
    )
    .default({}),
  /** Tables production cannot afford to scan or rewrite under ACCESS EXCLUSIVE. */
  hot_tables: z.array(TableName).default([]),
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
