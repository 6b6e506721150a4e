/**
 * unique_across_partitions: a key (an idempotency key, say) stays unique across the whole partitioned table.
 * PostgreSQL enforces a UNIQUE index of a partitioned table per partition, so UNIQUE (key, created_at) lets
 * the same key land twice in two partitions around a rollover (seeds/001). Two parts:
 *
 *  1. Passive: duplicates already present across the parent (GROUP BY … HAVING count(*) > 1 LIMIT 5).
 *  2. Active probe, inside a transaction that is always rolled back: take an existing key from a row of the
 *     oldest partition (lowest range bound) and write it again through the scenario's write path
 *     (`probe.sql`, with :key, :key2… bound as parameters) or, without one, a plain INSERT copying that row
 *     with the partition key moved to the newest partition (sequence/identity/generated columns left to
 *     their defaults). Then count the rows carrying that key, still inside the transaction:
 *       > 1                                    → fail (uniqueness only per partition)
 *       rejected with 23505 or P0001 (raise)   → pass (the write path refuses the duplicate)
 *       any other error                        → error: inconclusive, with the SQLSTATE and message.
 * Sequences the probe advanced (ROLLBACK does not undo nextval) are set back afterwards.
 */
import { relationKey } from "../catalog/types.ts";
import { withOneConnection } from "../db/connection.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import {
  fail,
  inconclusive,
  listSome,
  lookupRelation,
  type Outcome,
  pass,
  pgError,
  plural,
  readSequenceStates,
  relationColumns,
  restoreSequences,
} from "./common.ts";
import {
  type PartitionEntry,
  type PartitionLayout,
  parseBound,
  readPartitionLayout,
} from "./partition-bounds.ts";

type Inv = Extract<Invariant, { check: "unique_across_partitions" }>;

export interface ProbeResult {
  /** skipped: no probe could be built; the others say what the write did. */
  status: "skipped" | "inserted" | "rejected" | "error";
  /** Why it was skipped. */
  reason?: string;
  /** A skip that still proves something (a single partition cannot hold cross-partition duplicates). */
  conclusive?: boolean;
  mode?: "builtin" | "custom";
  /** The key values written again (text form). */
  key?: string[];
  /** The partition the key was taken from, and the one the builtin probe aimed at. */
  source?: string;
  targetPartition?: string | null;
  rowsWithKey?: number;
  sqlstate?: string;
  message?: string;
  /** The statement run, as sent (placeholders $1…). */
  statement?: string;
}

export interface UniqueGathered {
  table: string;
  exists: boolean;
  missingColumns: string[];
  duplicates: Array<{ key: Array<string | null>; count: number; partitions: string[] }>;
  probe: ProbeResult;
}

/** SQLSTATEs that mean "the write path refused the duplicate": unique_violation and RAISE EXCEPTION. */
const REJECTED = new Set(["23505", "P0001"]);

/**
 * Rewrites :key, :key2, … into $1, $2, … (numbered by first appearance, so every parameter sent is used)
 * and returns the values to bind. `::` casts are left alone. The scan is textual: a literal ':key' inside a
 * string in probe.sql would be replaced too.
 */
export function bindKeyPlaceholders(
  sql: string,
  keyValues: Array<string | null>,
): { text: string; values: Array<string | null> } {
  const order: number[] = [];
  const text = sql.replace(/(?<![:\w]):key(\d*)\b/g, (_m, digits: string) => {
    const index = digits === "" ? 0 : Number(digits) - 1;
    if (index < 0 || index >= keyValues.length) {
      throw new Error(
        `probe.sql uses :key${digits} but the invariant lists only ${plural(keyValues.length, "column")}`,
      );
    }
    let slot = order.indexOf(index);
    if (slot < 0) {
      order.push(index);
      slot = order.length - 1;
    }
    return `$${slot + 1}`;
  });
  return { text, values: order.map((i) => keyValues[i]!) };
}

