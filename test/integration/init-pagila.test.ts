/**
 * Issue 15's two false greens, on a schema nobody on this project wrote: Pagila (test fixtures), loaded into a
 * PostgreSQL 15 source with psql, rental's incoming foreign keys dropped as init's refusal tells the user, then
 * `init --strategy attach-history --table rental` and the generated scenario rehearsed as generated. The
 * migration widens PRIMARY KEY (rental_id) with the partition key and leaves the views and the materialized
 * view reading the renamed rental_history: the scenario must fail for exactly the checks that see that —
 * unique_across_partitions (a duplicate rental_id is accepted) and dependents_follow — and nothing else.
 */
import { execFile } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Clone } from "../../src/clone/provider.ts";
import { findSystemInstalls, SystemProvider } from "../../src/clone/system.ts";
import { dependentsOf } from "../../src/catalog/dependents.ts";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import { runInit } from "../../src/init/init.ts";
import { InitError } from "../../src/init/source.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const PAGILA = "/work/shared/fixtures/pagila";
const install = (await findSystemInstalls()).find((i) => i.major === 15);
const SKIP = install ? undefined : "PostgreSQL 15 is not installed: apt-get install postgresql-15";

let source: Clone | undefined;
let admin: pg.Client | undefined;
const dirs: string[] = [];

/** The source's URL (the provider's generated password inside; never printed by init). */
function url(): string {
  const c = source!.connectionConfig();
  return `postgres://${c.user}:${encodeURIComponent(String(c.password))}@${c.host}:${c.port}/${c.database}`;
}

beforeAll(async () => {
  if (!install) return;
  source = await new SystemProvider().start({ version: 15 });
  const c = source.connectionConfig();
  const env = { ...process.env, PGPASSWORD: String(c.password) };
  for (const file of ["pagila-schema.sql", "pagila-data.sql"])
    await promisify(execFile)(
      path.join(install.bin, "psql"),
      [
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        String(c.host),
        "-p",
        String(c.port),
        "-U",
        String(c.user),
      ].concat(["-d", String(c.database), "-f", path.join(PAGILA, file)]),
      { env, maxBuffer: 64 * 1024 * 1024 },
    );
  admin = new pg.Client(c);
  await admin.connect();
  // init reads planner statistics only: a freshly loaded database has none until it is analysed.
  await admin.query("ANALYZE");
}, 120_000);

