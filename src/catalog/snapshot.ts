/**
 * Reads a CatalogSnapshot of the user schemas. It runs before and after every rehearsal, so it is a fixed
 * handful of set-based catalog queries (one per kind of object, each over every table at once), never a
 * query per table.
 *
 * Consistency: PostgreSQL reads the catalogs with a fresh catalog snapshot per statement, so run this inside
 * one REPEATABLE READ transaction on a single connection if DDL may run concurrently; the rehearsal takes its
 * snapshots while the migration is idle, where that does not matter.
 */
import { ident, type Queryable } from "../db/sql.ts";
import type {
  CatalogSnapshot,
  ColumnInfo,
  ConstraintInfo,
  ConstraintType,
  FkAction,
  ForeignKeyInfo,
  GrantInfo,
  IndexInfo,
  IndexKey,
  PartitionKeyPart,
  PolicyInfo,
  QualifiedName,
  RelKind,
  SequenceInfo,
  TableInfo,
  TriggerEvent,
  TriggerInfo,
} from "./types.ts";

export interface SnapshotOptions {
  /** Schemas to cover; default: every schema except PostgreSQL's own and rehearse's (_rehearse*). */
  schemas?: string[];
}

// ---------------------------------------------------------------- queries

// The default scope leaves out the system schemas, other sessions' temp schemas and rehearse's bookkeeping.
const SCHEMAS_SQL = `
SELECT n.oid, n.nspname::text AS name
FROM pg_namespace n
WHERE CASE WHEN $1::text[] IS NOT NULL THEN n.nspname = ANY($1::text[])
      ELSE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%'
       AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND n.nspname NOT LIKE '\\_rehearse%' END
ORDER BY n.nspname`;

const RELATIONS_SQL = `
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
const COLUMNS_SQL = `
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

// indclass/indcollation/indoption only have entries for key columns (not INCLUDE ones), hence the
// k.n <= indnkeyatts guards. pg_get_indexdef(oid, n, true) prints one key column or expression.
const INDEXES_SQL = `
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

// Both directions: constraints on our tables, and foreign keys from any table that reference ours.
const CONSTRAINTS_SQL = `
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

const TRIGGERS_SQL = `
SELECT t.tgrelid AS rel, t.oid, t.tgname::text AS name, t.tgtype::int AS tgtype, t.tgenabled::text AS enabled,
       t.tgisinternal AS internal, nullif(t.tgparentid, 0) AS parent_oid,
       pn.nspname::text || '.' || p.proname::text AS function, pg_get_triggerdef(t.oid, true) AS definition
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE t.tgrelid = ANY($1::oid[])
ORDER BY t.tgrelid, t.tgname`;

const POLICIES_SQL = `
SELECT pol.polrelid AS rel, pol.polname::text AS name, pol.polcmd::text AS cmd, pol.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
             FROM unnest(pol.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(pol.polqual, pol.polrelid, true) AS using_expr,
       pg_get_expr(pol.polwithcheck, pol.polrelid, true) AS check_expr
FROM pg_policy pol
WHERE pol.polrelid = ANY($1::oid[])
ORDER BY pol.polrelid, pol.polname`;

