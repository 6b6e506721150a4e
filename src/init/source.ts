/**
 * Reads what `rehearse init` needs from a production database: definitions from the catalog and the planner's
 * statistics (pg_class.reltuples, pg_stats). Never a table row: every query below reads catalogs or pg_stats,
 * inside one READ ONLY transaction with a short statement_timeout.
 */
import pg from "pg";
import { dependentsOf } from "../catalog/dependents.ts";
import { takeSnapshot } from "../catalog/snapshot.ts";
import { type CatalogSnapshot, relationKey, type TableInfo } from "../catalog/types.ts";
import { qualified, type Queryable } from "../db/sql.ts";
import { type Closure, readClosure, readTypes } from "./closure.ts";
import { readTraffic, type TrafficRead } from "./traffic.ts";

/** Bad input to `init`: what is wrong and how to fix it (exit 2). */
export class InitError extends Error {
  override name = "InitError";
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** One column's row of pg_stats (null fields: the statistic does not exist for it). */
export interface ColumnStats {
  column: string;
  nullFrac: number;
  avgWidth: number;
  /** > 0: distinct values; < 0: minus the fraction of rows that are distinct (-1: unique). */
  nDistinct: number;
  mcv: string[] | null;
  mcf: number[] | null;
  histogram: string[] | null;
  correlation: number | null;
}

export interface SourceTable {
  info: TableInfo;
  reltuples: number;
  stats: Map<string, ColumnStats>;
  /** Enum types' labels by type name (values that are in the schema, so never sensitive). */
  enums: Map<string, string[]>;
  /** Domains' base types by domain name (format_type), so a domain column is generated as its base type. */
  domains?: Map<string, string>;
  /** The views and materialized views that read the table, which a migration must carry over. */
  views?: DependentView[];
  /** Columns the table's own UPDATE row triggers assign (NEW.col := …, or an argument naming it), by trigger. */
  triggerSet?: Map<string, string>;
  /** pg_stat_user_tables' counts since the statistics were reset, when the source keeps them. */
  activity?: { inserts: number; updates: number; hotUpdates: number };
}

export interface DependentView {
  kind: "view" | "materialized view";
  /** "schema.name". */
  name: string;
  /** pg_get_viewdef(), without the trailing semicolon. */
  definition: string;
  /** A materialized view's indexes (pg_get_indexdef): dropped with it, so re-created with it. */
  indexes: string[];
}

export interface SourceRead {
  snapshot: CatalogSnapshot;
  tables: SourceTable[];
  /** The user types, functions, aggregates and extensions the tables and their dependent views need. */
  closure: Closure;
  serverVersion: string;
  /** pg_stat_statements and pg_stat_activity on the tables (traffic.ts), or why they could not be read. */
  traffic?: TrafficRead;
}

/** The statement_timeout init runs under on the source. */
export const SOURCE_STATEMENT_TIMEOUT = "5s";

const STATS_SQL = `
SELECT s.attname::text AS column, s.null_frac::float8 AS null_frac, s.avg_width::int AS avg_width,
       s.n_distinct::float8 AS n_distinct, s.most_common_vals::text::text[] AS mcv,
       s.most_common_freqs::float8[] AS mcf, s.histogram_bounds::text::text[] AS histogram,
       s.correlation::float8 AS correlation
FROM pg_stats s
WHERE s.schemaname = $1 AND s.tablename = $2 AND s.inherited = $3`;

// Why pg_stats could be empty for a table, without touching the table. pg_stats shows a column only to a role
// that may SELECT it, and hides every column of a table whose row-level security applies to the role
// (pg_read_all_stats does not widen it).
const ACCESS_SQL = `
SELECT c.reltuples::float8 AS reltuples,
       has_any_column_privilege(c.oid, 'SELECT') AS can_select,
       c.relrowsecurity AND row_security_active(c.oid) AS rls_hides,
       coalesce(greatest(st.last_analyze, st.last_autoanalyze) IS NOT NULL, false) AS analyzed
FROM pg_class c
LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
WHERE c.oid = to_regclass($1)`;

/** Every enum and domain: described by closure.ts's readTypes, the query that renders them in schema.sql. */
const ENUM_AND_DOMAIN_OIDS_SQL = `SELECT t.oid::int AS oid FROM pg_type t WHERE t.typtype IN ('e', 'd')`;

const VIEW_INDEXES_SQL = `
SELECT i.indrelid::int AS view, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i WHERE i.indrelid = ANY($1::oid[]) ORDER BY i.indexrelid`;

const TRIGGER_SOURCES_SQL = `
SELECT t.tgname::text AS name, p.prosrc AS src,
       string_to_array(encode(t.tgargs, 'escape'), '\\000') AS args
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND (t.tgtype & 1) = 1 AND (t.tgtype & 16) = 16`;

const ACTIVITY_SQL = `
SELECT n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd, n_tup_hot_upd::float8 AS hot
FROM pg_stat_user_tables WHERE relid = $1::oid`;

/** Connects with `url` and reads the tables' definitions and statistics; throws InitError on bad input. */
export async function readSource(
  source: string | pg.ClientConfig,
  tableNames: string[],
  log: (line: string) => void,
): Promise<SourceRead> {
  const config = typeof source === "string" ? { connectionString: source } : source;
  const client = new pg.Client({ ...config, application_name: "rehearse init" });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new InitError(
      `cannot connect to the source: ${(err as Error).message}`,
      "check --from-url (host, port, database, user, password)",
    );
  }
  try {
    log(
      `reading the source in a READ ONLY transaction with statement_timeout ${SOURCE_STATEMENT_TIMEOUT}: ` +
        "catalog definitions and planner statistics only, no table rows",
    );
    await client.query("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`SET LOCAL statement_timeout = '${SOURCE_STATEMENT_TIMEOUT}'`);
    await client.query("SET LOCAL lock_timeout = '1s'");
    // Timestamps in statistics come back in UTC ISO form whatever the role's settings.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
    try {
      return await readInTransaction(client, tableNames);
    } finally {
      await client.query("ROLLBACK").catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function readInTransaction(db: Queryable, tableNames: string[]): Promise<SourceRead> {
  // SHOW names its column after the setting: select it under a name of our own.
  const version = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  const snapshot = await takeSnapshot(db);
  const { enums, domains } = await enumsAndDomains(db);
  const tables: SourceTable[] = [];
  for (const name of tableNames) {
    const key = relationKey(name);
    const info = snapshot.tables[key];
    if (!info || info.relkind === "view")
      throw new InitError(
        `table ${name} does not exist in the source (looked for ${key})`,
        "name an existing table with --table (schema-qualify it when it is not in public: --table app.orders)",
      );
    const access = (
      await db.query<{ reltuples: number; can_select: boolean; rls_hides: boolean; analyzed: boolean }>(
        ACCESS_SQL,
        [qualified(key)],
      )
    ).rows[0]!;
    const rows = (
      await db.query<{
        column: string;
        null_frac: number;
        avg_width: number;
        n_distinct: number;
        mcv: string[] | null;
        mcf: number[] | null;
        histogram: string[] | null;
        correlation: number | null;
      }>(STATS_SQL, [info.schema, info.name, info.relkind === "partitioned"])
    ).rows;
    if (rows.length === 0) {
      if (!access.can_select)
        throw new InitError(
          `the role cannot read the statistics of ${key}: pg_stats shows only the columns the role may SELECT ` +
            "(pg_read_all_stats does not widen pg_stats)",
          `GRANT SELECT ON ${qualified(key)} TO <role>; or connect as the table's owner — init still reads no ` +
            "rows: it runs in a READ ONLY transaction and queries only the catalogs and pg_stats",
        );
      if (access.rls_hides)
        throw new InitError(
          `the role cannot read the statistics of ${key}: row-level security applies to it, and pg_stats hides ` +
            "such tables' statistics",
          "connect as the table's owner or a role with BYPASSRLS (ALTER ROLE <role> BYPASSRLS)",
        );
      if (access.analyzed && access.reltuples === 0)
        throw new InitError(
          `${key} is empty (analysed, 0 rows): there are no statistics to fit its rows to`,
          `init it once it holds rows (run the workload, then ANALYZE ${qualified(key)}), or name a table that has rows`,
        );
      throw new InitError(
        `${key} has no planner statistics: it was never analysed` +
          (access.reltuples < 0 ? " (pg_class.reltuples = -1)" : ""),
        `run ANALYZE ${qualified(key)}; on the source (it reads a sample and writes only statistics), then init again`,
      );
    }
    const stats = new Map<string, ColumnStats>();
    for (const r of rows)
      stats.set(r.column, {
        column: r.column,
        nullFrac: r.null_frac,
        avgWidth: r.avg_width,
        nDistinct: r.n_distinct,
        mcv: r.mcv,
        mcf: r.mcf,
        histogram: r.histogram,
        correlation: r.correlation,
      });
    tables.push({
      info,
      reltuples: Math.max(0, Math.round(access.reltuples)),
      stats,
      enums,
      domains,
      views: await viewsOf(db, snapshot, key),
      triggerSet: await triggerAssigned(db, info),
      activity: await activityOf(db, info.oid),
    });
  }
  const closure = await closureOf(db, snapshot, tables);
  const traffic = await readTraffic(
    db,
    tables.map((t) => t.info),
  );
  return { snapshot, tables, closure, serverVersion: version, traffic };
}

/** Enum types' labels (an enum without labels is left out) and domains' base types, by type name. */
async function enumsAndDomains(
  db: Queryable,
): Promise<{ enums: Map<string, string[]>; domains: Map<string, string> }> {
  const oids = (await db.query<{ oid: number }>(ENUM_AND_DOMAIN_OIDS_SQL)).rows.map((r) => r.oid);
  const types = await readTypes(db, oids);
  return {
    enums: new Map(
      types.flatMap((t): [string, string[]][] => (t.typtype === "e" && t.labels ? [[t.name, t.labels]] : [])),
    ),
    domains: new Map(types.filter((t) => t.typtype === "d").map((t) => [t.name, t.base])),
  };
}

/**
 * Which columns the table's row triggers set on UPDATE: a key a trigger rewrites on every UPDATE (Pagila's
 * last_update) moves rows between partitions and says nothing about when a row was written. (A trigger that
 * only fills a default on INSERT does neither.)
 */
async function triggerAssigned(db: Queryable, info: TableInfo): Promise<Map<string, string>> {
  const rows = (
    await db.query<{ name: string; src: string; args: string[] | null }>(TRIGGER_SOURCES_SQL, [info.oid])
  ).rows;
  const out = new Map<string, string>();
  for (const c of info.columns) {
    const quoted = c.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const assigns = new RegExp(`\\bNEW\\s*\\.\\s*"?${quoted}"?\\s*:?=`, "i");
    const t = rows.find((r) => assigns.test(r.src) || (r.args ?? []).includes(c.name));
    if (t) out.set(c.name, t.name);
  }
  return out;
}

async function activityOf(db: Queryable, oid: number): Promise<SourceTable["activity"]> {
  const r = (await db.query<{ ins: number; upd: number; hot: number }>(ACTIVITY_SQL, [oid])).rows[0];
  return r ? { inserts: r.ins, updates: r.upd, hotUpdates: r.hot } : undefined;
}

async function viewsOf(db: Queryable, snapshot: CatalogSnapshot, key: string): Promise<DependentView[]> {
  const deps = dependentsOf(snapshot.dependents ?? [], key).filter(
    (d) => d.kind === "view" || d.kind === "materialized view",
  );
  const indexes = (
    await db.query<{ view: number; def: string }>(VIEW_INDEXES_SQL, [
      deps.filter((d) => d.kind === "materialized view").map((d) => d.oid),
    ])
  ).rows;
  return deps.map((d) => ({
    kind: d.kind as DependentView["kind"],
    name: d.name,
    definition: (d.definition ?? "").trim().replace(/;$/, ""),
    indexes: indexes.filter((i) => i.view === d.oid).map((i) => i.def),
  }));
}

/**
 * The closure starts at the tables and the views that read them (whose definitions schema.sql carries), and
 * takes only the column types of the relations they merely point at (stub tables in schema.sql).
 */
function closureOf(db: Queryable, snapshot: CatalogSnapshot, tables: SourceTable[]): Promise<Closure> {
  const keys = tables.map((t) => relationKey(t.info.qualifiedName));
  const views = keys
    .flatMap((k) => dependentsOf(snapshot.dependents ?? [], k))
    .filter((d) => d.kind === "view" || d.kind === "materialized view");
  const referenced = new Set<string>();
  for (const t of tables) for (const fk of t.info.foreignKeys.outgoing) referenced.add(fk.to);
  for (const v of views) for (const rel of Object.keys(v.readsColumns ?? {})) referenced.add(rel);
  for (const k of keys) referenced.delete(k);
  const oidOf = (k: string) => snapshot.tables[k]?.oid;
  return readClosure(
    db,
    [...tables.map((t) => t.info.oid), ...views.map((v) => v.oid)],
    [...referenced].map(oidOf).filter((o): o is number => o !== undefined),
  );
}
