/**
 * The objects a table's definition needs besides tables: the user types its columns use (enum, domain with its
 * constraints, composite, range), the functions and aggregates its defaults, constraints, triggers and
 * dependent views call, and the extensions any of those belong to — found by walking pg_depend from the table,
 * not by guessing from names, so a restore of schema.sql into a fresh server does not fail on
 * `type "year" does not exist` or `function group_concat(text) does not exist`.
 *
 * Built-in objects never appear: PostgreSQL records no dependency on pinned objects. An object that belongs
 * to an extension is replaced by its CREATE EXTENSION. What cannot be reproduced from the catalog (a base type
 * written in C, an ordered-set aggregate, a collation) is named in `unreproduced`, never silently dropped.
 */
import { ident, literal, type Queryable } from "../db/sql.ts";

export interface ClosureObject {
  kind: "extension" | "type" | "function" | "aggregate";
  /** Qualified, display form (format_type / regprocedure). */
  name: string;
  sql: string;
  /** Whether it needs a table to exist first (a function over a table's row type): rendered after the tables. */
  afterTables: boolean;
}

export interface Closure {
  objects: ClosureObject[];
  /** Objects the tables need that schema.sql cannot recreate, with why. */
  unreproduced: string[];
  /** Schemas the objects live in. */
  schemas: string[];
}

const PG_CLASS = "'pg_class'::regclass";

/** Parts of a relation whose own dependencies count: defaults, constraints, a view's rule, triggers. */
const PARTS_SQL = `
SELECT d.classid::int AS classid, d.objid::int AS objid
FROM pg_depend d
WHERE d.refclassid = ${PG_CLASS} AND d.refobjid = ANY($1::oid[])
  AND d.classid IN ('pg_attrdef'::regclass, 'pg_constraint'::regclass, 'pg_rewrite'::regclass, 'pg_trigger'::regclass)
UNION
SELECT 'pg_constraint'::regclass::int, c.oid::int FROM pg_constraint c WHERE c.contypid = ANY($2::oid[])`;

/** Column types of relations the tables only reference (stub tables): types, not their defaults. */
const COLUMN_TYPES_SQL = `
SELECT DISTINCT a.atttypid::int AS oid FROM pg_attribute a
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384`;

/** One step of the walk: what the objects depend on, among types, functions and extensions. */
const DEPS_SQL = `
SELECT d.classid::int AS classid, d.objid::int AS objid, d.refclassid::int AS refclassid,
       d.refobjid::int AS refobjid, d.deptype::text AS deptype
FROM pg_depend d
JOIN unnest($1::oid[], $2::oid[]) AS o(classid, objid) ON d.classid = o.classid AND d.objid = o.objid
WHERE d.refclassid IN ('pg_type'::regclass, 'pg_proc'::regclass, 'pg_extension'::regclass,
                       'pg_collation'::regclass, ${PG_CLASS})
  AND d.deptype IN ('n', 'a', 'i', 'e')`;

const TYPES_SQL = `
SELECT t.oid::int AS oid, format_type(t.oid, NULL) AS name, n.nspname::text AS schema, t.typtype::text AS typtype,
       t.typcategory::text AS category, t.typrelid::int AS relid,
       format_type(t.typbasetype, t.typtypmod) AS base, t.typnotnull AS not_null, t.typdefault AS default,
       CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
            THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = t.typcollation) END AS collation,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
         AS labels,
       (SELECT array_agg('CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid) ORDER BY c.conname)
          FROM pg_constraint c WHERE c.contypid = t.oid) AS checks,
       (SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
          WHERE a.attrelid = t.typrelid AND r.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
       (SELECT r.relkind::text FROM pg_class r WHERE r.oid = t.typrelid) AS relkind,
       (SELECT format_type(rg.rngsubtype, NULL) FROM pg_range rg WHERE rg.rngtypid = t.oid) AS range_subtype,
       (SELECT nullif(rg.rngsubdiff::regproc::text, '-') FROM pg_range rg WHERE rg.rngtypid = t.oid) AS range_diff
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE t.oid = ANY($1::oid[])`;

