/**
 * Issue 15's two false greens, on a schema nobody on this project wrote: Pagila (test fixtures), loaded into a
 * PostgreSQL 15 source with psql, rental's incoming foreign keys dropped as init's refusal tells the user, then
 * `init --strategy attach-history --table rental` and the generated scenario rehearsed as generated. The
 * migration widens PRIMARY KEY (rental_id) with the partition key and leaves the views and the materialized
 * view reading the renamed rental_history: the scenario must fail for exactly the checks that see that —
 * unique_across_partitions (a duplicate rental_id is accepted) and dependents_follow — and nothing else.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { dependentsOf } from "../../src/catalog/dependents.ts";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import { runInit } from "../../src/init/init.ts";
import { InitError } from "../../src/init/source.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { pagilaMissing, type PagilaSource, startPagilaSource } from "../support/pagila-source.ts";

const SKIP = await pagilaMissing();

let source: PagilaSource | undefined;
let admin: pg.Client | undefined;
const dirs: string[] = [];
const url = () => source!.url;

beforeAll(async () => {
  if (SKIP) return;
  source = await startPagilaSource();
  admin = new pg.Client(source.clone.connectionConfig());
  await admin.connect();
}, 120_000);

afterAll(async () => {
  await admin?.end().catch(() => {});
  await source?.clone.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("init --strategy attach-history on Pagila's rental (issue 15)", () => {
  it("passes as generated; without its guard and view re-creation it fails for exactly unique_across_partitions and dependents_follow", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    const out = path.join(await mkdtemp(path.join(tmpdir(), "rehearse-pagila-")), "rental");
    dirs.push(path.dirname(out));
    const logged: string[] = [];
    const init = () =>
      runInit({
        url: url(),
        tables: ["rental"],
        strategy: "attach-history",
        out,
        fidelity: false,
        force: true,
        log: (l) => logged.push(l),
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
    // Not last_update (a trigger rewrites it on every UPDATE, 3 distinct values): rental_date, and why.
    expect(logged.join("\n")).toMatch(/partition key rental_date: NOT NULL, follows the insertion order/);
    expect(logged.join("\n")).toMatch(/last_update \(set by trigger last_updated/);

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
    // PRIMARY KEY (rental_id) gains rental_date; the unique index (rental_date, …) already holds it.
    expect(unique.map((u) => u.columns)).toEqual([["rental_id"]]);
    for (const u of unique) expect(u.probe?.sql).toMatch(/^INSERT INTO "rental" /);
    expect(scenario.invariants).toContainEqual({ check: "dependents_follow", original: "rental" });
    const schema = await readFile(path.join(out, "schema.sql"), "utf8");
    expect(schema).toContain('CREATE VIEW "public"."sales_by_film_category"');
    expect(schema).toContain('CREATE VIEW "public"."sales_by_store"');
    expect(schema).toContain('CREATE MATERIALIZED VIEW "public"."rental_by_category"');
    expect(schema).toContain("CREATE UNIQUE INDEX rental_category ON public.rental_by_category");

    const t1 = Date.now();
    const report = await rehearse({ scenarioPath: out, logger: silentLogger });
    const rehearsalMs = Date.now() - t1;
    expect(report.reason ?? "", report.status).toBe("");
    expect(report.failing).toEqual([]);
    expect(report.status).toBe("passed");
    const ids = [...unique.map((u) => u.id ?? u.check), "dependents_follow"].sort();
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    expect(byId.get(ids[1]!)?.summary).toMatch(/was rejected \(23505/);
    expect(byId.get("dependents_follow")?.summary).toMatch(
      /3 dependents of public\.rental reference public\.rental after the migration/,
    );
    console.log(
      `pagila rental: init ${initMs} ms; rehearsal ${rehearsalMs} ms, ${report.status}, ${report.checks.length} checks`,
    );

    // The known flaw, made by hand: the cutover without the guard and without re-creating the views.
    const file = path.join(out, "migration/04_cutover.sql");
    const cutover = await readFile(file, "utf8");
    const cut = cutover.indexOf("\n-- Unique keys that gain");
    expect(cut).toBeGreaterThan(0);
    await writeFile(file, `${cutover.slice(0, cut)}\n`);
    const flawed = await rehearse({ scenarioPath: out, logger: silentLogger });
    expect(flawed.reason ?? "", flawed.status).toBe("");
    expect([...flawed.failing].sort()).toEqual(ids);
    expect(flawed.status).toBe("failed");
    const flawedById = new Map(flawed.checks.map((c) => [c.id, c]));
    expect(flawedById.get(ids[1]!)!.findings.join("\n")).toMatch(
      /probe: a second row with rental_id=\d+ .* was accepted/,
    );
    const deps = flawedById.get("dependents_follow")!;
    for (const v of ["sales_by_film_category", "sales_by_store", "rental_by_category"])
      expect(deps.findings.join("\n")).toMatch(
        new RegExp(`view public\\.${v} now references public\\.rental_history instead of public\\.rental`),
      );
    expect(deps.remediation).toMatch(/CREATE OR REPLACE VIEW/);
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
