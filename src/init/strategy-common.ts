/** Naming and the partition key: shared by every strategy under strategies/. */
import type { ColumnInfo } from "../catalog/types.ts";
import { ident } from "../db/sql.ts";
import { ASCENDING_CORRELATION, isoInstant } from "./fit.ts";
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
  /**
   * Largest value the key takes at the source's size (epoch ms for time keys): the statistics' largest, or
   * for a unique ascending integer the value its serial generator reaches at the source's row count — a bound
   * must lie strictly above it for the scenario to pass at --rows equal to the source's count.
   */
  max: number;
  /** Why this column: the facts that ranked it first, and what the others lacked. */
  why: string;
}

export const TIME_TYPE = /^(timestamp|date)/;
export const INT_TYPE = /^(smallint|integer|bigint)$/;

interface Candidate extends KeyChoice {
  score: number;
  facts: string[];
  /** Why it cannot be a key at all (override asked for it). */
  unusable?: string;
}

function candidate(t: SourceTable, c: ColumnInfo): Candidate {
  const s = t.stats.get(c.name);
  const isTime = TIME_TYPE.test(c.type);
  const base: Candidate = { column: c, kind: isTime ? "time" : "int", max: 0, why: "", score: 0, facts: [] };
  if (!isTime && !INT_TYPE.test(c.type))
    return { ...base, unusable: `${c.type} is neither a timestamp nor an integer` };
  if (c.generated) return { ...base, unusable: "a generated column" };
  if (!c.notNull && (s?.nullFrac ?? 1) > 0) return { ...base, unusable: "it has NULLs" };
  const values = [...(s?.histogram ?? []), ...(s?.mcv ?? [])];
  const nums = values.map((v) => (isTime ? Date.parse(isoInstant(v) ?? "") : Number(v)));
  if (!s || nums.length === 0 || nums.some(Number.isNaN))
    return { ...base, unusable: "no statistics to bound it" };
  let max = Math.max(...nums);
  const corr = s.correlation ?? 0;
  const rows = Math.max(1, t.reltuples);
  const distinct = s.nDistinct < 0 ? -s.nDistinct * rows : s.nDistinct;
  const hist = (s.histogram ?? []).map(Number);
  if (!isTime && s.nDistinct === -1 && corr >= ASCENDING_CORRELATION && hist.length >= 2) {
    // The serial generator init fits to it (fit.ts): start + (rows − 1)·step at the source's count.
    const step = Math.max(1, Math.round((hist[hist.length - 1]! - hist[0]!) / Math.max(1, rows - 1)));
    max = Math.max(max, hist[0]! + (rows - 1) * step);
  }
  const facts: string[] = [c.notNull ? "NOT NULL" : "no NULLs"];
  let score = 0;
  const setBy = t.triggerSet?.get(c.name);
  if (setBy) {
    score -= 100;
    facts.push(`set by trigger ${setBy} (rows would move between partitions on UPDATE)`);
  }
  if (corr >= ASCENDING_CORRELATION) {
    score += 10;
    facts.push(`follows the insertion order (correlation ${corr.toFixed(2)})`);
  } else facts.push(`not in insertion order (correlation ${corr.toFixed(2)})`);
  if (distinct >= Math.min(100, rows / 10)) {
    score += 5;
    facts.push(`${Math.round(distinct).toLocaleString("en-US")} distinct values`);
  } else {
    score -= 20;
    facts.push(`only ${Math.round(distinct)} distinct values`);
  }
  const keys = t.info.constraints.filter((k) => (k.type === "p" || k.type === "u") && k.local);
  if (keys.length && keys.every((k) => k.columns.includes(c.name))) {
    score += 2;
    facts.push("every unique key already contains it (none is widened)");
  }
  if (isTime) {
    score += 3;
    facts.push("a time (old partitions can be detached by age)");
  }
  const a = t.activity;
  if (a && a.updates > 0 && a.updates > a.inserts && setBy)
    facts.push(`the table sees more UPDATEs (${a.updates}) than INSERTs (${a.inserts})`);
  return { ...base, max, score: score + corr, facts };
}

/**
 * The partition key, ranked (issue 15 item 3): not rewritten by a trigger, following the insertion order,
 * many distinct values, a time before an integer, one that no unique key has to gain; no NULLs in any case.
 * `override` (--partition-key) wins when the column is usable at all. `kinds` limits the types a strategy
 * can partition by.
 */
export function choosePartitionKey(
  t: SourceTable,
  override?: string,
  kinds: KeyChoice["kind"][] = ["time", "int"],
): KeyChoice | InitError {
  const all = t.info.columns.map((c) => candidate(t, c));
  if (override !== undefined) {
    const c = all.find((x) => x.column.name === override);
    if (!c)
      return new InitError(
        `--partition-key ${override}: ${t.info.qualifiedName} has no column ${override}`,
        `name one of its columns: ${t.info.columns.map((x) => x.name).join(", ")}`,
      );
    if (c.unusable || !kinds.includes(c.kind))
      return new InitError(
        `--partition-key ${override} cannot be the partition key: ${c.unusable ?? `this strategy partitions by ${kinds.join(" or ")} only`}`,
        "name a NOT NULL timestamp or integer column, or leave --partition-key out to let init choose",
      );
    return { ...c, why: `chosen with --partition-key: ${c.facts.join(", ")}` };
  }
  const usable = all.filter((c) => !c.unusable && kinds.includes(c.kind)).sort((a, b) => b.score - a.score);
  const best = usable[0];
  if (!best)
    return new InitError(
      `${t.info.qualifiedName} has no usable partition key: no ${kinds.includes("time") ? "timestamp or " : ""}integer column without NULLs`,
      "add a NOT NULL timestamp (created_at) or integer key column, backfill it, and init again — or choose a strategy that does not partition",
    );
  const others = usable
    .slice(1)
    .filter((c, i) => i < 3 || t.triggerSet?.has(c.column.name))
    .map((c) => `${c.column.name} (${c.facts.filter((f) => !/^NOT NULL|^no NULLs/.test(f)).join(", ")})`);
  const why =
    `${best.column.name}: ${best.facts.join(", ")}` + (others.length ? `; over ${others.join("; ")}` : "");
  return { ...best, why };
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
