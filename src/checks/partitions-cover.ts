/**
 * partitions_cover: the partitions leave no hole where rows exist or are about to arrive.
 *  - range, time key: from the oldest row to now + `premade` (e.g. "1 month": next month's partition must
 *    already exist, or inserts fail at the rollover / pile up in the default partition).
 *  - range, numeric key: from min(key) to max(key) + `premade` (a number).
 *  - hash: every remainder of the largest modulus is taken by some partition.
 * Rows in a DEFAULT partition do not count as covered: the default is a catch-all to watch
 * (default_partition_empty), not a plan. List partitioning has no range to cover and is refused.
 * Partitions are half-open [FROM, TO); the required span is closed at both ends.
 */
import { relationKey } from "../catalog/types.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, inconclusive, lookupRelation, type Outcome, pass, plural } from "./common.ts";
import {
  formatKeyValue,
  type KeyKind,
  nowSql,
  type PartitionLayout,
  parseBound,
  readPartitionLayout,
} from "./partition-bounds.ts";

type Inv = Extract<Invariant, { check: "partitions_cover" }>;

export interface CoverGathered {
  table: string;
  exists: boolean;
  layout: PartitionLayout | null;
  /** On the key's number scale (epoch seconds for time keys). `end` is now + premade for time keys. */
  data: { min: number | null; max: number | null; now: number | null; end: number | null } | null;
}

const TIME_KINDS: KeyKind[] = ["timestamptz", "timestamp", "date"];

export async function gatherPartitionsCover(db: Queryable, inv: Inv, _stage: Stage): Promise<CoverGathered> {
  const table = relationKey(inv.table);
  const rel = await lookupRelation(db, inv.table);
  if (!rel) return { table, exists: false, layout: null, data: null };
  const layout = rel.relkind === "p" ? await readPartitionLayout(db, rel.oid) : null;
  if (layout?.strategy !== "range" || layout.keyParts !== 1 || !layout.keyColumn) {
    return { table, exists: true, layout, data: null };
  }
  const kind = layout.keyKind;
  const key = ident(layout.keyColumn);
  const from = qualified(rel.qualifiedName);
  if (TIME_KINDS.includes(kind)) {
    // A numeric premade on a time key is a configuration error evaluate() reports; measure with none.
    const premade = typeof inv.premade === "string" ? inv.premade : "0 seconds";
    const now = nowSql(kind);
    const res = await db.query<{ min: number | null; max: number | null; now: number; end: number }>(
      `SELECT extract(epoch FROM min(${key}))::float8 AS min, extract(epoch FROM max(${key}))::float8 AS max,
              extract(epoch FROM ${now})::float8 AS now, extract(epoch FROM ${now} + $1::interval)::float8 AS end
       FROM ${from}`,
      [premade],
    );
    const r = res.rows[0]!;
    return { table, exists: true, layout, data: { min: r.min, max: r.max, now: r.now, end: r.end } };
  }
  if (kind === "numeric") {
    const res = await db.query<{ min: number | null; max: number | null }>(
      `SELECT min(${key})::float8 AS min, max(${key})::float8 AS max FROM ${from}`,
    );
    const r = res.rows[0]!;
    return { table, exists: true, layout, data: { min: r.min, max: r.max, now: null, end: null } };
  }
  return { table, exists: true, layout, data: null };
}

/** Holes in [start, end] (closed) left by half-open ranges. Pure; exported for tests. */
export function findHoles(
  ranges: Array<{ from: number; to: number }>,
  start: number,
  end: number,
): Array<{ from: number; to: number; open: boolean }> {
  const holes: Array<{ from: number; to: number; open: boolean }> = [];
  let cursor = start; // first point not yet known to be covered
  for (const r of [...ranges].sort((a, b) => a.from - b.from)) {
    if (cursor > end) break;
    if (r.to <= cursor) continue;
    if (r.from > cursor) holes.push({ from: cursor, to: Math.min(r.from, end), open: r.from <= end });
    cursor = Math.max(cursor, r.to);
  }
  // `open` marks a hole whose upper end is excluded ([from, to)); the trailing hole includes `end`.
  if (cursor <= end) holes.push({ from: cursor, to: end, open: false });
  return holes;
}

function evaluateHash(table: string, layout: PartitionLayout): Outcome {
  const bounds = layout.partitions
    .map((p) => parseBound(p.bound))
    .flatMap((b) => (b.kind === "hash" ? [b] : []));
  if (bounds.length === 0) {
    return fail(
      `Hash-partitioned ${table} has no partitions: every insert fails.`,
      [`${table} has no partitions`],
      "Create the hash partitions (FOR VALUES WITH (modulus m, remainder r) for every r < m).",
    );
  }
  const modulus = Math.max(...bounds.map((b) => b.modulus));
  const missing: number[] = [];
  for (let r = 0; r < modulus; r++) {
    if (!bounds.some((b) => r % b.modulus === b.remainder)) missing.push(r);
  }
  if (missing.length === 0) {
    return pass(
      `${plural(bounds.length, "hash partition")} of ${table} cover every remainder modulo ${modulus}.`,
    );
  }
  return fail(
    `${plural(missing.length, "remainder")} modulo ${modulus} of ${table} have no partition: inserts hashing there fail.`,
    missing.slice(0, 10).map((r) => `no partition for modulus ${modulus}, remainder ${r}`),
    `CREATE TABLE … PARTITION OF ${table} FOR VALUES WITH (modulus ${modulus}, remainder r) for each missing remainder.`,
  );
}

