/** Constraints and foreign keys: what the catalog says about them and how they decode. */
import type { ConstraintInfo, ConstraintType, FkAction, ForeignKeyInfo } from "./types.ts";

// Both directions: constraints on our tables, and foreign keys from any table that reference ours.
export const CONSTRAINTS_SQL = `
SELECT con.oid, con.conname::text AS name, con.contype::text AS type, con.conrelid AS rel,
       rn.nspname::text || '.' || rc.relname::text AS rel_name,
       fn.nspname::text || '.' || fc.relname::text AS frel_name,
       con.convalidated AS validated, nullif(con.conparentid, 0) AS parent_oid, con.conislocal AS local,
       pg_get_constraintdef(con.oid, true) AS definition, ic.relname::text AS index_name,
       con.confupdtype::text AS on_update, con.confdeltype::text AS on_delete,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS fcolumns
FROM pg_constraint con
JOIN pg_class rc ON rc.oid = con.conrelid
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
LEFT JOIN pg_class ic ON ic.oid = con.conindid
WHERE con.conrelid = ANY($1::oid[]) OR (con.contype = 'f' AND con.confrelid = ANY($1::oid[]))
ORDER BY con.conrelid, con.conname`;

export interface ConstraintRow {
  oid: number;
  name: string;
  type: string;
  rel: number;
  rel_name: string;
  frel_name: string | null;
  validated: boolean;
  parent_oid: number | null;
  local: boolean;
  definition: string;
  index_name: string | null;
  on_update: string;
  on_delete: string;
  columns: string[];
  fcolumns: string[];
}

const FK_ACTIONS: Record<string, FkAction> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};

export function decodeConstraint(r: ConstraintRow): ConstraintInfo {
  return {
    name: r.name,
    oid: r.oid,
    type: r.type as ConstraintType,
    definition: r.definition,
    validated: r.validated,
    columns: r.columns,
    index: r.index_name,
    parentOid: r.parent_oid,
    local: r.local,
  };
}

export function decodeForeignKey(c: ConstraintRow): ForeignKeyInfo {
  return {
    name: c.name,
    oid: c.oid,
    from: c.rel_name,
    fromColumns: c.columns,
    to: c.frel_name ?? "",
    toColumns: c.fcolumns,
    onUpdate: FK_ACTIONS[c.on_update] ?? "no action",
    onDelete: FK_ACTIONS[c.on_delete] ?? "no action",
    validated: c.validated,
    parentOid: c.parent_oid,
    definition: c.definition,
  };
}
