/** Schemas, tables and their columns: what the catalog says about them and how it becomes TableInfo. */
import { sequenceFromDefault, splitTopLevel } from "./parse.ts";
import type {
  ColumnInfo,
  ForeignKeyInfo,
  GrantInfo,
  PartitionKeyPart,
  PolicyInfo,
  RelKind,
  TableInfo,
} from "./types.ts";

// The default scope leaves out the system schemas, other sessions' temp schemas and rehearse's bookkeeping.
export const SCHEMAS_SQL = `
SELECT n.oid, n.nspname::text AS name
FROM pg_namespace n
WHERE CASE WHEN $1::text[] IS NOT NULL THEN n.nspname = ANY($1::text[])
      ELSE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%'
       AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND n.nspname NOT LIKE '\\_rehearse%' END
ORDER BY n.nspname`;

export const RELATIONS_SQL = `
SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind,
       pg_get_userbyid(c.relowner)::text AS owner, c.relfilenode::int8::text AS relfilenode,
       c.reltuples::float8 AS reltuples, c.relrowsecurity AS rls, c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       par.oid AS parent_oid, parn.nspname::text || '.' || par.relname::text AS parent_name,
       pt.partstrat::text AS strategy,
       CASE WHEN pt.partrelid IS NOT NULL THEN pg_get_partkeydef(c.oid) END AS partkeydef,
       pt.partattrs::int2[] AS partattrs, pg_get_expr(pt.partexprs, pt.partrelid) AS partexprs,
       (SELECT json_agg(json_build_object(
                 'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
                 'privilege', a.privilege_type, 'grantable', a.is_grantable))
          FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a) AS acl
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
LEFT JOIN pg_inherits inh ON c.relispartition AND inh.inhrelid = c.oid
LEFT JOIN pg_class par ON par.oid = inh.inhparent
LEFT JOIN pg_namespace parn ON parn.oid = par.relnamespace
WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r', 'p', 'v')
ORDER BY n.nspname, c.relname`;

