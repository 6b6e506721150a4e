/**
 * Issue 15 item 1: schema.sql holds the table's whole world. For every Pagila table, init's schema.sql is
 * restored into a fresh database and the table's closure compared with what `pg_dump --schema-only` of the
 * source restores (both PostgreSQL 15, Debian's): the table itself (columns, types, defaults, constraints,
 * indexes, triggers, grants, row-level security and policies, foreign keys it declares, partitions), the
 * sequences behind its columns, the user types its columns use (enum labels, a domain's base type and
 * CHECKs), its trigger functions, and the views and materialized views that read it. Foreign keys *into* the
 * table belong to the tables that declare them, which schema.sql creates only as stubs: left out.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dependentsOf } from "../../src/catalog/dependents.ts";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import type { CatalogSnapshot } from "../../src/catalog/types.ts";
import { findSystemInstalls } from "../../src/clone/system.ts";
import { runInit } from "../../src/init/init.ts";
import { comparable } from "../support/comparable-snapshot.ts";
import { pagilaMissing, type PagilaSource, startPagilaSource } from "../support/pagila-source.ts";

const SKIP = await pagilaMissing();
const bin = (await findSystemInstalls()).find((i) => i.major === 15)?.bin ?? "";
const run = promisify(execFile);
const TABLES = [
  ...["actor", "address", "category", "city", "country", "customer", "film", "film_actor", "film_category"],
  ...["inventory", "language", "payment", "rental", "staff", "store"],
];

let source: PagilaSource | undefined;
let root = "";
let dumped: CatalogSnapshot | undefined;
const checked: string[] = [];

function conn(db: string): string[] {
  const c = source!.clone.connectionConfig();
  return ["-h", String(c.host), "-p", String(c.port), "-U", String(c.user), "-d", db];
}
function env() {
  return { ...process.env, PGPASSWORD: String(source!.clone.connectionConfig().password) };
}
async function psql(db: string, file: string): Promise<void> {
  await run(path.join(bin, "psql"), ["-q", "-v", "ON_ERROR_STOP=1", ...conn(db), "-f", file], {
    env: env(),
    maxBuffer: 1 << 26,
  });
}
async function snapshotOf(db: string): Promise<CatalogSnapshot> {
  const client = new pg.Client({ ...source!.clone.connectionConfig(), database: db });
  await client.connect();
  try {
    return await takeSnapshot(client);
  } finally {
    await client.end();
  }
}
async function createDatabase(name: string): Promise<void> {
  const client = new pg.Client(source!.clone.connectionConfig());
  await client.connect();
  await client.query(`CREATE DATABASE "${name}"`);
  await client.end();
}
async function query<T extends pg.QueryResultRow>(
  db: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ ...source!.clone.connectionConfig(), database: db });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A catalog entry without what differs between any two restores, nor foreign keys into it (left out above). */
const restored = (value: unknown) => comparable(value, { drop: ["incoming"] });

/** The user types a table's columns use, as the catalog describes them. */
const TYPES_SQL = `
SELECT format_type(t.oid, NULL) AS name, t.typtype::text AS kind, format_type(t.typbasetype, t.typtypmod) AS base,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels,
       (SELECT array_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname) FROM pg_constraint c WHERE c.contypid = t.oid) AS checks
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND t.oid >= 16384 ORDER BY 1`;
const TRIGGER_FUNCTIONS_SQL = `
SELECT p.proname::text AS name, pg_get_functiondef(p.oid) AS def
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = to_regclass($1) AND NOT t.tgisinternal ORDER BY 1`;
const VIEWS_SQL = `SELECT pg_get_viewdef(to_regclass($1), true) AS def`;

beforeAll(async () => {
  if (SKIP) return;
  source = await startPagilaSource();
  root = await mkdtemp(path.join(tmpdir(), "rehearse-pg-dump-"));
  const dump = path.join(root, "dump.sql");
  const { stdout } = await run(
    path.join(bin, "pg_dump"),
    ["--schema-only", ...conn(String(source.clone.connectionConfig().database))],
    {
      env: env(),
      maxBuffer: 1 << 26,
    },
  );
  await writeFile(dump, stdout);
  await createDatabase("dumped");
  await psql("dumped", dump);
  dumped = await snapshotOf("dumped");
}, 180_000);

afterAll(async () => {
  await source?.clone.stop();
  if (root) await rm(root, { recursive: true, force: true });
  if (checked.length) console.log(`schema.sql vs pg_dump: ${checked.join("; ")}`);
});

describe("schema.sql against pg_dump --schema-only, for every Pagila table's closure (issue 15)", () => {
  for (const table of TABLES)
    it(`${table}`, async (ctx) => {
      ctx.skip(SKIP !== undefined, SKIP);
      const out = path.join(root, table);
      await runInit({ url: source!.url, tables: [table], out, fidelity: false, log: () => {} });
      const db = `init_${table}`;
      await createDatabase(db);
      await psql(db, path.join(out, "schema.sql"));
      const mine = await snapshotOf(db);
      const key = `public.${table}`;
      // Internal triggers are the foreign keys' own (named after oids): the keys themselves are compared.
      const own = (t: CatalogSnapshot["tables"][string] | undefined) =>
        t && { ...t, triggers: t.triggers.filter((tr) => !tr.internal) };
      expect(restored(own(mine.tables[key]))).toEqual(restored(own(dumped!.tables[key])));
      for (const c of dumped!.tables[key]!.columns.filter((x) => x.sequence))
        expect(restored(mine.sequences[c.sequence!])).toEqual(restored(dumped!.sequences[c.sequence!]));
      for (const sql of [TYPES_SQL, TRIGGER_FUNCTIONS_SQL])
        expect(await query(db, sql, [key])).toEqual(await query("dumped", sql, [key]));
      const views = dependentsOf(dumped!.dependents ?? [], key).filter(
        (d) => d.kind === "view" || d.kind === "materialized view",
      );
      for (const v of views)
        expect(await query(db, VIEWS_SQL, [v.name]), v.name).toEqual(
          await query("dumped", VIEWS_SQL, [v.name]),
        );
      checked.push(
        `${table}: ${views.length} views, ${mine.tables[key]!.indexes.length} indexes, ${mine.tables[key]!.triggers.length} triggers`,
      );
    }, 120_000);
});