const PROCS_SQL = `
SELECT p.oid::int AS oid, p.oid::regprocedure::text AS name, n.nspname::text AS schema, p.prokind::text AS kind,
       CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) END AS def,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qname,
       pg_get_function_identity_arguments(p.oid) AS args,
       a.aggkind::text AS aggkind, a.aggtransfn::regproc::text AS sfunc, format_type(a.aggtranstype, NULL) AS stype,
       nullif(a.aggfinalfn::regproc::text, '-') AS finalfunc, nullif(a.aggcombinefn::regproc::text, '-') AS combinefunc,
       a.agginitval AS initcond, nullif(a.aggsortop::regoperator::text, '0') AS sortop
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
WHERE p.oid = ANY($1::oid[])`;

const EXTENSIONS_SQL = `
SELECT e.oid::int AS oid, e.extname::text AS name, n.nspname::text AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.oid = ANY($1::oid[])`;

const CLASS_IDS_SQL = `
SELECT 'pg_type'::regclass::int AS type, 'pg_proc'::regclass::int AS proc, 'pg_extension'::regclass::int AS ext,
       'pg_collation'::regclass::int AS coll, ${PG_CLASS}::int AS class`;

interface Edge {
  classid: number;
  objid: number;
  refclassid: number;
  refobjid: number;
  deptype: string;
}

/**
 * Walks pg_depend from the tables and views (`full`: their defaults, constraints, rules and triggers count) and
 * from the relations they only reference (`typesOnly`: their column types), to the user types, functions and
 * extensions they need, and renders each as SQL in dependency order.
 */
export async function readClosure(db: Queryable, full: number[], typesOnly: number[]): Promise<Closure> {
  const ids = (
    await db.query<{ type: number; proc: number; ext: number; coll: number; class: number }>(CLASS_IDS_SQL)
  ).rows[0]!;
  const key = (c: number, o: number) => `${c}:${o}`;
  const seen = new Set<string>();
  const edges: Edge[] = [];
  let frontier: [number, number][] = full.map((o) => [ids.class, o]);
  const stubTypes = (await db.query<{ oid: number }>(COLUMN_TYPES_SQL, [typesOnly])).rows;
  frontier.push(...stubTypes.map((r): [number, number] => [ids.type, r.oid]));
  // Relations are walked through their parts only once, at the start: a dependency on another table
  // (a function over its row type) is recorded, not followed.
  const parts = (await db.query<{ classid: number; objid: number }>(PARTS_SQL, [full, []])).rows;
  frontier.push(...parts.map((p): [number, number] => [p.classid, p.objid]));
  while (frontier.length) {
    frontier = frontier.filter(([c, o]) => !seen.has(key(c, o)) && seen.add(key(c, o)));
    if (!frontier.length) break;
    const rows = (await db.query<Edge>(DEPS_SQL, [frontier.map(([c]) => c), frontier.map(([, o]) => o)]))
      .rows;
    edges.push(...rows);
    const next: [number, number][] = [];
    const newTypes: number[] = [];
    for (const e of rows) {
      if (e.deptype === "e" || e.refclassid === ids.class) continue;
      next.push([e.refclassid, e.refobjid]);
      if (e.refclassid === ids.type) newTypes.push(e.refobjid);
    }
    // A domain's CHECK constraints are parts of the type: their functions count.
    if (newTypes.length)
      next.push(
        ...(await db.query<{ classid: number; objid: number }>(PARTS_SQL, [[], newTypes])).rows.map(
          (p): [number, number] => [p.classid, p.objid],
        ),
      );
    frontier = next;
  }
  return render(db, ids, seen, edges);
}