// OWNED BY (serial, deptype 'a') or identity (deptype 'i'): the sequence depends on the table column.
const SEQUENCES_SQL = `
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

// ---------------------------------------------------------------- row shapes

interface RelationRow {
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

interface ColumnRow {
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

interface IndexRow {
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

interface ConstraintRow {
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

interface TriggerRow {
  rel: number;
  oid: number;
  name: string;
  tgtype: number;
  enabled: string;
  internal: boolean;
  parent_oid: number | null;
  function: string;
  definition: string;
}

interface PolicyRow {
  rel: number;
  name: string;
  cmd: string;
  permissive: boolean;
  roles: string[];
  using_expr: string | null;
  check_expr: string | null;
}

interface SequenceRow {
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

// ---------------------------------------------------------------- decoding helpers (exported for tests)

const RELKINDS: Record<string, RelKind> = { r: "table", p: "partitioned", v: "view" };
const STRATEGIES = { r: "range", l: "list", h: "hash" } as const;
const FK_ACTIONS: Record<string, FkAction> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};
const POLICY_COMMANDS: Record<string, PolicyInfo["command"]> = {
  "*": "ALL",
  r: "SELECT",
  a: "INSERT",
  w: "UPDATE",
  d: "DELETE",
};
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

/** Decodes pg_trigger.tgtype (the TRIGGER_TYPE_* bits of PostgreSQL's trigger.h). */
export function decodeTriggerType(tgtype: number): Pick<TriggerInfo, "timing" | "events" | "level"> {
  const timing = tgtype & 64 ? "INSTEAD OF" : tgtype & 2 ? "BEFORE" : "AFTER";
  const events: TriggerEvent[] = [];
  if (tgtype & 4) events.push("INSERT");
  if (tgtype & 16) events.push("UPDATE");
  if (tgtype & 8) events.push("DELETE");
  if (tgtype & 32) events.push("TRUNCATE");
  return { timing, events, level: tgtype & 1 ? "row" : "statement" };
}

/**
 * Splits a comma-separated list of SQL expressions at top level (not inside parentheses, brackets or quotes):
 * pg_get_expr() prints a partition key's expressions as one such list.
 */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) {
        // A doubled quote is an escaped quote inside the literal/identifier.
        if (text[i + 1] === quote) i++;
        else quote = null;
      }
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last) parts.push(last);
  return parts;
}

/** Parses an identifier chain as PostgreSQL prints it ("ledger_id_seq", "app.\"My Seq\"") into its parts. */
export function parseIdentifierChain(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let name = "";
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          name += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else name += text[i++];
      }
      parts.push(name);
    } else {
      const dot = text.indexOf(".", i);
      const end = dot < 0 ? text.length : dot;
      // Unquoted identifiers are folded to lower case by the parser.
      parts.push(text.slice(i, end).toLowerCase());
      i = end;
    }
    if (text[i] === ".") i++;
  }
  return parts;
}

/**
 * The sequence a DEFAULT's nextval('…') names, as "schema.name" (unqualified: public). A fallback for
 * defaults whose dependency PostgreSQL did not record (nextval('x'::text) resolves the name at run time).
 */
export function sequenceFromDefault(defaultExpr: string | null): QualifiedName | null {
  if (!defaultExpr) return null;
  const m = /nextval\('((?:[^']|'')+)'(?:::(?:regclass|text))?\)/.exec(defaultExpr);
  if (!m) return null;
  const parts = parseIdentifierChain(m[1]!.replace(/''/g, "'"));
  if (parts.length === 1) return `public.${parts[0]}`;
  if (parts.length === 2) return `${parts[0]}.${parts[1]}`;
  return null;
}

function groupBy<T>(rows: T[], key: (row: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
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

// ---------------------------------------------------------------- the snapshot

/** Reads the catalog of the user schemas (or `options.schemas`) into a CatalogSnapshot. */
export async function takeSnapshot(db: Queryable, options: SnapshotOptions = {}): Promise<CatalogSnapshot> {
  const head = await db.query<{ now: Date; version: string }>(
    "SELECT clock_timestamp() AS now, current_setting('server_version_num') AS version",
  );
  const schemaRows = (await db.query<{ oid: number; name: string }>(SCHEMAS_SQL, [options.schemas ?? null]))
    .rows;
  const nsOids = schemaRows.map((r) => r.oid);

  const relations = (await db.query<RelationRow>(RELATIONS_SQL, [nsOids])).rows;
  const relOids = relations.map((r) => r.oid);
  const columns = (await db.query<ColumnRow>(COLUMNS_SQL, [relOids])).rows;
  const indexes = (await db.query<IndexRow>(INDEXES_SQL, [relOids])).rows;
  const constraints = (await db.query<ConstraintRow>(CONSTRAINTS_SQL, [relOids])).rows;
  const triggers = (await db.query<TriggerRow>(TRIGGERS_SQL, [relOids])).rows;
  const policies = (await db.query<PolicyRow>(POLICIES_SQL, [relOids])).rows;
  const sequenceRows = (await db.query<SequenceRow>(SEQUENCES_SQL, [nsOids])).rows;
  const sequenceValues = await readSequenceValues(db, sequenceRows);

  const columnsByRel = groupBy(columns, (r) => r.rel);
  const indexesByRel = groupBy(indexes, (r) => r.rel);
  const triggersByRel = groupBy(triggers, (r) => r.rel);
  const policiesByRel = groupBy(policies, (r) => r.rel);
  const constraintsByRel = groupBy(
    constraints.filter((c) => c.type !== "f"),
    (r) => r.rel,
  );

  const foreignKeys: ForeignKeyInfo[] = constraints
    .filter((c) => c.type === "f")
    .map((c) => ({
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
    }));

  const tables: Record<QualifiedName, TableInfo> = {};
  const byOid = new Map<number, TableInfo>();
  for (const r of relations) {
    const qualifiedName = `${r.schema}.${r.name}`;
    const cols: ColumnInfo[] = (columnsByRel.get(r.oid) ?? []).map((c) => ({
      name: c.name,
      num: c.num,
      type: c.type,
      notNull: c.not_null,
      default: c.default_expr,
      identity: c.identity === "a" ? "always" : c.identity === "d" ? "by default" : null,
      generated: c.generated === "s" ? "stored" : null,
      sequence: c.sequence ?? sequenceFromDefault(c.default_expr),
    }));
    const columnsByNum = new Map(cols.map((c) => [c.num, c.name]));
    const table: TableInfo = {
      schema: r.schema,
      name: r.name,
      qualifiedName,
      oid: r.oid,
      relkind: RELKINDS[r.relkind] ?? "table",
      owner: r.owner,
      relfilenode: Number(r.relfilenode),
      reltuples: r.reltuples,
      columns: cols,
      indexes: (indexesByRel.get(r.oid) ?? []).map(decodeIndex),
      constraints: (constraintsByRel.get(r.oid) ?? []).map(decodeConstraint),
      triggers: (triggersByRel.get(r.oid) ?? []).map((t) => ({
        name: t.name,
        oid: t.oid,
        ...decodeTriggerType(t.tgtype),
        function: t.function,
        enabled: (["O", "D", "R", "A"].includes(t.enabled) ? t.enabled : "O") as TriggerInfo["enabled"],
        internal: t.internal,
        parentTriggerOid: t.parent_oid,
        definition: t.definition,
      })),
      grants: decodeGrants(r.acl),
      rls: {
        enabled: r.rls,
        forced: r.rls_forced,
        policies: (policiesByRel.get(r.oid) ?? []).map((p) => ({
          name: p.name,
          command: POLICY_COMMANDS[p.cmd] ?? "ALL",
          permissive: p.permissive,
          roles: p.roles,
          using: p.using_expr,
          check: p.check_expr,
        })),
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
    tables[qualifiedName] = table;
    byOid.set(r.oid, table);
  }

  // Each partitioned table lists its direct partitions (those in scope).
  for (const t of Object.values(tables)) {
    if (!t.partitionOf) continue;
    const parent = byOid.get(t.partitionOf.parentOid);
    parent?.partitioning?.partitions.push({
      name: t.qualifiedName,
      oid: t.oid,
      bound: t.partitionOf.bound,
      isDefault: t.partitionOf.isDefault,
    });
  }
  for (const t of Object.values(tables))
    t.partitioning?.partitions.sort((a, b) => a.name.localeCompare(b.name));

  const sequences: Record<QualifiedName, SequenceInfo> = {};
  for (const s of sequenceRows) {
    const qualifiedName = `${s.schema}.${s.name}`;
    const value = sequenceValues.get(s.oid);
    sequences[qualifiedName] = {
      schema: s.schema,
      name: s.name,
      qualifiedName,
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

  return {
    takenAt: head.rows[0]!.now.toISOString(),
    serverVersion: Number(head.rows[0]!.version),
    schemas: schemaRows.map((r) => r.name),
    tables,
    sequences,
    foreignKeys,
  };
}

function decodeIndex(r: IndexRow): IndexInfo {
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

function decodeConstraint(r: ConstraintRow): ConstraintInfo {
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

/**
 * last_value/is_called live in each sequence relation, so they take one UNION ALL over the readable
 * sequences (PostgreSQL 17 has no catalog function returning is_called).
 */
async function readSequenceValues(
  db: Queryable,
  rows: SequenceRow[],
): Promise<Map<number, { last_value: string; is_called: boolean }>> {
  const readable = rows.filter((s) => s.readable);
  const out = new Map<number, { last_value: string; is_called: boolean }>();
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
