/**
 * Dependents: objects outside a table that name it (views, materialized views, foreign keys from other tables,
 * triggers declared FROM it, other tables' policies reading it, publications listing it), and how each becomes
 * a DependentInfo. They are found through pg_depend and the catalogs that record the reference by OID, which
 * is exactly why a RENAME carries them along to the renamed table.
 */
import type { DependentInfo, DependentKind, ForeignKeyInfo, QualifiedName } from "./types.ts";

// One row per (dependent, referenced relation, column). Only relations in the snapshot's schemas ($1) count,
// on both sides. A view's rule depends on its own view too (deptype 'i'), hence the v.oid <> t.oid.
export const DEPENDENTS_SQL = `
WITH rel AS (
  SELECT c.oid, n.nspname::text || '.' || c.relname::text AS qname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
)
SELECT CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind, vr.qname AS name,
       NULL::text AS on_rel, v.oid, t.qname AS ref, a.attname::text AS col,
       pg_get_viewdef(v.oid, true) AS definition
FROM pg_depend d
JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
JOIN rel vr ON vr.oid = v.oid
JOIN rel t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid AND t.oid <> v.oid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
UNION ALL
SELECT 'trigger', tg.tgname::text, onr.qname, tg.oid, t.qname, NULL, NULL
FROM pg_trigger tg
JOIN rel onr ON onr.oid = tg.tgrelid
JOIN rel t ON t.oid = tg.tgconstrrelid AND t.oid <> tg.tgrelid
WHERE NOT tg.tgisinternal
UNION ALL
SELECT 'policy', pol.polname::text, onr.qname, pol.oid, t.qname, NULL, NULL
FROM pg_depend d
JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid
JOIN rel onr ON onr.oid = pol.polrelid
JOIN rel t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid AND t.oid <> pol.polrelid
UNION ALL
SELECT 'publication', p.pubname::text, NULL, p.oid, t.qname, NULL, NULL
FROM pg_publication_rel pr
JOIN pg_publication p ON p.oid = pr.prpubid
JOIN rel t ON t.oid = pr.prrelid
ORDER BY 1, 2, 3`;

export interface DependentRow {
  kind: string;
  name: string;
  on_rel: string | null;
  oid: number;
  ref: string;
  col: string | null;
  definition: string | null;
}

/** Folds the per-reference rows into one DependentInfo per object, and adds foreign keys from other tables. */
export function decodeDependents(rows: DependentRow[], foreignKeys: ForeignKeyInfo[]): DependentInfo[] {
  const byOid = new Map<string, DependentInfo>();
  for (const r of rows) {
    const k = `${r.kind}\u0000${r.oid}`;
    let d = byOid.get(k);
    if (!d) {
      d = { kind: r.kind as DependentKind, name: r.name, on: r.on_rel, oid: r.oid, references: [] };
      if (r.definition !== null) d.definition = r.definition;
      byOid.set(k, d);
    }
    if (!d.references.includes(r.ref)) d.references.push(r.ref);
    if (r.col !== null) {
      const cols = ((d.readsColumns ??= {})[r.ref] ??= []);
      if (!cols.includes(r.col)) cols.push(r.col);
    }
  }
  // A foreign key from another table (not a partition's clone of one): the referencing side depends on `to`.
  for (const fk of foreignKeys)
    if (fk.parentOid === null && fk.from !== fk.to)
      byOid.set(`foreign key\u0000${fk.oid}`, {
        kind: "foreign key",
        name: fk.name,
        on: fk.from,
        oid: fk.oid,
        references: [fk.to],
        definition: fk.definition,
      });
  const out = [...byOid.values()];
  for (const d of out) d.references.sort();
  return out.sort(
    (a, b) =>
      a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name) || (a.on ?? "").localeCompare(b.on ?? ""),
  );
}

/** The dependents that reference `table` from outside it (not declared on it). */
export function dependentsOf(dependents: DependentInfo[], table: QualifiedName): DependentInfo[] {
  return dependents.filter((d) => d.references.includes(table) && d.on !== table && d.name !== table);
}