async function render(
  db: Queryable,
  ids: { type: number; proc: number; ext: number; coll: number; class: number },
  seen: Set<string>,
  edges: Edge[],
): Promise<Closure> {
  const of = (cls: number) =>
    [...seen]
      .map((k) => k.split(":").map(Number))
      .filter(([c]) => c === cls)
      .map(([, o]) => o!);
  // Extension members are replaced by their extension.
  const memberOf = new Map<string, number>();
  for (const e of edges) if (e.deptype === "e") memberOf.set(`${e.classid}:${e.objid}`, e.refobjid);
  const nodes = new Map<string, ClosureObject>();
  const unreproduced: string[] = [];
  const schemas = new Set<string>();

  const extOids = [...new Set(memberOf.values())];
  const exts = (await db.query<{ oid: number; name: string; schema: string }>(EXTENSIONS_SQL, [extOids]))
    .rows;
  for (const x of exts) {
    schemas.add(x.schema);
    nodes.set(`${ids.ext}:${x.oid}`, {
      kind: "extension",
      name: x.name,
      sql: `CREATE EXTENSION IF NOT EXISTS ${ident(x.name)} WITH SCHEMA ${ident(x.schema)};`,
      afterTables: false,
    });
  }
  const types = await readTypes(
    db,
    of(ids.type).filter((o) => !memberOf.has(`${ids.type}:${o}`)),
  );
  for (const t of types) {
    const sql = typeSql(t);
    if (sql === null) continue; // an array or a table's row type: comes with its element or table
    if (sql instanceof Error) {
      unreproduced.push(`type ${t.name}: ${sql.message}`);
      continue;
    }
    schemas.add(t.schema);
    nodes.set(`${ids.type}:${t.oid}`, { kind: "type", name: t.name, sql, afterTables: false });
  }
  const procs = (
    await db.query<ProcRow>(PROCS_SQL, [of(ids.proc).filter((o) => !memberOf.has(`${ids.proc}:${o}`))])
  ).rows;
  for (const p of procs) {
    const sql = procSql(p);
    if (sql instanceof Error) {
      unreproduced.push(`${p.kind === "a" ? "aggregate" : "function"} ${p.name}: ${sql.message}`);
      continue;
    }
    schemas.add(p.schema);
    nodes.set(`${ids.proc}:${p.oid}`, {
      kind: p.kind === "a" ? "aggregate" : "function",
      name: p.name,
      sql,
      afterTables: false,
    });
  }
  for (const c of of(ids.coll))
    if (!memberOf.has(`${ids.coll}:${c}`)) unreproduced.push(`collation oid ${c}`);

  // Dependencies between rendered objects, members mapped to their extension; a dependency on a table puts
  // the object after the tables (and everything that needs it too).
  const deps = new Map<string, Set<string>>();
  const resolve = (k: string) => {
    const ext = memberOf.get(k);
    return ext === undefined ? k : `${ids.ext}:${ext}`;
  };
  for (const e of edges) {
    const from = resolve(`${e.classid}:${e.objid}`);
    const node = nodes.get(from);
    if (!node) continue;
    if (e.refclassid === ids.class) {
      if (node.kind !== "extension") node.afterTables = true;
      continue;
    }
    // An array type stands for its element.
    const to = resolve(`${e.refclassid}:${e.refobjid}`);
    if (to !== from && nodes.has(to)) (deps.get(from) ?? deps.set(from, new Set()).get(from)!).add(to);
  }
  return { objects: topological(nodes, deps), unreproduced, schemas: [...schemas].sort() };
}

