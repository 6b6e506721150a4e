/**
 * The native load engine when the world moves under it: the end of the history (wrap or stop), the source
 * table renamed and replaced mid-run (a cutover), the source briefly missing, and its connections killed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import type { RunningLoad } from "../../src/load/engine.ts";
import { nativeEngine } from "../../src/load/native-engine.ts";
import { Load } from "../../src/scenario/schema.ts";
import { silentLogger } from "../../src/util/logger.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let clone: Clone;
let db: pg.Client;
let dir: string;

const connect = async () => {
  const c = new pg.Client(clone.connectionConfig());
  c.on("error", () => {});
  await c.connect();
  return c;
};

beforeAll(async () => {
  clone = await new EmbeddedProvider().start();
  db = await connect();
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-load-robust-"));
});

afterAll(async () => {
  await db?.end().catch(() => {});
  await clone?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh history table `name` with `rows` rows and an empty sink the load writes to. */
async function history(name: string, rows: number): Promise<void> {
  await db.query(`
    CREATE TABLE ${name} (id bigint PRIMARY KEY, v int NOT NULL);
    INSERT INTO ${name} SELECT g, g FROM generate_series(1, ${rows}) g;
    CREATE TABLE ${name}_sink (k uuid PRIMARY KEY, v int NOT NULL);`);
}

async function start(name: string, source: Record<string, unknown>): Promise<RunningLoad> {
  const load = Load.parse({
    source: { table: name, columns: ["v"], ...source },
    mode: "forward",
    write: { statements: [{ sql: `INSERT INTO ${name}_sink (k, v) VALUES (:new_uuid, :v)` }] },
    rate: 200,
    connections: 4,
  });
  return nativeEngine.start({
    connect,
    load,
    runId: name,
    t0: performance.now(),
    ackFile: path.join(dir, `${name}.acks`),
    logger: silentLogger,
  });
}

describe("native load engine robustness", () => {
  it("stops at the end of the history when told to, and says why", async () => {
    await history("h_stop", 150);
    const load = await start("h_stop", { at_end: "stop", batch: 40 });
    await sleep(1200);
    expect(load.failure()).toMatch(/history exhausted/);
    const r = await load.stop();
    expect(r.source).toEqual({ rows_read: 150, wrapped: 0 });
    expect(r.totals.writes_ok).toBe(150);
    const v = await db.query("SELECT count(DISTINCT v)::int AS n FROM h_stop_sink");
    expect(v.rows[0].n).toBe(150);
  });

  it("wraps around at the end of the history by default", async () => {
    await history("h_wrap", 60);
    const load = await start("h_wrap", { batch: 25 });
    await sleep(1200);
    expect(load.failure()).toBeUndefined();
    const r = await load.stop();
    expect(r.source.wrapped).toBeGreaterThanOrEqual(2);
    expect(r.totals.writes_ok).toBeGreaterThan(180);
    expect(r.totals.errors).toBe(0);
  });

  it("keeps reading by name through a cutover and through a missing source table", async () => {
    await history("h_cut", 5000);
    const load = await start("h_cut", { batch: 20 });
    await sleep(400);
    // The cutover: the history table is relabelled and a new table takes its name.
    await db.query(`
      BEGIN;
      ALTER TABLE h_cut RENAME TO h_cut_history;
      CREATE TABLE h_cut (id bigint PRIMARY KEY, v int NOT NULL);
      INSERT INTO h_cut SELECT id, -v FROM h_cut_history;
      COMMIT;`);
    await sleep(400);
    // The name briefly points nowhere: batches fail and are retried while buffered rows keep the load going.
    await db.query("ALTER TABLE h_cut RENAME TO h_cut_gone");
    await sleep(300);
    await db.query("ALTER TABLE h_cut_gone RENAME TO h_cut");
    await sleep(400);
    expect(load.failure()).toBeUndefined();
    const r = await load.stop();
    expect(r.totals.errors).toBe(0);
    expect(r.unavailability).toEqual([]);
    // Rows came from the new table after the cutover (its values are negated).
    const neg = await db.query("SELECT count(*)::int AS n FROM h_cut_sink WHERE v < 0");
    expect(neg.rows[0].n).toBeGreaterThan(20);
    expect(r.source.rows_read).toBeGreaterThan(200);
  });

  it("replaces connections that die and counts their in-flight writes as indeterminate", async () => {
    await db.query(`
      CREATE TABLE h_kill (id bigint PRIMARY KEY, v int NOT NULL);
      INSERT INTO h_kill SELECT g, g FROM generate_series(1, 5000) g;
      CREATE TABLE h_kill_sink (k uuid PRIMARY KEY, v int NOT NULL);
      -- Slow writes, so that killing the load's backends catches some mid-write.
      CREATE FUNCTION h_kill_slow() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(0.015); RETURN NEW; END $$;
      CREATE TRIGGER slow BEFORE INSERT ON h_kill_sink FOR EACH ROW EXECUTE FUNCTION h_kill_slow();`);
    const load = await start("h_kill", {});
    await sleep(500);
    const killed = await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rehearse-load'",
    );
    expect(killed.rowCount).toBe(4);
    await sleep(1500);
    expect(load.failure()).toBeUndefined();
    const before = await db.query("SELECT count(*)::int AS n FROM h_kill_sink");
    await sleep(500);
    const after = await db.query("SELECT count(*)::int AS n FROM h_kill_sink");
    // Writing again, on new connections.
    expect(after.rows[0].n).toBeGreaterThan(before.rows[0].n + 20);
    const r = await load.stop();
    const lost = (r.totals.errors_by_sqlstate["57P01"] ?? 0) + (r.totals.errors_by_sqlstate.connection ?? 0);
    expect(lost).toBeGreaterThan(0);
    expect(r.ack.indeterminate).toBe(lost);
    // Its connections are closed (a backend takes a moment to exit after the client leaves).
    let left = -1;
    for (let i = 0; i < 20 && left !== 0; i++) {
      if (i > 0) await sleep(50);
      const q = await db.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'rehearse-load%'",
      );
      left = q.rows[0].n;
    }
    expect(left).toBe(0);
  });
});