/** Partitions ordered oldest first: by numeric lower bound when known, else by name; default excluded. */
export function orderPartitions(layout: PartitionLayout): PartitionEntry[] {
  const regular = layout.partitions.filter((p) => p.bound !== "DEFAULT");
  return [...regular].sort((a, b) =>
    a.from !== null && b.from !== null && a.from !== b.from ? a.from - b.from : a.name.localeCompare(b.name),
  );
}

/** Values that route a row into `p`: its FROM values (range) or its first listed value (list); null if none. */
function routingValues(p: PartitionEntry): Array<string | null> | null {
  const b = parseBound(p.bound);
  if (b.kind === "range") {
    if (b.from.some((v) => v.kind !== "value")) return null;
    return b.from.map((v) => (v.kind === "value" ? v.text : null));
  }
  if (b.kind === "list") return b.values.length > 0 ? [b.values[0] ?? null] : null;
  return null;
}

interface ColumnMeta {
  name: string;
  type: string;
  identity: string;
  generated: string;
  default_expr: string | null;
}

/** Where the probe takes an existing key from, and (builtin probe) the partition its copy is aimed at. */
interface ProbePlan {
  sources: Array<{ name: string }>;
  target: PartitionEntry | null;
  /** The partition key columns the builtin copy overrides so that it routes to `target`. */
  setColumns: Array<{ column: string; value: string | null }>;
  /**
   * Hash and list: no bound to read a value from ahead of time, so once the key's row is found the target is
   * another partition and the routing values are asked of the server (see routeElsewhere).
   */
  routeAtRuntime?: PartitionLayout;
}

/** An existing row whose key the probe writes again. */
interface SourceRow {
  name: string;
  ctid: string;
  tableoid: number;
  key: Array<string | null>;
}

/** The statement the probe sends, with its parameters. */
interface ProbeStatement {
  text: string;
  values: Array<string | number | null>;
}

/**
 * Decides where the key comes from and where its copy must land, from the partition layout alone (null: not
 * partitioned); a skip when the builtin probe cannot aim a copy at another partition.
 */
function planProbe(inv: Inv, qualifiedName: string, layout: PartitionLayout | null): ProbePlan | ProbeResult {
  if (!layout) return { sources: [{ name: qualifiedName }], target: null, setColumns: [] };
  const ordered = orderPartitions(layout);
  const withDefault = [...ordered, ...(layout.defaultPartition ? [{ name: layout.defaultPartition }] : [])];
  const keyHasPartitionKey = layout.keyColumns.every(
    (k) => k.column !== null && inv.columns.includes(k.column),
  );
  if (inv.probe || keyHasPartitionKey) {
    // probe.sql decides where its write goes. And when the key contains the partition key, a copy with the
    // same key routes to the same partition, whose UNIQUE index (if any) is then global: copy it unchanged.
    return { sources: withDefault, target: null, setColumns: [] };
  }
  if (layout.keyColumns.some((k) => k.column === null)) {
    return {
      status: "skipped",
      conclusive: false,
      reason: "the partition key is an expression: the builtin probe cannot set it; give probe.sql",
    };
  }
  if (ordered.length < 2) {
    return {
      status: "skipped",
      conclusive: !layout.defaultPartition,
      reason: `${qualifiedName} has ${plural(ordered.length, "non-default partition")}: no second partition to duplicate into`,
    };
  }
  if (layout.strategy !== "range")
    return { sources: withDefault, target: null, setColumns: [], routeAtRuntime: layout };
  const target = ordered[ordered.length - 1]!;
  const values = routingValues(target);
  if (!values) {
    return {
      status: "skipped",
      conclusive: false,
      reason: `cannot derive a key value routed to ${target.name} (bound ${target.bound}); give probe.sql`,
    };
  }
  return {
    sources: withDefault.filter((p) => p !== target),
    target,
    setColumns: layout.keyColumns.map((k, i) => ({ column: k.column!, value: values[i] ?? null })),
  };
}

