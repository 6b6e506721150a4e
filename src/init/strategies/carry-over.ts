/**
 * What every strategy owes the objects around the table, written once (issue 15): the views that read it
 * follow it to the relation that takes its writes, uniqueness that a partitioned table can only enforce per
 * partition is enforced across partitions by a guard. (Foreign keys into the table: one refusal, refusals.ts.)
 */
import { parseSync } from "libpg-query";
import { ident, literal, qualified } from "../../db/sql.ts";
import type { DependentView, SourceTable } from "../source.ts";
import { type Info, name63, names } from "../strategy-common.ts";

interface RangeVarNode {
  schemaname?: string;
  relname?: string;
  alias?: unknown;
  location?: number;
}

function rangeVars(node: unknown, out: RangeVarNode[] = []): RangeVarNode[] {
  if (Array.isArray(node)) for (const n of node) rangeVars(n, out);
  else if (node && typeof node === "object")
    for (const [k, v] of Object.entries(node)) {
      if (k === "RangeVar") out.push(v as RangeVarNode);
      rangeVars(v, out);
    }
  return out;
}

/**
 * The view's query with every reference to `from` ("schema.name") turned into `to`, found by PostgreSQL's
 * own parser (never a text search: a column or a string may carry the same word). A reference without an
 * alias keeps the old name as its alias, so columns qualified with it still resolve.
 */
export function retarget(definition: string, from: string, to: string): string {
  const [schema, name] = from.split(".") as [string, string];
  const buf = Buffer.from(definition, "utf8");
  const hits = rangeVars(parseSync(definition))
    .filter((r) => r.relname === name && (r.schemaname ?? schema) === schema && r.location !== undefined)
    .sort((a, b) => b.location! - a.location!);
  let out = buf;
  for (const r of hits) {
    const at = r.location!;
    const written =
      /^(?:(?:"(?:[^"]|"")+"|[\p{L}_][\p{L}\p{N}_$]*)\s*\.\s*)?(?:"(?:[^"]|"")+"|[\p{L}_][\p{L}\p{N}_$]*)/u.exec(
        out.subarray(at).toString("utf8"),
      );
    if (!written) continue;
    const replacement = qualified(to) + (r.alias ? "" : ` ${ident(name)}`);
    out = Buffer.concat([
      out.subarray(0, at),
      Buffer.from(replacement, "utf8"),
      out.subarray(at + Buffer.byteLength(written[0], "utf8")),
    ]);
  }
  return out.toString("utf8");
}

/**
 * SQL that makes the views reading the table read `to` (default: the table's own name, now another relation):
 * views are replaced in place (CREATE OR REPLACE keeps their privileges and what reads them); a materialized
 * view cannot be, so it is dropped and created again, unpopulated as schema.sql made it, with its indexes.
 */
export function followViews(t: SourceTable, to?: string): string[] {
  const views: DependentView[] = t.views ?? [];
  if (!views.length) return [];
  const from = `${t.info.schema}.${t.info.name}`;
  const target = to === undefined ? from : to.includes(".") ? to : `${t.info.schema}.${to}`;
  const out = [
    "",
    `-- The views that read ${from} are bound to the relation, not its name: re-create them over ${target}`,
    "-- (issue 15: left alone they read the old table and miss every new row).",
  ];
  for (const v of views) {
    const body = target === from ? v.definition : retarget(v.definition, from, target);
    if (v.kind === "view") out.push(`CREATE OR REPLACE VIEW ${qualified(v.name)} AS\n${body};`);
    else
      out.push(
        "-- A materialized view cannot be replaced: dropped and created again, unpopulated (REFRESH it after the",
        "-- cutover, outside the lock: populating it here would scan the table while writes wait).",
        `DROP MATERIALIZED VIEW ${qualified(v.name)};`,
        `CREATE MATERIALIZED VIEW ${qualified(v.name)} AS\n${body}\nWITH NO DATA;`,
        ...v.indexes.map((i) => `${i};`),
      );
  }
  return out;
}

/**
 * A row trigger on the partitioned `target` that keeps each widened key unique across partitions: the
 * per-partition unique indexes (key + partition key) catch a duplicate with the same partition-key value, the
 * guard one with another. An advisory lock on the key's value serialises concurrent writers of the same key,
 * and the lookup runs after it, so it sees a row another transaction committed meanwhile (READ COMMITTED;
 * under REPEATABLE READ the loser fails with a serialization error instead). Its cost per write is part of
 * what the rehearsal measures. count(*), not EXISTS: EXISTS plans for the first row, and on a table without
 * statistics (a fresh copy being filled) that is a sequential scan of every partition for each row written —
 * 90 s instead of 2 s for a 20,000-row backfill on PostgreSQL 17.
 */
export function uniquenessGuard(
  info: Info,
  partitionKey: string,
  target: string,
  keys: string[][],
): { sql: string[]; drop: string[] } {
  if (!keys.length) return { sql: [], drop: [] };
  const { rel } = names(info);
  const fn = name63(`${target}_unique_guard`);
  const K = ident(partitionKey);
  const body: string[] = [];
  for (const cols of keys) {
    const match = cols.map((c) => `x.${ident(c)} = NEW.${ident(c)}`).join(" AND ");
    const row = `row(${cols.map((c) => `NEW.${ident(c)}`).join(", ")})::text`;
    const label = `${info.qualifiedName} (${cols.join(", ")})`;
    body.push(
      `  PERFORM pg_advisory_xact_lock(hashtextextended(${literal(`${label}=`)} || ${row}, 0));`,
      `  IF (SELECT count(*) FROM ${rel(target)} x WHERE ${match} AND x.${K} IS DISTINCT FROM NEW.${K}`,
      "        AND NOT (TG_OP = 'UPDATE' AND x.tableoid = TG_RELID AND x.ctid = OLD.ctid)) > 0 THEN",
      `    RAISE EXCEPTION 'duplicate key value violates uniqueness of ${label.replace(/'/g, "''")} across partitions'`,
      `      USING ERRCODE = 'unique_violation', DETAIL = format('Key (${cols.join(", ").replace(/'/g, "''")})=%s already exists.', ${row});`,
      "  END IF;",
    );
  }
  const watched = [...new Set([...keys.flat(), partitionKey])].map(ident).join(", ");
  const fnRel = rel(fn);
  return {
    sql: [
      "",
      `-- Unique keys that gain ${partitionKey} are unique per partition only: this guard keeps them unique across`,
      "-- partitions (a duplicate with another partition-key value is rejected with 23505, as the index did).",
      `CREATE FUNCTION ${fnRel}() RETURNS trigger LANGUAGE plpgsql AS $guard$`,
      "BEGIN",
      ...body,
      "  RETURN NEW;",
      "END $guard$;",
      `CREATE TRIGGER ${ident(fn)} BEFORE INSERT OR UPDATE OF ${watched} ON ${rel(target)}`,
      `  FOR EACH ROW EXECUTE FUNCTION ${fnRel}();`,
    ],
    drop: [`DROP FUNCTION IF EXISTS ${fnRel}() CASCADE;`],
  };
}
