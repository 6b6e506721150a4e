/** Naming and the partition key: shared by every strategy under strategies/. */
import type { ColumnInfo } from "../catalog/types.ts";
import { ident } from "../db/sql.ts";
import { isoInstant } from "./fit.ts";
import { InitError, type SourceTable } from "./source.ts";

/** Keeps a generated name within PostgreSQL's 63 bytes. */
export function name63(n: string): string {
  return n.length <= 63 ? n : n.slice(0, 63);
}

export type Info = SourceTable["info"];

/** Names and quoting for one source table. */
export function names(info: Info) {
  const T = info.name;
  const rel = (n: string) => (info.schema === "public" ? ident(n) : `${ident(info.schema)}.${ident(n)}`);
  const display = (n: string) => (info.schema === "public" ? n : `${info.schema}.${n}`);
  const colList = (cols: string[]) => cols.map(ident).join(", ");
  /** orders_ref_key → <prefix>_ref_key; other names gain the prefix. */
  const renamed = (prefix: string, n: string) =>
    name63(n.startsWith(`${T}_`) ? `${prefix}_${n.slice(T.length + 1)}` : `${prefix}_${n}`);
  const allCols = info.columns.filter((c) => !c.generated).map((c) => c.name);
  return { T, rel, display, colList, renamed, allCols };
}

export interface KeyChoice {
  column: ColumnInfo;
  kind: "time" | "int";
  /** Largest value in the statistics (epoch ms for time keys). */
  max: number;
}

export const TIME_TYPE = /^(timestamp|date)/;
export const INT_TYPE = /^(smallint|integer|bigint)$/;

/** The partition key: a timestamp column that grows with the rows, else an integer one; no NULLs in either. */
export function choosePartitionKey(t: SourceTable): KeyChoice | InitError {
  const usable: KeyChoice[] = [];
  for (const c of t.info.columns) {
    const s = t.stats.get(c.name);
    const isTime = TIME_TYPE.test(c.type);
    if (!isTime && !INT_TYPE.test(c.type)) continue;
    if (c.generated || (!c.notNull && (s?.nullFrac ?? 1) > 0)) continue;
    const values = [...(s?.histogram ?? []), ...(s?.mcv ?? [])];
    const nums = values.map((v) => (isTime ? Date.parse(isoInstant(v) ?? "") : Number(v)));
    if (nums.length === 0 || nums.some(Number.isNaN)) continue;
    usable.push({ column: c, kind: isTime ? "time" : "int", max: Math.max(...nums) });
  }
  const corr = (k: KeyChoice) => t.stats.get(k.column.name)?.correlation ?? 0;
  usable.sort((a, b) => (a.kind === b.kind ? corr(b) - corr(a) : a.kind === "time" ? -1 : 1));
  return (
    usable[0] ??
    new InitError(
      `${t.info.qualifiedName} has no usable partition key: no timestamp or integer column without NULLs`,
      "add a NOT NULL timestamp (created_at) or integer key column, backfill it, and init again — or choose a strategy that does not partition",
    )
  );
}

/**
 * The table's unique keys the migration must widen with `partitionKey`: PRIMARY KEY and UNIQUE constraints,
 * and plain-column unique indexes, that do not already contain it. A partitioned table enforces them only
 * per partition from then on.
 */