/** An existing key, from the first source (oldest partition first) that has a row with the whole key non-null. */
async function findSourceRow(
  db: Queryable,
  inv: Inv,
  sources: Array<{ name: string }>,
): Promise<SourceRow | null> {
  const notNull = inv.columns.map((c) => `${ident(c)} IS NOT NULL`).join(" AND ");
  for (const s of sources) {
    const res = await db.query<{ ctid: string; tableoid: number; key: Array<string | null> }>(
      `SELECT ctid::text AS ctid, tableoid::oid AS tableoid, ARRAY[${inv.columns.map((c) => `${ident(c)}::text`).join(", ")}] AS key
       FROM ${qualified(s.name)} WHERE ${notNull} LIMIT 1`,
    );
    const r = res.rows[0];
    if (r) return { name: s.name, ...r };
  }
  return null;
}

/**
 * Hash and list partitions: a partition other than the key's own and partition key values that route there.
 * The values come from the server, never from parsing: first a row already in that partition (its key values
 * route there by construction; the default partition's rows route back to it), then, for an empty hash
 * partition, a small integer-like candidate the server's satisfies_hash_partition() places there, then, for
 * a list partition, the first value of its bound.
 */
async function routeElsewhere(
  db: Queryable,
  parentOid: number,
  layout: PartitionLayout,
  sourcePartition: string,
): Promise<Pick<ProbePlan, "target" | "setColumns"> | ProbeResult> {
  const columns = layout.keyColumns.map((k) => k.column!);
  const others = [
    ...orderPartitions(layout),
    ...layout.partitions.filter((p) => p.bound === "DEFAULT"),
  ].filter((p) => p.name !== sourcePartition);
  const aim = (target: PartitionEntry, values: Array<string | null>) => ({
    target,
    setColumns: columns.map((column, i) => ({ column, value: values[i] ?? null })),
  });
  for (const p of others) {
    const res = await db.query<{ key: Array<string | null> }>(
      `SELECT ARRAY[${columns.map((c) => `${ident(c)}::text`).join(", ")}] AS key FROM ${qualified(p.name)} LIMIT 1`,
    );
    if (res.rows[0]) return aim(p, res.rows[0].key);
  }
  for (const p of others) {
    const b = parseBound(p.bound);
    if (b.kind === "list" && b.values.length > 0) return aim(p, [b.values[0] ?? null]);
    if (b.kind !== "hash" || layout.keyColumns.length !== 1) continue;
    // format_type() output: PostgreSQL's own, already quoted type name.
    const type = layout.keyColumns[0]!.type ?? "text";
    try {
      const res = await db.query<{ v: string }>(
        `SELECT g::text AS v FROM generate_series(1, 1000) g
          WHERE satisfies_hash_partition($1::oid, $2::int, $3::int, g::text::${type}) LIMIT 1`,
        [parentOid, b.modulus, b.remainder],
      );
      if (res.rows[0]) return aim(p, [res.rows[0].v]);
    } catch {
      // A key type no integer text casts to (uuid, a date…): no candidate from this partition.
    }
  }
  return {
    status: "skipped",
    conclusive: false,
    reason: `no partition of the table other than ${sourcePartition} has a row or a value the probe could route to it; give probe.sql`,
  };
}

/**
 * The builtin probe's INSERT: a copy of the source row into the table, with the partition key set to route it
 * to the target partition.
 */