// A column's sequence comes from pg_depend rather than from parsing its DEFAULT text: the attrdef depends on
// the sequence nextval() names (survives renames, no search_path guessing); identity columns own an internal
// sequence (deptype 'i').
export const COLUMNS_SQL = `
SELECT a.attrelid AS rel, a.attnum::int AS num, a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attidentity::text AS identity,
       a.attgenerated::text AS generated, seq.name AS sequence
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN LATERAL (
  SELECT sn.nspname::text || '.' || s.relname::text AS name
  FROM pg_depend dep
  JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  WHERE d.oid IS NOT NULL AND dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
    AND dep.refclassid = 'pg_class'::regclass
  UNION ALL
  SELECT sn.nspname::text || '.' || s.relname::text
  FROM pg_depend dep
  JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  WHERE a.attidentity <> '' AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid = a.attrelid
    AND dep.refobjsubid = a.attnum AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i'
  LIMIT 1
) seq ON true
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

export interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  owner: string;
  relfilenode: string;
  reltuples: number;
  rls: boolean;
  rls_forced: boolean;
  bound: string | null;
  parent_oid: number | null;
  parent_name: string | null;
  strategy: string | null;
  partkeydef: string | null;
  partattrs: number[] | null;
  partexprs: string | null;
  acl: Array<{ grantee: string; privilege: string; grantable: boolean }> | null;
}

export interface ColumnRow {
  rel: number;
  num: number;
  name: string;
  type: string;
  not_null: boolean;
  default_expr: string | null;
  identity: string;
  generated: string;
  sequence: string | null;
}

const RELKINDS: Record<string, RelKind> = { r: "table", p: "partitioned", v: "view" };
const STRATEGIES = { r: "range", l: "list", h: "hash" } as const;
const PRIVILEGE_ORDER = [
  "DELETE",
  "INSERT",
  "MAINTAIN",
  "REFERENCES",
  "SELECT",
  "TRIGGER",
  "TRUNCATE",
  "UPDATE",
];

export function decodeColumn(c: ColumnRow): ColumnInfo {
  return {
    name: c.name,
    num: c.num,
    type: c.type,
    notNull: c.not_null,
    default: c.default_expr,
    identity: c.identity === "a" ? "always" : c.identity === "d" ? "by default" : null,
    generated: c.generated === "s" ? "stored" : null,
    sequence: c.sequence ?? sequenceFromDefault(c.default_expr),
  };
}

function decodeGrants(acl: RelationRow["acl"]): GrantInfo[] {
  const byGrantee = new Map<string, { privileges: Set<string>; grantable: Set<string> }>();
  for (const a of acl ?? []) {
    let g = byGrantee.get(a.grantee);
    if (!g) {
      g = { privileges: new Set(), grantable: new Set() };
      byGrantee.set(a.grantee, g);
    }
    g.privileges.add(a.privilege);
    if (a.grantable) g.grantable.add(a.privilege);
  }
  const order = (s: Set<string>) =>
    [...s].sort((x, y) => PRIVILEGE_ORDER.indexOf(x) - PRIVILEGE_ORDER.indexOf(y) || x.localeCompare(y));
  return [...byGrantee.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([grantee, g]) => ({ grantee, privileges: order(g.privileges), grantable: order(g.grantable) }));
}

function decodePartitionKey(row: RelationRow, columnsByNum: Map<number, string>): PartitionKeyPart[] {
  const exprs = row.partexprs ? splitTopLevel(row.partexprs) : [];
  let nextExpr = 0;
  return (row.partattrs ?? []).map((attnum) =>
    attnum === 0
      ? { column: null, expression: exprs[nextExpr++] ?? null }
      : { column: columnsByNum.get(attnum) ?? null, expression: null },
  );
}

/** What a table carries besides its own pg_class row, each part decoded by the module of its kind. */
export type TableParts = Pick<TableInfo, "columns" | "indexes" | "constraints" | "triggers"> & {
  policies: PolicyInfo[];
};

/** A table from its relation row and its parts; `foreignKeys` is every one in the snapshot, either direction. */
export function decodeTable(r: RelationRow, parts: TableParts, foreignKeys: ForeignKeyInfo[]): TableInfo {
  const qualifiedName = `${r.schema}.${r.name}`;
  const columnsByNum = new Map(parts.columns.map((c) => [c.num, c.name]));
  return {
    schema: r.schema,
    name: r.name,
    qualifiedName,
    oid: r.oid,
    relkind: RELKINDS[r.relkind] ?? "table",
    owner: r.owner,
    relfilenode: Number(r.relfilenode),
    reltuples: r.reltuples,
    columns: parts.columns,
    indexes: parts.indexes,
    constraints: parts.constraints,
    triggers: parts.triggers,
    grants: decodeGrants(r.acl),
    rls: {
      enabled: r.rls,
      forced: r.rls_forced,
      policies: parts.policies,
    },
    foreignKeys: {
      outgoing: foreignKeys.filter((f) => f.from === qualifiedName),
      incoming: foreignKeys.filter((f) => f.to === qualifiedName),
    },
    partitioning:
      r.strategy && r.strategy in STRATEGIES
        ? {
            strategy: STRATEGIES[r.strategy as keyof typeof STRATEGIES],
            key: decodePartitionKey(r, columnsByNum),
            definition: r.partkeydef ?? "",
            partitions: [],
          }
        : null,
    partitionOf:
      r.parent_oid !== null && r.bound !== null
        ? {
            parent: r.parent_name ?? "",
            parentOid: r.parent_oid,
            bound: r.bound,
            isDefault: r.bound === "DEFAULT",
          }
        : null,
  };
}

/** Each partitioned table lists its direct partitions (those in scope), by name. */
export function linkPartitions(tables: TableInfo[]): void {
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  for (const t of tables) {
    if (!t.partitionOf) continue;
    const parent = byOid.get(t.partitionOf.parentOid);
    parent?.partitioning?.partitions.push({
      name: t.qualifiedName,
      oid: t.oid,
      bound: t.partitionOf.bound,
      isDefault: t.partitionOf.isDefault,
    });
  }
  for (const t of tables) t.partitioning?.partitions.sort((a, b) => a.name.localeCompare(b.name));
}