afterAll(async () => {
  await admin?.end().catch(() => {});
  await source?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("init --strategy attach-history on Pagila's rental (issue 15)", () => {
  it("the generated scenario fails for exactly unique_across_partitions and dependents_follow", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    const out = path.join(await mkdtemp(path.join(tmpdir(), "rehearse-pagila-")), "rental");
    dirs.push(path.dirname(out));
    const init = () =>
      runInit({
        url: url(),
        tables: ["rental"],
        strategy: "attach-history",
        out,
        fidelity: false,
        log: () => {},
      });

    // The refusal names the foreign keys into rental; drop exactly those, as its fix says.
    const refused = await init().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InitError);
    const listed = /foreign keys reference public\.rental \(([^)]*)\)/.exec((refused as InitError).message);
    expect(listed, (refused as InitError).message).not.toBeNull();
    const fks = listed![1]!.split(", ").map((f) => {
      const [schema, table, name] = f.split(".");
      return { table: `"${schema}"."${table}"`, name: `"${name}"` };
    });
    expect(fks.length).toBeGreaterThanOrEqual(6);
    for (const fk of fks) await admin!.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${fk.name}`);

    const t0 = Date.now();
    await init();
    const initMs = Date.now() - t0;

    const scenario = parse(await readFile(path.join(out, "scenario.yaml"), "utf8")) as {
      invariants: {
        id?: string;
        check: string;
        table?: string;
        columns?: string[];
        probe?: { sql: string };
      }[];
    };
    const unique = scenario.invariants.filter((i) => i.check === "unique_across_partitions");
    // PRIMARY KEY (rental_id) and the unique index (rental_date, inventory_id, customer_id) both gain the key.
    expect(unique.map((u) => u.columns)).toEqual(
      expect.arrayContaining([["rental_id"], ["rental_date", "inventory_id", "customer_id"]]),
    );
    for (const u of unique) expect(u.probe?.sql).toMatch(/^INSERT INTO "rental" /);
    expect(scenario.invariants).toContainEqual({ check: "dependents_follow", original: "rental" });
    const schema = await readFile(path.join(out, "schema.sql"), "utf8");
    expect(schema).toContain('CREATE VIEW "public"."sales_by_film_category"');
    expect(schema).toContain('CREATE VIEW "public"."sales_by_store"');
    expect(schema).toContain('CREATE MATERIALIZED VIEW "public"."rental_by_category"');

    const t1 = Date.now();
    const report = await rehearse({ scenarioPath: out, logger: silentLogger });
    const rehearsalMs = Date.now() - t1;
    expect(report.reason ?? "", report.status).toBe("");
    const newChecks = [...unique.map((u) => u.id ?? u.check), "dependents_follow"].sort();
    expect([...report.failing].sort()).toEqual(newChecks);
    expect(report.status).toBe("failed");

    const byId = new Map(report.checks.map((c) => [c.id, c]));
    const pk = byId.get(
      unique.find((u) => u.columns?.join() === "rental_id")!.id ?? "unique_across_partitions",
    )!;
    expect(pk.findings.join("\n")).toMatch(/probe: a second row with rental_id=\d+ .* was accepted/);
    const deps = byId.get("dependents_follow")!;
    for (const v of ["sales_by_film_category", "sales_by_store", "rental_by_category"])
      expect(deps.findings.join("\n")).toMatch(
        new RegExp(`view public\\.${v} now references public\\.rental_history instead of public\\.rental`),
      );
    expect(deps.remediation).toMatch(/CREATE OR REPLACE VIEW/);
    console.log(
      `pagila rental: init ${initMs} ms; rehearsal ${rehearsalMs} ms, ${report.status}, ` +
        `${report.checks.length} checks, failing: ${report.failing.join(", ")}`,
    );

    // The check's other side, on the same clone: a cutover that re-creates the views over the new rental (as
    // the remediation says) makes dependents_follow pass; the uniqueness the strategy gave up still fails.
    const defs = (
      await admin!.query<{ name: string; kind: string; def: string }>(
        `SELECT c.relname AS name, c.relkind::text AS kind, pg_get_viewdef(c.oid, true) AS def FROM pg_class c
         WHERE c.relname IN ('sales_by_film_category', 'sales_by_store', 'rental_by_category') ORDER BY 1`,
      )
    ).rows;
    const recreate = defs.map((d) => {
      const body = d.def.trim().replace(/;$/, "");
      return d.kind === "m"
        ? `DROP MATERIALIZED VIEW "public"."${d.name}";\nCREATE MATERIALIZED VIEW "public"."${d.name}" AS ${body} WITH NO DATA;`
        : `CREATE OR REPLACE VIEW "public"."${d.name}" AS ${body};`;
    });
    await appendFile(path.join(out, "migration/04_cutover.sql"), `\n${recreate.join("\n")}\n`);
    const fixed = await rehearse({ scenarioPath: out, logger: silentLogger });
    expect(fixed.reason ?? "", fixed.status).toBe("");
    expect([...fixed.failing].sort()).toEqual(newChecks.filter((c) => c !== "dependents_follow"));
    expect(fixed.checks.find((c) => c.id === "dependents_follow")?.summary).toMatch(
      /3 dependents of public\.rental reference public\.rental after the migration/,
    );
  }, 300_000);

  it("the snapshot reads every kind of dependent from the catalog", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    await admin!.query(`
      CREATE TABLE rental_note (rental_id integer REFERENCES rental (rental_id), note text);
      CREATE FUNCTION rental_note_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER rental_note_check AFTER INSERT ON rental_note FROM rental
        FOR EACH ROW EXECUTE FUNCTION rental_note_check();
      CREATE POLICY rental_note_visible ON rental_note
        USING (EXISTS (SELECT 1 FROM rental r WHERE r.rental_id = rental_note.rental_id));
      CREATE PUBLICATION rental_cdc FOR TABLE rental;`);
    const deps = dependentsOf((await takeSnapshot(admin!)).dependents ?? [], "public.rental");
    const seen = deps.map((d) => `${d.kind} ${d.name}${d.on ? ` on ${d.on}` : ""}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        "view public.sales_by_film_category",
        "view public.sales_by_store",
        "materialized view public.rental_by_category",
        "foreign key rental_note_rental_id_fkey on public.rental_note",
        "trigger rental_note_check on public.rental_note",
        "policy rental_note_visible on public.rental_note",
        "publication rental_cdc",
      ]),
    );
    // rental's own trigger (last_updated) is triggers_preserved's business, not a dependent.
    expect(seen.some((d) => d.includes("last_updated"))).toBe(false);
    const view = deps.find((d) => d.name === "public.sales_by_store")!;
    expect(view.readsColumns?.["public.rental"]).toEqual(
      expect.arrayContaining(["rental_id", "inventory_id"]),
    );
  });
});