async function builtinStatement(
  db: Queryable,
  rel: { oid: number; qualifiedName: string },
  setColumns: ProbePlan["setColumns"],
  source: SourceRow,
  keyColumns: string[],
): Promise<ProbeStatement | ProbeResult> {
  const meta = (
    await db.query<ColumnMeta>(
      `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity::text AS identity,
              a.attgenerated::text AS generated, pg_get_expr(d.adbin, d.adrelid) AS default_expr
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [rel.oid],
    )
  ).rows;
  const setNames = new Set(setColumns.map((s) => s.column));
  const generatedKey = meta.find((c) => keyColumns.includes(c.name) && c.generated !== "");
  if (generatedKey)
    return {
      status: "skipped",
      conclusive: false,
      reason: `the key column ${generatedKey.name} is generated: the builtin probe cannot write its value; give probe.sql`,
    };
  // Columns the database fills itself get their defaults, as a real insert would (a new id, not a copy) —
  // but never the key's own columns: a key defaulted from a sequence would be a new key, no duplicate, and the
  // check would pass without having tested anything (a false green on events-dual-write's id).
  const copy = meta.filter(
    (c) =>
      !setNames.has(c.name) &&
      (keyColumns.includes(c.name) ||
        (c.identity === "" && c.generated === "" && !/\bnextval\(/.test(c.default_expr ?? ""))),
  );
  const overriding = copy.some((c) => c.identity === "a") ? " OVERRIDING SYSTEM VALUE" : "";
  const values: ProbeStatement["values"] = [];
  const setExprs = setColumns.map((s) => {
    values.push(s.value);
    // format_type() prints a valid, already quoted type name: it is PostgreSQL's own output, not user input.
    const type = meta.find((c) => c.name === s.column)?.type ?? "text";
    return `$${values.length}::text::${type}`;
  });
  values.push(source.tableoid, source.ctid);
  const names = [...copy.map((c) => ident(c.name)), ...setColumns.map((s) => ident(s.column))].join(", ");
  const text =
    `INSERT INTO ${qualified(rel.qualifiedName)} (${names})${overriding} SELECT ${[...copy.map((c) => ident(c.name)), ...setExprs].join(", ")} ` +
    `FROM ${qualified(source.name)} WHERE tableoid = $${values.length - 1}::oid AND ctid = $${values.length}::tid`;
  return { text, values };
}

/**
 * Sends the duplicate write inside a transaction that is always rolled back, and counts the rows carrying the
 * key before the rollback. `base` is what the result reports about the probe whatever the outcome.
 */
async function writeDuplicate(
  db: Queryable,
  inv: Inv,
  qualifiedName: string,
  statement: ProbeStatement,
  key: Array<string | null>,
  base: Omit<ProbeResult, "status">,
): Promise<ProbeResult> {
  const sequences = await readSequenceStates(db);
  await db.query("BEGIN");
  try {
    // Bounded: a probe blocked behind a leftover lock must not hang the rehearsal.
    await db.query("SET LOCAL lock_timeout = '10s'");
    await db.query("SET LOCAL statement_timeout = '60s'");
    try {
      await db.query(statement.text, statement.values);
    } catch (err) {
      const e = pgError(err);
      return {
        ...base,
        status: e.sqlstate && REJECTED.has(e.sqlstate) ? "rejected" : "error",
        sqlstate: e.sqlstate,
        message: e.message,
      };
    }
    const where = inv.columns.map((c, i) => `${ident(c)} = $${i + 1}`).join(" AND ");
    const count = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${qualified(qualifiedName)} WHERE ${where}`,
      key,
    );
    return { ...base, status: "inserted", rowsWithKey: count.rows[0]!.n };
  } finally {
    await db.query("ROLLBACK");
    await restoreSequences(db, sequences);
  }
}

async function runProbe(
  db: Queryable,
  inv: Inv,
  rel: { oid: number; relkind: string; qualifiedName: string },
): Promise<ProbeResult> {
  const layout = rel.relkind === "p" ? await readPartitionLayout(db, rel.oid) : null;
  const plan = planProbe(inv, rel.qualifiedName, layout);
  if ("status" in plan) return plan;
  const source = await findSourceRow(db, inv, plan.sources);
  if (!source) {
    return {
      status: "skipped",
      conclusive: false,
      reason: `no row of ${rel.qualifiedName} has a non-null ${inv.columns.join(", ")} to duplicate`,
    };
  }

  let statement: ProbeStatement;
  if (inv.probe) {
    try {
      statement = bindKeyPlaceholders(inv.probe.sql, source.key);
    } catch (err) {
      return {
        status: "error",
        mode: "custom",
        key: source.key.map(String),
        source: source.name,
        message: pgError(err).message,
      };
    }
  } else {
    if (plan.routeAtRuntime) {
      const routed = await routeElsewhere(db, rel.oid, plan.routeAtRuntime, source.name);
      if ("status" in routed) return routed;
      Object.assign(plan, routed);
    }
    const built = await builtinStatement(db, rel, plan.setColumns, source, inv.columns);
    if ("status" in built) return built;
    statement = built;
  }

  return writeDuplicate(db, inv, rel.qualifiedName, statement, source.key, {
    mode: inv.probe ? "custom" : "builtin",
    key: source.key.map((k) => k ?? "NULL"),
    source: source.name,
    targetPartition: plan.target?.name ?? null,
    statement: statement.text,
  });
}