export function evaluatePartitionsCover(inv: Inv, input: CheckInput<CoverGathered>): Outcome {
  const g = input.gathered.after;
  const table = relationKey(inv.table);
  if (!g)
    return inconclusive(
      `Partition bounds of ${table} were not gathered after the migration.`,
      "Re-run; a rehearse bug if it persists.",
    );
  if (!g.exists)
    return inconclusive(
      `Table ${table} (the invariant's \`table\`) does not exist after the migration; fix the scenario's invariant.`,
      "Fix the table name in the scenario's invariant.",
    );
  const layout = g.layout;
  if (!layout)
    return inconclusive(
      `${table} is not partitioned after the migration; partitions_cover does not apply.`,
      "Point the invariant at the partitioned table (or make the migration partition it).",
    );
  if (layout.strategy === "hash") return evaluateHash(table, layout);
  if (layout.strategy === "list") {
    return inconclusive(
      `${table} is list-partitioned: there is no range to cover.`,
      "Use default_partition_empty to catch values without a partition.",
    );
  }
  if (layout.keyParts !== 1 || !layout.keyColumn) {
    return inconclusive(
      `${table}'s range key (${layout.keyParts} parts${layout.keyColumn ? "" : ", an expression"}) is not a single column; partitions_cover supports single-column keys.`,
      "Check coverage of multi-column or expression keys by hand.",
    );
  }
  const kind = layout.keyKind;
  const isTime = TIME_KINDS.includes(kind);
  if (kind === "other") {
    return inconclusive(
      `${table} is range-partitioned on ${layout.keyColumn} (${layout.keyType}): only time and numeric keys are supported.`,
      "Check coverage by hand.",
    );
  }
  if (isTime && typeof inv.premade === "number") {
    return inconclusive(
      `premade for the time key ${layout.keyColumn} must be an interval like "1 month", not a number.`,
      'Write premade as an interval: "1 month", "7 days".',
    );
  }
  if (!isTime && typeof inv.premade === "string") {
    return inconclusive(
      `premade for the numeric key ${layout.keyColumn} must be a number, not "${inv.premade}".`,
      "Write premade as a number of key values ahead of max(key).",
    );
  }
  const data = g.data;
  if (!data)
    return inconclusive(
      `Key extents of ${table} were not gathered.`,
      "Re-run; a rehearse bug if it persists.",
    );

  let start: number;
  let end: number;
  if (isTime) {
    start = data.min === null ? data.now! : Math.min(data.min, data.now!);
    end = data.end!;
  } else {
    if (data.min === null || data.max === null) {
      return pass(`${table} is empty; with a numeric key there is no span to cover yet.`);
    }
    start = data.min;
    end = data.max + (typeof inv.premade === "number" ? inv.premade : 0);
  }

  const ranges = layout.partitions.flatMap((p) =>
    p.from !== null && p.to !== null ? [{ name: p.name, from: p.from, to: p.to }] : [],
  );
  const holes = findHoles(ranges, start, end);
  const fmt = (n: number) => formatKeyValue(kind, n);
  const span = `${layout.keyColumn} ${fmt(start)} … ${fmt(end)}${isTime ? ` (oldest row … now${inv.premade ? ` + ${inv.premade}` : ""})` : ` (min … max${inv.premade ? ` + ${inv.premade}` : ""})`}`;
  if (holes.length === 0) {
    return pass(`${plural(ranges.length, "range partition")} of ${table} cover ${span}.`);
  }
  const where = layout.defaultPartition
    ? `rows there land in the default partition ${layout.defaultPartition}`
    : "inserts there fail (no partition of relation found for row)";
  return fail(
    `${plural(holes.length, "hole")} in the partitions of ${table} over ${span}.`,
    holes
      .slice(0, 10)
      .map(
        (h) =>
          `no partition covers ${layout.keyColumn} from ${fmt(h.from)} to ${fmt(h.to)} (${h.open ? "exclusive" : "inclusive"}): ${where}`,
      ),
    isTime
      ? `Create the missing partitions (CREATE TABLE … PARTITION OF ${table} FOR VALUES FROM … TO …) and have the partition-creating job stay ${inv.premade ?? "a period"} ahead of now.`
      : `Create partitions for the missing key ranges (CREATE TABLE … PARTITION OF ${table} FOR VALUES FROM … TO …).`,
  );
}

export const partitionsCover: InvariantCheck<Inv, CoverGathered> = {
  kind: "partitions_cover",
  readsOnly: true,
  stages: ["after"],
  gather: gatherPartitionsCover,
  evaluate: evaluatePartitionsCover,
};