export function widenedKeys(info: Info, partitionKey: string): string[][] {
  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const keys = [
    ...info.constraints.filter((c) => (c.type === "p" || c.type === "u") && c.local).map((c) => c.columns),
    ...info.indexes
      .filter(
        (i) =>
          i.unique &&
          !constraintIndexes.has(i.name) &&
          i.parentIndexOid === null &&
          i.predicate === null &&
          i.keys.every((k) => k.column !== null),
      )
      .map((i) => i.keys.map((k) => k.column!)),
  ];
  const seen = new Set<string>();
  return keys.filter((cols) => {
    const id = cols.join("\u0000");
    if (cols.includes(partitionKey) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * The invariants every strategy owes the table whatever it does: each unique key that gains the partition
 * key stays unique across the partitions (issue 15: PRIMARY KEY (rental_id) became (rental_id, last_update)
 * and a duplicate rental_id was accepted), and what referenced the table follows it (views, foreign keys,
 * publications… left on the renamed table). `target` is the partitioned table the writes end up in; `route`
 * a partition-key value (SQL) in a premade partition, where the probe's duplicate goes (hash partitions have
 * none: the probe borrows another partition's row's value); `follow` the relation the dependents must
 * reference afterwards (default: the table's own name).
 */
export function guardInvariants(
  info: Info,
  partitionKey: string,
  target: string,
  opts: { route?: string; follow?: string } = {},
): unknown[] {
  const follow = opts.follow;
  const { display } = names(info);
  const keys = widenedKeys(info, partitionKey);
  const out: unknown[] = keys.map((cols) => ({
    ...(keys.length > 1 ? { id: `unique_across_partitions.${cols.join("_")}` } : {}),
    check: "unique_across_partitions",
    table: display(target),
    columns: cols,
    probe: { sql: duplicateProbe(info, partitionKey, target, cols, opts.route) },
  }));
  const original = display(info.name);
  out.push({
    check: "dependents_follow",
    original,
    ...(follow && display(follow) !== original ? { target: display(follow) } : {}),
  });
  return out;
}

/**
 * A time partition key's value at the start of next month (UTC), as `{{month+1}}` renders it: every strategy
 * premakes that partition, and the history or oldest partition (where the probe's key comes from) ends
 * before it. Computed when the probe runs, since probe SQL has no date placeholders.
 */
export function nextMonthSql(type: string): string {
  // format_type() output is PostgreSQL's own, already quoted type name.
  return `((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::text || '+00')::${type}`;
}

/**
 * A new value of a hash partition key, for the probe's copy (hash partitions have no range to aim at): a
 * borrowed one would collide with any unique key that contains the partition key and mask the widened one.
 * undefined when the type has no obvious fresh value (the probe then borrows another partition's).
 */
export function freshKeySql(info: Info, column: string, target: string): string | undefined {
  const { rel } = names(info);
  const type = info.columns.find((c) => c.name === column)?.type ?? "";
  if (type === "uuid") return "gen_random_uuid()";
  if (INT_TYPE.test(type)) return `(SELECT max(x.${ident(column)}) + 1 FROM ${rel(target)} x)`;
  if (type === "text" || type === "character varying") return "md5(random()::text)";
  return undefined;
}

/**
 * The probe's write: an existing row copied with the same key into another partition — at `route`, or at the
 * partition-key value of the newest row in another partition — inserted through the table, as the
 * application would write it. Only a guard across partitions can reject it: the widened per-partition
 * indexes cannot, and the original's own unique indexes (still on the history partition) do not see it.
 */
function duplicateProbe(
  info: Info,
  partitionKey: string,
  target: string,
  cols: string[],
  route: string | undefined,
): string {
  const { rel, allCols } = names(info);
  const K = ident(partitionKey);
  const type = (c: string) => info.columns.find((x) => x.name === c)?.type ?? "text";
  // format_type() output is PostgreSQL's own, already quoted type name.
  const where = cols.map((c, i) => `s.${ident(c)} = :key${i === 0 ? "" : i + 1}::${type(c)}`).join(" AND ");
  const moved = route ?? `o.${K}`;
  const select = allCols.map((c) => (c === partitionKey ? moved : `s.${ident(c)}`)).join(", ");
  const overriding = info.columns.some((c) => c.identity === "always") ? " OVERRIDING SYSTEM VALUE" : "";
  const other = route
    ? ""
    : `, LATERAL (SELECT x.${K} FROM ${rel(target)} x WHERE x.${K} IS DISTINCT FROM s.${K} ` +
      `ORDER BY x.tableoid = s.tableoid, x.${K} DESC LIMIT 1) o`;
  return (
    `INSERT INTO ${rel(target)} (${allCols.map(ident).join(", ")})${overriding} SELECT ${select} ` +
    `FROM ${rel(target)} s${other} WHERE ${where} LIMIT 1`
  );
}
