/**
 * Seeding at bare COPY speed: the seeded tables' indexes (and the primary keys, unique and exclusion
 * constraints they back) are dropped before the rows go in and built again once they are all there, the way
 * pg_restore orders a dump. A COPY into a table with four indexes runs at a fraction of the speed of one into
 * a bare heap; sorting each index once afterwards is cheaper than inserting into it a million times, and the
 * builds run side by side on several connections.
 *
 * The end state is the one schema.sql made: the same names and definitions (re-created from the server's own
 * pg_get_indexdef / pg_get_constraintdef, then compared with them), the same constraint kinds, deferrability
 * and validity. Only what can be rebuilt that exactly is deferred; anything else stays in place and is
 * maintained row by row as before:
 * - tables that are not plain, unpartitioned, non-partition tables;
 * - indexes something else depends on (a foreign key referencing a primary key, …), that are clustered on,
 *   serve as replica identity, live in another tablespace, carry a comment, a security label or a per-column
 *   statistics target, or are not valid;
 * - everything when a seeded table has a trigger that fires while seeding (ENABLE ALWAYS / ENABLE REPLICA, or
 *   any trigger under `fire_triggers: true`): it may look rows up, or upsert, through an index;
 * - everything on PostgreSQL 18 and later, where NOT NULL is a constraint a dropped primary key may take
 *   with it (not verified here yet).
 * Foreign keys, CHECK and NOT NULL constraints are left alone: the first cost nothing while seeding (user and
 * RI triggers are off in replica mode), the others are checked per row as cheaply as ever.
 */
import type pg from "pg";
import { ident, qualified } from "../db/sql.ts";

/** One index to build after the rows are in, and the constraint it backs, if any. */
export interface DeferredIndex {
  /** schema.table, as the catalog spells it. */
  table: string;
  /** schema.index */
  index: string;
  /** pg_get_indexdef: CREATE [UNIQUE] INDEX … ON schema.table USING … */
  createIndex: string;
  constraint?: {
    name: string;
    /** p: primary key, u: unique, x: exclusion. */
    type: "p" | "u" | "x";
    /** pg_get_constraintdef, for exclusion constraints (built whole) and for the check afterwards. */
    definition: string;
    deferrable: boolean;
    deferred: boolean;
  };
}

interface IndexRow {
  table: string;
  index: string;
  index_name: string;
  create_index: string;
  conname: string | null;
  contype: "p" | "u" | "x" | null;
  condef: string | null;
  condeferrable: boolean | null;
  condeferred: boolean | null;
}

// What may be dropped and rebuilt exactly; see the header for why each condition is there.
const DEFERRABLE_SQL = `
SELECT n.nspname || '.' || c.relname AS table, n.nspname || '.' || ic.relname AS index,
       ic.relname::text AS index_name, pg_get_indexdef(i.indexrelid) AS create_index,
       con.conname::text AS conname, con.contype::text AS contype, pg_get_constraintdef(con.oid) AS condef,
       con.condeferrable, con.condeferred
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint con
  ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE c.oid = ANY($1::regclass[]) AND c.relkind = 'r' AND NOT c.relispartition
  AND i.indisvalid AND i.indisready AND i.indislive AND NOT i.indisclustered AND NOT i.indisreplident
  AND ic.reltablespace = 0
  AND obj_description(i.indexrelid, 'pg_class') IS NULL
  AND (con.oid IS NULL OR obj_description(con.oid, 'pg_constraint') IS NULL)
  AND NOT EXISTS (SELECT 1 FROM pg_seclabel l WHERE l.classoid = 'pg_class'::regclass AND l.objoid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid = i.indexrelid AND a.attstattarget IS NOT NULL AND a.attstattarget <> -1)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indexrelid
                     AND NOT (d.classid = 'pg_constraint'::regclass AND d.objid IS NOT DISTINCT FROM con.oid))
ORDER BY 1, 2`;

// A trigger that fires in replica mode (ALWAYS, REPLICA), or any enabled one when seeding fires them.
const FIRING_TRIGGERS_SQL = `
SELECT count(*)::int AS n FROM pg_trigger t
WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal
  AND (t.tgenabled IN ('A', 'R') OR ($2 AND t.tgenabled <> 'D'))`;

/**
 * Reads what can be deferred on `tables` (scenario names, schema-qualified or not) and drops it, in one
 * transaction. Returns what buildDeferredIndexes must build; nothing (and nothing dropped) when seeding
 * fires a trigger or the server is one this has not been verified on.
 */
