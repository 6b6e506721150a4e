/** Indexes: what the catalog says about them and how each becomes an IndexInfo. */
import type { IndexInfo, IndexKey } from "./types.ts";

// indclass/indcollation/indoption only have entries for key columns (not INCLUDE ones), hence the
// k.n <= indnkeyatts guards. pg_get_indexdef(oid, n, true) prints one key column or expression.
export const INDEXES_SQL = `
SELECT i.indrelid AS rel, ic.oid, ic.relname::text AS name, am.amname::text AS method,
       ic.relkind = 'I' AS partitioned, i.indisunique AS is_unique, i.indisprimary AS is_primary,
       i.indnullsnotdistinct AS nulls_not_distinct, i.indisvalid AS valid, i.indisready AS ready,
       i.indnkeyatts::int AS nkey, pg_get_indexdef(ic.oid) AS definition,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       inh.inhparent AS parent_oid, pic.relname::text AS parent_name,
       (SELECT con.conname::text FROM pg_constraint con
         WHERE con.conindid = ic.oid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
         LIMIT 1) AS constraint_name,
       (SELECT json_agg(json_build_object(
                 'column', att.attname::text,
                 'expression', CASE WHEN i.indkey[k.n - 1] = 0 THEN pg_get_indexdef(ic.oid, k.n, true) END,
                 'opclass', oc.opcname::text, 'opclassIsDefault', coalesce(oc.opcdefault, false),
                 'collation', co.collname::text,
                 'option', CASE WHEN k.n <= i.indnkeyatts THEN i.indoption[k.n - 1] ELSE 0 END) ORDER BY k.n)
          FROM generate_series(1, i.indnatts) k(n)
          LEFT JOIN pg_attribute att ON i.indkey[k.n - 1] <> 0 AND att.attrelid = i.indrelid
                                    AND att.attnum = i.indkey[k.n - 1]
          LEFT JOIN pg_opclass oc ON k.n <= i.indnkeyatts AND oc.oid = i.indclass[k.n - 1]
          LEFT JOIN pg_collation co ON k.n <= i.indnkeyatts AND co.oid = i.indcollation[k.n - 1]) AS keys
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_inherits inh ON inh.inhrelid = ic.oid
LEFT JOIN pg_class pic ON pic.oid = inh.inhparent
WHERE i.indrelid = ANY($1::oid[])
ORDER BY i.indrelid, ic.relname`;

export interface IndexRow {
  rel: number;
  oid: number;
  name: string;
  method: string;
  partitioned: boolean;
  is_unique: boolean;
  is_primary: boolean;
  nulls_not_distinct: boolean;
  valid: boolean;
  ready: boolean;
  nkey: number;
  definition: string;
  predicate: string | null;
  parent_oid: number | null;
  parent_name: string | null;
  constraint_name: string | null;
  keys: Array<{
    column: string | null;
    expression: string | null;
    opclass: string | null;
    opclassIsDefault: boolean;
    collation: string | null;
    option: number;
  }>;
}

export function decodeIndex(r: IndexRow): IndexInfo {
  const all = r.keys ?? [];
  const keys: IndexKey[] = all.slice(0, r.nkey).map((k) => ({
    column: k.column,
    expression: k.expression,
    opclass: k.opclass,
    opclassIsDefault: k.opclassIsDefault,
    collation: k.collation,
    // indoption bits (INDOPTION_DESC = 1, INDOPTION_NULLS_FIRST = 2).
    desc: (k.option & 1) !== 0,
    nullsFirst: (k.option & 2) !== 0,
  }));
  return {
    name: r.name,
    oid: r.oid,
    method: r.method,
    keys,
    include: all.slice(r.nkey).map((k) => k.column ?? k.expression ?? ""),
    predicate: r.predicate,
    unique: r.is_unique,
    primary: r.is_primary,
    nullsNotDistinct: r.nulls_not_distinct,
    valid: r.valid,
    ready: r.ready,
    partitioned: r.partitioned,
    parentIndexOid: r.parent_oid,
    parentIndex: r.parent_name,
    constraint: r.constraint_name,
    definition: r.definition,
  };
}