function topological(nodes: Map<string, ClosureObject>, deps: Map<string, Set<string>>): ClosureObject[] {
  const out: ClosureObject[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (k: string) => {
    if (state.get(k)) return; // a cycle (a type and a function over it) is left to the order seen
    state.set(k, "visiting");
    for (const d of [...(deps.get(k) ?? [])].sort()) visit(d);
    state.set(k, "done");
    out.push(nodes.get(k)!);
  };
  const rank = { extension: 0, type: 1, function: 2, aggregate: 3 };
  for (const k of [...nodes.keys()].sort(
    (a, b) =>
      rank[nodes.get(a)!.kind] - rank[nodes.get(b)!.kind] ||
      nodes.get(a)!.name.localeCompare(nodes.get(b)!.name),
  ))
    visit(k);
  // Whatever needs an object that comes after the tables comes after them too.
  let moved = true;
  while (moved) {
    moved = false;
    for (const [k, ds] of deps)
      if (!nodes.get(k)!.afterTables && [...ds].some((d) => nodes.get(d)?.afterTables))
        moved = nodes.get(k)!.afterTables = true;
  }
  return out;
}

/** The types `oids` as TYPES_SQL describes them: name (format_type), kind, base, enum labels, checks… */
export async function readTypes(db: Queryable, oids: number[]): Promise<TypeRow[]> {
  return (await db.query<TypeRow>(TYPES_SQL, [oids])).rows;
}

export interface TypeRow {
  oid: number;
  name: string;
  schema: string;
  typtype: string;
  category: string;
  relid: number;
  base: string;
  not_null: boolean;
  default: string | null;
  collation: string | null;
  labels: string[] | null;
  checks: string[] | null;
  attributes: string[] | null;
  relkind: string | null;
  range_subtype: string | null;
  range_diff: string | null;
}

/** CREATE TYPE / CREATE DOMAIN for one user type; null for types that come with something else. */
export function typeSql(t: TypeRow): string | null | Error {
  if (t.category === "A") return null;
  switch (t.typtype) {
    case "e":
      return `CREATE TYPE ${t.name} AS ENUM (${(t.labels ?? []).map(literal).join(", ")});`;
    case "d": {
      let s = `CREATE DOMAIN ${t.name} AS ${t.base}`;
      if (t.collation) s += ` COLLATE ${t.collation}`;
      if (t.default !== null) s += ` DEFAULT ${t.default}`;
      if (t.not_null) s += " NOT NULL";
      for (const c of t.checks ?? []) s += `\n  ${c}`;
      return `${s};`;
    }
    case "c":
      if (t.relkind !== "c") return null; // a table's or view's row type
      return `CREATE TYPE ${t.name} AS (${(t.attributes ?? []).join(", ")});`;
    case "r":
      return `CREATE TYPE ${t.name} AS RANGE (SUBTYPE = ${t.range_subtype}${t.range_diff ? `, SUBTYPE_DIFF = ${t.range_diff}` : ""});`;
    case "m":
      return null; // a multirange comes with its range
    default:
      return new Error("a base type defined in C outside an extension: install it on the clone first");
  }
}

interface ProcRow {
  oid: number;
  name: string;
  schema: string;
  kind: string;
  def: string | null;
  qname: string;
  args: string;
  aggkind: string | null;
  sfunc: string | null;
  stype: string | null;
  finalfunc: string | null;
  combinefunc: string | null;
  initcond: string | null;
  sortop: string | null;
}

export function procSql(p: ProcRow): string | Error {
  if (p.kind !== "a") return `${(p.def ?? "").trimEnd()};`;
  if (p.aggkind !== "n")
    return new Error("an ordered-set or hypothetical-set aggregate: create it on the clone first");
  const opts = [`SFUNC = ${p.sfunc}`, `STYPE = ${p.stype}`];
  if (p.finalfunc) opts.push(`FINALFUNC = ${p.finalfunc}`);
  if (p.combinefunc) opts.push(`COMBINEFUNC = ${p.combinefunc}`);
  if (p.initcond !== null) opts.push(`INITCOND = ${literal(p.initcond)}`);
  if (p.sortop) opts.push(`SORTOP = ${p.sortop.replace(/\(.*$/, "")}`);
  return `CREATE AGGREGATE ${p.qname}(${p.args}) (\n  ${opts.join(",\n  ")}\n);`;
}
