import { performance } from "node:perf_hooks";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { runPhases } from "../../src/migration/runner.ts";
import type { ResolvedSqlStep } from "../../src/scenario/load.ts";
import { loadSqlParser, parseSql } from "../../src/scenario/sql.ts";

let clone: Clone;
const clients: pg.Client[] = [];
let dbCounter = 0;

async function connect(database?: string): Promise<pg.Client> {
  const c = new pg.Client({ ...clone.connectionConfig(), ...(database ? { database } : {}) });
  await c.connect();
  clients.push(c);
  return c;
}

/** A fresh database per test, with a 20k-row hot table. */
async function freshDb(): Promise<{
  db: pg.Client;
  monitor: pg.Client;
  other: pg.Client;
  hot: number;
  name: string;
}> {
  const admin = await connect();
  const name = `runner_${++dbCounter}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const db = await connect(name);
  await db.query(`CREATE TABLE big (id bigint PRIMARY KEY, t timestamptz NOT NULL, v int)`);
  await db.query(
    `INSERT INTO big SELECT g, '2025-01-01'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 20000) g`,
  );
  const hot = (await db.query(`SELECT 'big'::regclass::oid::int AS oid`)).rows[0].oid as number;
  return { db, monitor: await connect(name), other: await connect(name), hot, name };
}

function step(name: string, sql: string, extra: Partial<ResolvedSqlStep> = {}): ResolvedSqlStep {
  return {
    kind: "sql",
    section: "migration",
    phase: "p",
    name,
    sqlText: parseSql(sql, `${name}.sql`),
    ...extra,
  };
}

beforeAll(async () => {
  await loadSqlParser();
  clone = await new EmbeddedProvider().start();
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await clone?.stop();
});

describe("migration runner (real PostgreSQL)", () => {
  it("traces locks held to COMMIT and a full scan under ACCESS EXCLUSIVE", async () => {
    const { db, monitor, hot } = await freshDb();
    const t0 = performance.now();
    const res = await runPhases(
      [
        {
          name: "p",
          steps: [
            step(
              "attach",
              `CREATE TABLE parent (id bigint NOT NULL, t timestamptz NOT NULL, v int) PARTITION BY RANGE (t);
               ALTER TABLE parent ATTACH PARTITION big FOR VALUES FROM (MINVALUE) TO ('2030-01-01');`,
            ),
          ],
        },
      ],
      { db, monitor, t0, hotOids: new Set([hot]) },
    );
    expect(res.harnessError).toBeUndefined();
    expect(res.steps[0]!.status).toBe("success");
    const ael = res.locks.find((l) => l.relation === "public.big" && l.mode === "AccessExclusiveLock");
    expect(ael).toBeDefined();
    expect(ael!.statement).toBe(1);
    expect(ael!.released_ms).toBeGreaterThanOrEqual(ael!.acquired_ms);
    const scan = res.effects.find((e) => e.relation === "public.big" && e.statement === 1);
    expect(scan).toMatchObject({ hot: true, held_mode: "AccessExclusiveLock" });
    expect(scan!.seq_scans).toBeGreaterThan(0);
    expect(scan!.seq_tup_read).toBe(20000);
  });

  it("sees no scan when a validated CHECK proves the partition bound", async () => {
    const { db, monitor, hot } = await freshDb();
    await db.query(
      `ALTER TABLE big ADD CONSTRAINT big_range CHECK (t IS NOT NULL AND t < '2030-01-01') NOT VALID`,
    );
    await db.query(`ALTER TABLE big VALIDATE CONSTRAINT big_range`);
    const res = await runPhases(
      [
        {
          name: "p",
          steps: [
            step(
              "attach",
              `CREATE TABLE parent (id bigint NOT NULL, t timestamptz NOT NULL, v int) PARTITION BY RANGE (t);
               ALTER TABLE parent ATTACH PARTITION big FOR VALUES FROM (MINVALUE) TO ('2030-01-01');`,
            ),
          ],
        },
      ],
      { db, monitor, t0: performance.now(), hotOids: new Set([hot]) },
    );
    expect(res.steps[0]!.status).toBe("success");
    expect(res.locks.some((l) => l.relation === "public.big" && l.mode === "AccessExclusiveLock")).toBe(true);
    expect(res.effects.filter((e) => e.relation === "public.big" && e.seq_scans > 0)).toEqual([]);
  });

  it("detects a rewrite and samples CONCURRENTLY statements outside a transaction", async () => {
    const { db, monitor, hot } = await freshDb();
    const res = await runPhases(
      [
        {
          name: "p",
          steps: [
            step("cic", `CREATE INDEX CONCURRENTLY big_v ON big (v)`),
            step("rewrite", `ALTER TABLE big ALTER COLUMN v TYPE bigint`),
          ],
        },
      ],
      { db, monitor, t0: performance.now(), hotOids: new Set([hot]) },
    );
    expect(res.steps.map((s) => [s.name, s.status, s.transaction])).toEqual([
      ["cic", "success", false],
      ["rewrite", "success", true],
    ]);
    const rw = res.effects.find((e) => e.step === "rewrite" && e.relation === "public.big");
    expect(rw).toMatchObject({ rewritten: true, held_mode: "AccessExclusiveLock", hot: true });
    const cicEffect = res.effects.find((e) => e.step === "cic" && e.relation === "public.big");
    expect(cicEffect?.seq_tup_read).toBeGreaterThan(0);
  });

  it("records indexes built and rebuilt with their table's lock, and the statement's operations", async () => {
    const { db, monitor, hot } = await freshDb();
    await db.query(`CREATE TABLE ref (id int PRIMARY KEY); INSERT INTO ref SELECT generate_series(1, 20000)`);
    const res = await runPhases(
      [
        {
          name: "p",
          steps: [
            step("create_index", `CREATE INDEX big_t ON big (t)`),
            step("reindex", `REINDEX TABLE big`),
            step("fk", `ALTER TABLE big ADD CONSTRAINT big_v_fkey FOREIGN KEY (v) REFERENCES ref (id)`),
          ],
        },
      ],
      { db, monitor, t0: performance.now(), hotOids: new Set([hot]) },
    );
    expect(res.steps.map((s) => s.status)).toEqual(["success", "success", "success"]);
    expect(res.steps.map((s) => s.statements[0]!.operations)).toEqual([
      ["create_index"],
      ["reindex"],
      ["add_foreign_key"],
    ]);
    const of = (stepName: string, relation: string) =>
      res.effects.find((e) => e.step === stepName && e.relation === relation);
    // CREATE INDEX: the table read under SHARE, the new index built (it did not exist before the statement).
    expect(of("create_index", "public.big")).toMatchObject({
      held_mode: "ShareLock",
      hot: true,
      relkind: "r",
    });
    expect(of("create_index", "public.big")!.seq_tup_read).toBe(20000);
    expect(of("create_index", "public.big_t")).toMatchObject({
      relkind: "i",
      built: true,
      table: "public.big",
      table_hot: true,
      table_mode: "ShareLock",
    });
    // REINDEX: every index of the table rebuilt under ACCESS EXCLUSIVE on it, the table itself SHARE.
    for (const idx of ["public.big_pkey", "public.big_t"]) {
      expect(of("reindex", idx)).toMatchObject({
        rewritten: true,
        held_mode: "AccessExclusiveLock",
        table_mode: "ShareLock",
      });
      expect(of("reindex", idx)!.built).toBeUndefined();
    }
    // ADD FOREIGN KEY validated in place: the referencing table read under SHARE ROW EXCLUSIVE.
    const fk = of("fk", "public.big")!;
    expect(fk.held_mode).toBe("ShareRowExclusiveLock");
    expect(fk.seq_tup_read + fk.idx_tup_fetch).toBeGreaterThanOrEqual(20000);
  });

  it("attributes a statement run outside a transaction only to the relations its backend locked", async () => {
    const { db, monitor, other } = await freshDb();
    await db.query(`CREATE TABLE side (id int); INSERT INTO side SELECT generate_series(1, 5000)`);
    // It reads big (so the sampler sees its lock there) and then idles.
    await db.query(
      `CREATE PROCEDURE nap() LANGUAGE sql AS $$ SELECT count(*) FROM big; SELECT pg_sleep(0.6) $$`,
    );
    // Another session scans a table the migration never touches while the CALL runs, and flushes its counters.
    const scan = (async () => {
      await new Promise((r) => setTimeout(r, 150));
      await other.query(`SELECT count(*) FROM side`);
      await other.query(`SELECT pg_stat_force_next_flush()`);
      await other.query(`SELECT 1`);
    })();
    const res = await runPhases([{ name: "p", steps: [step("nap", `CALL nap()`, { transaction: false })] }], {
      db,
      monitor,
      t0: performance.now(),
      hotOids: new Set(),
    });
    await scan;
    expect(res.steps[0]!.status).toBe("success");
    // The scan happened and was counted cluster-wide, yet it is not the CALL's.
    const counted = await db.query(`SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'side'`);
    expect(Number(counted.rows[0].seq_scan)).toBeGreaterThan(0);
    expect(res.effects.filter((e) => e.relation === "public.side")).toEqual([]);
    expect(res.effects.find((e) => e.relation === "public.big")?.seq_tup_read).toBe(20000);
  });

  it("retries on lock_timeout and stops with a located error, leaving later steps not executed", async () => {
    const { db, monitor, other } = await freshDb();
    await other.query("BEGIN");
    await other.query("LOCK TABLE big IN ACCESS SHARE MODE");
    setTimeout(() => void other.query("COMMIT"), 400);
    const res = await runPhases(
      [
        {
          name: "p",
          steps: [
            step("locked", "ALTER TABLE big ADD COLUMN note text", {
              lock_timeout: 50,
              retry: { attempts: 20, backoff: 50, max_backoff: 100 },
            }),
            step("broken", "SELECT 1;\nSELECT nope FROM big;"),
            step("never", "SELECT 1"),
          ],
        },
      ],
      { db, monitor, t0: performance.now(), hotOids: new Set() },
    );
    const [locked, broken, never] = res.steps;
    expect(locked!.status).toBe("success");
    expect(locked!.attempts).toBeGreaterThan(1);
    expect(broken!.status).toBe("error");
    expect(broken!.error).toMatchObject({ sqlstate: "42703", file: "broken.sql", line: 2, column: 8 });
    expect(broken!.error!.excerpt).toBe("SELECT nope FROM big;\n       ^");
    expect(never!.status).toBe("not_executed");
    expect(res.phases[0]!.status).toBe("error");
  });
});