export async function dropDeferrableIndexes(
  db: pg.ClientBase,
  tables: string[],
  options: { fireTriggers: boolean },
): Promise<DeferredIndex[]> {
  if (tables.length === 0) return [];
  const version = await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  if (Number(version.rows[0]!.v) >= 180000) return [];
  const regclasses = tables.map(qualified);
  const firing = await db.query<{ n: number }>(FIRING_TRIGGERS_SQL, [regclasses, options.fireTriggers]);
  if (firing.rows[0]!.n > 0) return [];
  const rows = (await db.query<IndexRow>(DEFERRABLE_SQL, [regclasses])).rows;
  const deferred = rows.map(toDeferred);
  await db.query("BEGIN");
  try {
    for (const d of deferred) {
      if (d.constraint)
        await db.query(`ALTER TABLE ${qualified(d.table)} DROP CONSTRAINT ${ident(d.constraint.name)}`);
      else await db.query(`DROP INDEX ${qualified(d.index)}`);
    }
    await db.query("COMMIT");
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  return deferred;
}

function toDeferred(r: IndexRow): DeferredIndex {
  return {
    table: r.table,
    index: r.index,
    createIndex: r.create_index,
    ...(r.conname && r.contype
      ? {
          constraint: {
            name: r.conname,
            type: r.contype,
            definition: r.condef ?? "",
            deferrable: r.condeferrable ?? false,
            deferred: r.condeferred ?? false,
          },
        }
      : {}),
  };
}

/** A deferred index that could not be built: the seeded rows break it (a duplicate under a unique key…). */
export class DeferredIndexError extends Error {
  override name = "DeferredIndexError";
  constructor(
    readonly table: string,
    readonly index: string,
    cause: unknown,
  ) {
    super(
      `building ${index} on ${table} after seeding failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

export interface BuildProgress {
  /** schema.index just built. */
  index: string;
  built: number;
  total: number;
}

/**
 * Builds what dropDeferrableIndexes dropped, over `connections` sessions at once (CREATE INDEX takes a SHARE
 * lock, so builds on one table do not wait for each other), then attaches the constraints to their indexes
 * (catalog-only) and checks every definition against the one recorded. `connect` returns a new connected
 * client per call; all are closed before this returns.
 */
export async function buildDeferredIndexes(
  connect: () => Promise<pg.Client>,
  deferred: DeferredIndex[],
  options: { connections?: number; onProgress?: (p: BuildProgress) => void } = {},
): Promise<void> {
  if (deferred.length === 0) return;
  // Exclusion constraints cannot adopt an index: built whole by ALTER TABLE once the others are done.
  const queue = deferred.filter((d) => d.constraint?.type !== "x");
  const sessions = Math.max(1, Math.min(options.connections ?? 2, queue.length || 1));
  const clients: pg.Client[] = [];
  let built = 0;
  const done = (d: DeferredIndex) =>
    options.onProgress?.({ index: d.index, built: ++built, total: deferred.length });
  try {
    for (let i = 0; i < sessions; i++) clients.push(await connect());
    // Measured on 2 cores: two sessions building one index each beat one session with parallel workers,
    // and both at once oversubscribe. With fewer indexes than sessions the workers are left to the server.
    if (queue.length >= sessions && sessions > 1)
      await Promise.all(clients.map((c) => c.query("SET max_parallel_maintenance_workers = 0")));
    await Promise.all(
      clients.map(async (c) => {
        for (let d = queue.shift(); d; d = queue.shift()) {
          await run(c, d, d.createIndex);
          done(d);
        }
      }),
    );
    const db = clients[0]!;
    for (const d of deferred) {
      const con = d.constraint;
      if (!con) continue;
      if (con.type === "x") {
        await run(
          db,
          d,
          `ALTER TABLE ${qualified(d.table)} ADD CONSTRAINT ${ident(con.name)} ${con.definition}`,
        );
        done(d);
      } else {
        const kind = con.type === "p" ? "PRIMARY KEY" : "UNIQUE";
        const timing = `${con.deferrable ? " DEFERRABLE" : ""}${con.deferred ? " INITIALLY DEFERRED" : ""}`;
        const index = ident(d.index.slice(d.index.indexOf(".") + 1));
        await run(
          db,
          d,
          `ALTER TABLE ${qualified(d.table)} ADD CONSTRAINT ${ident(con.name)} ${kind} USING INDEX ${index}${timing}`,
        );
      }
    }
    await verifyRebuilt(db, deferred);
  } finally {
    await Promise.allSettled(clients.map((c) => c.end()));
  }
}

async function run(db: pg.ClientBase, d: DeferredIndex, sql: string): Promise<void> {
  try {
    await db.query(sql);
  } catch (err) {
    throw new DeferredIndexError(d.table, d.index, err);
  }
}

/** Every rebuilt index and constraint reads back as recorded: a difference is a rehearse bug, not bad input. */
async function verifyRebuilt(db: pg.ClientBase, deferred: DeferredIndex[]): Promise<void> {
  const res = await db.query<{ create_index: string | null; condef: string | null }>(
    `SELECT pg_get_indexdef(d.index::regclass) AS create_index,
            (SELECT pg_get_constraintdef(con.oid) FROM pg_constraint con
              WHERE con.conindid = d.index::regclass AND con.contype IN ('p', 'u', 'x')) AS condef
       FROM unnest($1::text[]) WITH ORDINALITY AS d(index, at) ORDER BY d.at`,
    [deferred.map((d) => qualified(d.index))],
  );
  const problems: string[] = [];
  for (const [i, d] of deferred.entries()) {
    const r = res.rows[i]!;
    if (r.create_index !== d.createIndex) problems.push(`${d.index}: ${r.create_index} ≠ ${d.createIndex}`);
    if ((r.condef ?? undefined) !== d.constraint?.definition)
      problems.push(`${d.index}: constraint ${r.condef} ≠ ${d.constraint?.definition}`);
  }
  if (problems.length > 0)
    throw new Error(`the indexes rebuilt after seeding differ from schema.sql's:\n${problems.join("\n")}`);
}
