/** Sequences: their definitions from the catalog, their current values from each sequence relation. */
import { ident, type Queryable } from "../db/sql.ts";
import type { SequenceInfo } from "./types.ts";

// OWNED BY (serial, deptype 'a') or identity (deptype 'i'): the sequence depends on the table column.
export const SEQUENCES_SQL = `
SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min,
       s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
       has_sequence_privilege(c.oid, 'SELECT') AS readable,
       own.table_name, own.column_name, own.deptype
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
  SELECT tn.nspname::text || '.' || t.relname::text AS table_name, a.attname::text AS column_name,
         d.deptype::text AS deptype
  FROM pg_depend d
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
    AND d.deptype IN ('a', 'i')
  LIMIT 1
) own ON true
WHERE c.relnamespace = ANY($1::oid[])
ORDER BY n.nspname, c.relname`;

export interface SequenceRow {
  oid: number;
  schema: string;
  name: string;
  data_type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  readable: boolean;
  table_name: string | null;
  column_name: string | null;
  deptype: string | null;
}

export interface SequenceValue {
  last_value: string;
  is_called: boolean;
}

/**
 * last_value/is_called live in each sequence relation, so they take one UNION ALL over the readable
 * sequences (PostgreSQL 17 has no catalog function returning is_called).
 */
export async function readSequenceValues(
  db: Queryable,
  rows: SequenceRow[],
): Promise<Map<number, SequenceValue>> {
  const readable = rows.filter((s) => s.readable);
  const out = new Map<number, SequenceValue>();
  // Chunks keep the statement a sane size when a schema holds thousands of sequences.
  for (let i = 0; i < readable.length; i += 500) {
    const chunk = readable.slice(i, i + 500);
    const sql = chunk
      .map(
        (s, j) =>
          `SELECT $${j + 1}::oid AS oid, last_value::text AS last_value, is_called FROM ${ident(s.schema)}.${ident(s.name)}`,
      )
      .join("\nUNION ALL\n");
    const res = await db.query<{ oid: number; last_value: string; is_called: boolean }>(
      sql,
      chunk.map((s) => s.oid),
    );
    for (const r of res.rows) out.set(r.oid, { last_value: r.last_value, is_called: r.is_called });
  }
  return out;
}

export function decodeSequence(s: SequenceRow, value: SequenceValue | undefined): SequenceInfo {
  return {
    schema: s.schema,
    name: s.name,
    qualifiedName: `${s.schema}.${s.name}`,
    oid: s.oid,
    dataType: s.data_type,
    start: s.start,
    increment: s.increment,
    min: s.min,
    max: s.max,
    cache: s.cache,
    cycle: s.cycle,
    lastValue: value?.last_value ?? null,
    isCalled: value?.is_called ?? null,
    ownedBy: s.table_name && s.column_name ? { table: s.table_name, column: s.column_name } : null,
    identity: s.deptype === "i",
  };
}
