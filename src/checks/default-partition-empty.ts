/**
 * default_partition_empty: after the migration the DEFAULT partition (if the table has one) holds no rows.
 * Rows there are rows no partition was planned for (out-of-range or "future" keys, seeds/003), and every
 * later CREATE/ATTACH PARTITION must scan the default under ACCESS EXCLUSIVE to prove none of them belongs
 * to the new partition. Counting stops at a cap: the question is "any?", not "how many?".
 */
import { relationKey } from "../catalog/types.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, inconclusive, lookupRelation, type Outcome, pass, plural } from "./common.ts";
import { readPartitionLayout } from "./partition-bounds.ts";

type Inv = Extract<Invariant, { check: "default_partition_empty" }>;

/** Rows counted at most; the report then says "at least". */
export const DEFAULT_PARTITION_COUNT_CAP = 10_000;

export interface DefaultPartitionGathered {
  table: string;
  exists: boolean;
  partitioned: boolean;
  defaultPartition: string | null;
  /** Rows in the default partition, capped at DEFAULT_PARTITION_COUNT_CAP + 1. */
  rows: number;
  /** Smallest and largest partition key found among the sampled rows, formatted (single-column keys). */
  sample: { column: string; min: string; max: string } | null;
}

export async function gatherDefaultPartition(
  db: Queryable,
  inv: Inv,
  _stage: Stage,
): Promise<DefaultPartitionGathered> {
  const table = relationKey(inv.table);
  const rel = await lookupRelation(db, inv.table);
  const empty = { table, exists: !!rel, partitioned: false, defaultPartition: null, rows: 0, sample: null };
  if (rel?.relkind !== "p") return empty;
  const layout = await readPartitionLayout(db, rel.oid);
  if (!layout) return empty;
  if (!layout.defaultPartition) return { ...empty, partitioned: true };
  const def = qualified(layout.defaultPartition);
  const key = layout.keyColumn && layout.keyParts === 1 ? layout.keyColumn : null;
  // The capped sample also yields the key range of what landed there: the hint for which partition is missing.
  const res = await db.query<{ n: number; min: string | null; max: string | null }>(
    `SELECT count(*)::int AS n, ${key ? `min(k)::text AS min, max(k)::text AS max` : "NULL AS min, NULL AS max"}
     FROM (SELECT ${key ? `${ident(key)} AS k` : "1 AS k"} FROM ${def} LIMIT ${DEFAULT_PARTITION_COUNT_CAP + 1}) s`,
  );
  const r = res.rows[0]!;
  return {
    table,
    exists: true,
    partitioned: true,
    defaultPartition: layout.defaultPartition,
    rows: r.n,
    sample: key && r.min !== null && r.max !== null ? { column: key, min: r.min, max: r.max } : null,
  };
}

export function evaluateDefaultPartitionEmpty(
  inv: Inv,
  input: CheckInput<DefaultPartitionGathered>,
): Outcome {
  const g = input.gathered.after;
  const table = relationKey(inv.table);
  if (!g)
    return inconclusive(
      `The default partition of ${table} was not inspected after the migration.`,
      "Re-run; a rehearse bug if it persists.",
    );
  if (!g.exists)
    return inconclusive(
      `Table ${table} (the invariant's \`table\`) does not exist after the migration; fix the scenario's invariant.`,
      "Fix the table name in the scenario's invariant.",
    );
  if (!g.partitioned)
    return inconclusive(
      `${table} is not partitioned after the migration; default_partition_empty does not apply.`,
      "Point the invariant at the partitioned table.",
    );
  if (!g.defaultPartition)
    return pass(`${table} has no default partition.`, { measured: 0, limit: 0, unit: "rows" });
  if (g.rows === 0)
    return pass(`Default partition ${g.defaultPartition} of ${table} is empty.`, {
      measured: 0,
      limit: 0,
      unit: "rows",
    });
  const count =
    g.rows > DEFAULT_PARTITION_COUNT_CAP
      ? `more than ${DEFAULT_PARTITION_COUNT_CAP} rows`
      : plural(g.rows, "row");
  const range = g.sample
    ? ` (${g.sample.column} from ${g.sample.min} to ${g.sample.max}${g.rows > DEFAULT_PARTITION_COUNT_CAP ? " in the first rows read" : ""})`
    : "";
  return fail(
    `Default partition ${g.defaultPartition} of ${table} holds ${count}: keys no partition was made for.`,
    [`${g.defaultPartition} holds ${count}${range}`],
    `Create the partitions those keys belong to (detach the default, create/attach them, move the rows, re-attach), and make the partition job run far enough ahead; investigate out-of-range keys.`,
    { measured: g.rows, limit: 0, unit: "rows" },
  );
}

export const defaultPartitionEmpty: InvariantCheck<Inv, DefaultPartitionGathered> = {
  kind: "default_partition_empty",
  readsOnly: true,
  stages: ["after"],
  gather: gatherDefaultPartition,
  evaluate: evaluateDefaultPartitionEmpty,
};