/**
 * Plans the grouping may not use. Index walks: see findDuplicates. Hashing: nearly every key is its own group,
 * so a hash table holds the whole key set and spills past work_mem; a parallel sort groups the same keys
 * faster (uuid keys, measured here: 1.00 s against 1.16 s at 1M rows, 11.6 s against 14.9 s at 10M).
 */
const PASSIVE_OFF = ["enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan", "enable_hashagg"];

/**
 * Up to five keys held more than once, with the partitions holding them. NULLs never collide under a UNIQUE
 * constraint (NULLS DISTINCT), so they are not duplicates here either.
 *
 * Two statements in one transaction. The grouping reads the whole table: with LIMIT 5 the planner expects
 * to stop early and walks the key's index, fetching every row from the heap in index order (a fresh clone's
 * visibility map is empty); at 10M rows that took a minute. A scan of the heap sorted or hashed by the
 * server's parallel workers takes the same time at 1M rows and scales. The partitions are then looked up,
 * through the index, for the duplicates found only: collecting them for every group (a million one-row
 * groups, each with its DISTINCT sort and regclass lookup) doubled the cost of the scan.
 */
async function findDuplicates(
  db: Queryable,
  inv: Inv,
  from: string,
): Promise<{ key: Array<string | null>; n: number; partitions: string[] }[]> {
  const cols = inv.columns.map(ident).join(", ");
  const dups = ident("rehearse_duplicates");
  await db.query("BEGIN");
  try {
    for (const setting of PASSIVE_OFF) await db.query(`SET LOCAL ${setting} = off`);
    await db.query("SET LOCAL parallel_setup_cost = 0");
    await db.query("SET LOCAL parallel_tuple_cost = 0");
    await db.query("SET LOCAL work_mem = '64MB'");
    await db.query(
      `CREATE TEMP TABLE ${dups} ON COMMIT DROP AS
       SELECT ${cols}, count(*)::int AS rehearse_n FROM ${from}
        WHERE ${inv.columns.map((c) => `${ident(c)} IS NOT NULL`).join(" AND ")}
        GROUP BY ${cols} HAVING count(*) > 1 LIMIT 5`,
    );
    for (const setting of PASSIVE_OFF) await db.query(`SET LOCAL ${setting} TO DEFAULT`);
    const res = await db.query<{ key: Array<string | null>; n: number; partitions: string[] }>(
      `SELECT ARRAY[${inv.columns.map((c) => `d.${ident(c)}::text`).join(", ")}] AS key, d.rehearse_n AS n,
              (SELECT array_agg(DISTINCT x.tableoid::regclass::text) FROM ${from} x
                WHERE ${inv.columns.map((c) => `x.${ident(c)} = d.${ident(c)}`).join(" AND ")}) AS partitions
         FROM pg_temp.${dups} d`,
    );
    await db.query("COMMIT");
    return res.rows;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

export async function gatherUnique(db: Queryable, inv: Inv, _stage: Stage): Promise<UniqueGathered> {
  const table = relationKey(inv.table);
  const rel = await lookupRelation(db, inv.table);
  const nothing = {
    table,
    missingColumns: [],
    duplicates: [],
    probe: { status: "skipped" as const, reason: "not run" },
  };
  if (!rel) return { ...nothing, exists: false };
  const columns = await relationColumns(db, rel.oid);
  const missingColumns = inv.columns.filter((c) => !columns.includes(c));
  if (missingColumns.length > 0) return { ...nothing, exists: true, missingColumns };

  const dup = await findDuplicates(db, inv, qualified(rel.qualifiedName));
  const probe = await withOneConnection(db, (c) => runProbe(c, inv, rel));
  return {
    table,
    exists: true,
    missingColumns: [],
    duplicates: dup.map((r) => ({ key: r.key, count: r.n, partitions: r.partitions })),
    probe,
  };
}

function showKey(columns: string[], key: Array<string | null>): string {
  return columns.map((c, i) => `${c}=${key[i] ?? "NULL"}`).join(", ");
}

const REMEDIATION =
  "Make the key unique across partitions: include the partition key in the business key if it allows, or make every write go through one atomic insert into a non-partitioned key table with UNIQUE (key) (seeds/001), or a function that checks and raises before inserting; re-run to see the probe rejected.";

export function evaluateUnique(inv: Inv, input: CheckInput<UniqueGathered>): Outcome {
  const g = input.gathered.after;
  const table = relationKey(inv.table);
  if (!g)
    return inconclusive(
      `Uniqueness of ${table} was not probed after the migration.`,
      "Re-run; a rehearse bug if it persists.",
    );
  if (!g.exists)
    return inconclusive(
      `Table ${table} (the invariant's \`table\`) does not exist after the migration; fix the scenario's invariant.`,
      "Fix the table name in the scenario's invariant.",
    );
  if (g.missingColumns.length > 0) {
    return inconclusive(
      `Column(s) ${g.missingColumns.join(", ")} do not exist on ${table}; fix the invariant's \`columns\`.`,
      "Fix the column names in the scenario's invariant.",
    );
  }
  const keyName = inv.columns.join(", ");
  const findings = g.duplicates.map(
    (d) => `${showKey(inv.columns, d.key)} appears ${d.count} times (in ${listSome(d.partitions)})`,
  );
  const p = g.probe;
  if (p.status === "inserted" && (p.rowsWithKey ?? 0) > 1) {
    findings.push(
      `probe: a second row with ${showKey(inv.columns, p.key ?? [])} (taken from ${p.source}) was accepted${p.targetPartition ? ` into ${p.targetPartition}` : ""}; ${p.rowsWithKey} rows now carry it`,
    );
  }
  if (findings.length > 0) {
    return fail(
      `${keyName} is not unique across the partitions of ${table}${p.status === "inserted" && (p.rowsWithKey ?? 0) > 1 ? ": a duplicate write was accepted" : ""}.`,
      findings,
      REMEDIATION,
    );
  }
  switch (p.status) {
    case "rejected":
      return pass(
        `No duplicate ${keyName} in ${table}; the ${p.mode} probe's duplicate of ${showKey(inv.columns, p.key ?? [])} was rejected (${p.sqlstate}: ${p.message}).`,
      );
    case "inserted":
      return pass(
        `No duplicate ${keyName} in ${table}; the ${p.mode} probe's write created no second row with ${showKey(inv.columns, p.key ?? [])}.`,
      );
    case "error":
      return inconclusive(
        `The uniqueness probe on ${table} failed for another reason${p.sqlstate ? ` (${p.sqlstate})` : ""}: ${p.message}`,
        p.mode === "custom"
          ? "Fix probe.sql so it performs one write carrying :key, or make the write path's error a unique_violation (23505) or RAISE EXCEPTION (P0001)."
          : "Give the invariant a probe.sql that writes through the application's real write path.",
        [`probe statement: ${p.statement ?? "(none)"}`],
      );
    default:
      return p.conclusive
        ? pass(`No duplicate ${keyName} in ${table}; probe not needed: ${p.reason}.`)
        : inconclusive(
            `No duplicate ${keyName} in ${table} so far, but the active probe could not run: ${p.reason}.`,
            "Seed rows in at least two partitions, or give a probe.sql.",
          );
  }
}

export const uniqueAcrossPartitions: InvariantCheck<Inv, UniqueGathered> = {
  kind: "unique_across_partitions",
  stages: ["after"],
  gather: gatherUnique,
  evaluate: evaluateUnique,
};
