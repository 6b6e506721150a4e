/**
 * The backfill engine on a real PostgreSQL: every run must leave the target with exactly the source's rows —
 * no duplicate, no gap — with one worker or four, with a worker's backend killed mid-run, and across a stop
 * and a rerun that continues from the state kept in the clone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { runBackfillStep } from "../../src/migration/backfill.ts";
import { BackfillFaults } from "../../src/migration/backfill-faults.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import type { ResolvedBackfillStep } from "../../src/scenario/load.ts";
import { Backfill } from "../../src/scenario/schema.ts";
import type { Clock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { useCluster } from "../support/cluster.ts";

const cluster = useCluster("backfill");

/** 50,000 rows with keys 1000…~58,333 (every 7th key missing: the ranges have holes) and a generated column. */
const SETUP = `
  CREATE TABLE src (id bigint PRIMARY KEY, v int NOT NULL, note text, g int GENERATED ALWAYS AS (v * 2) STORED);
  INSERT INTO src (id, v, note)
    SELECT id, (id * 37) % 1000, 'n' || id FROM generate_series(1000, 1000000) AS id WHERE id % 7 <> 0 LIMIT 50000;
  -- No key on dst: a duplicate would stay there for the checks to see.
  CREATE TABLE dst (id bigint, v int NOT NULL, note text, g int GENERATED ALWAYS AS (v * 2) STORED);
`;

const clients: pg.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => {});
});

async function freshDb(setup = SETUP): Promise<{ db: pg.Client; cfg: pg.ClientConfig }> {
  const db = await cluster.freshDb();
  clients.push(db);
  await db.query(setup);
  return { db, cfg: { ...cluster.clone().connectionConfig(), database: db.database } };
}

function step(backfill: Record<string, unknown>, name = "copy"): ResolvedBackfillStep {
  return {
    section: "migration",
    phase: "backfill",
    name,
    kind: "backfill",
    backfill: Backfill.parse(backfill),
    at: ["migration", "phases", 0, "steps", 0],
  };
}

interface Stats {
  rows: number;
  distinct: number;
  sum: string;
  hash: string;
}

/** Count, distinct keys, sum of keys and an order-independent hash of every row's (id, v, note). */
async function stats(db: pg.Client, table: string): Promise<Stats> {
  const r = await db.query(
    `SELECT count(*)::int AS rows, count(DISTINCT id)::int AS "distinct", coalesce(sum(id), 0)::text AS sum,
            coalesce(sum(hashtext(id || '/' || v || '/' || coalesce(note, ''))::bigint), 0)::text AS hash
       FROM ${table}`,
  );
  return r.rows[0] as Stats;
}

/** Rows in src missing from dst, plus rows in dst that src does not have. */
async function mismatches(db: pg.Client): Promise<number> {
  const r = await db.query(
    `SELECT count(*)::int AS n FROM src s FULL JOIN dst d USING (id)
      WHERE s.id IS NULL OR d.id IS NULL OR s.v IS DISTINCT FROM d.v OR s.note IS DISTINCT FROM d.note`,
  );
  return r.rows[0].n as number;
}

async function expectExactCopy(db: pg.Client): Promise<void> {
  const s = await stats(db, "src");
  expect(s.rows).toBe(50_000);
  expect(await stats(db, "dst")).toEqual(s);
  expect(await mismatches(db)).toBe(0);
}

describe("backfill engine", () => {
  it("copies 50k rows with one worker: exactly the source rows, facts that match", async () => {
    const { db, cfg } = await freshDb();
    const progress: { at: number; rows: number; fraction: number }[] = [];
    // A clock whose every reading is 300 ms later: progress must still come at most once a (clock) second.
    let t = 0;
    const clock: Clock = {
      now: () => new Date((t += 300)),
      sleep: async () => {},
    };
    const r = await runBackfillStep(step({ source: "src", target: "dst", key: "id", batch: 5000 }), {
      connectionConfig: cfg,
      clock,
      onProgress: (p) => progress.push({ at: t, rows: p.rows, fraction: p.fraction }),
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe("success");
    await expectExactCopy(db);
    const { min, max } = (await db.query("SELECT min(id)::int AS min, max(id)::int AS max FROM src")).rows[0];
    expect(r.backfill).toMatchObject({
      source: "src",
      target: "dst",
      rows: 50_000,
      workers: 1,
      batches: Math.ceil((max + 1 - min) / 5000),
      key_from: min,
      key_to: max + 1,
      restarts: 0,
      resumed_rows: 0,
    });
    expect(r.backfill!.rows_per_s).toBeGreaterThan(0);
    // The batch statement is shown with :lo/:hi, generated column left out, identifiers quoted.
    expect(r.statements[0]!.sql).toBe(
      'INSERT INTO "dst" ("id", "v", "note") SELECT "id", "v", "note" FROM "src" WHERE "id" >= :lo AND "id" < :hi',
    );
    expect(progress.length).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.at - progress[i - 1]!.at).toBeGreaterThanOrEqual(1000);
      expect(progress[i]!.rows).toBeGreaterThanOrEqual(progress[i - 1]!.rows);
    }
    expect(progress.at(-1)!.fraction).toBeLessThanOrEqual(1);
  });

  it("copies 50k rows with four workers over disjoint ranges", async () => {
    const { db, cfg } = await freshDb();
    const r = await runBackfillStep(
      step({ source: "src", target: "dst", key: "id", workers: 4, batch: 3000 }),
      {
        connectionConfig: cfg,
      },
    );
    expect(r.error).toBeUndefined();
    expect(r.backfill).toMatchObject({ rows: 50_000, workers: 4, restarts: 0 });
    await expectExactCopy(db);
    // The plan is in the clone: four disjoint, contiguous, finished ranges.
    const st = (
      await db.query(
        `SELECT worker, range_from::int AS f, range_to::int AS t, next_key::int AS n, rows_copied::int AS rows
           FROM _rehearse.backfill_state WHERE step = 'backfill/copy' ORDER BY worker`,
      )
    ).rows;
    expect(st.map((s) => s.worker)).toEqual([0, 1, 2, 3]);
    for (let i = 1; i < st.length; i++) expect(st[i].f).toBe(st[i - 1].t);
    for (const s of st) expect(s.n).toBe(s.t);
    expect(st.reduce((n, s) => n + s.rows, 0)).toBe(50_000);
  });

  it("explicit ranges copy only what they cover", async () => {
    const { db, cfg } = await freshDb();
    const r = await runBackfillStep(
      step({
        source: "src",
        target: "dst",
        key: "id",
        ranges: [
          { from: 20_000, to: 30_000 },
          { from: 1000, to: 5000 },
        ],
      }),
      { connectionConfig: cfg },
    );
    expect(r.status).toBe("success");
    const want = (
      await db.query(
        `SELECT count(*)::int AS n FROM src WHERE (id >= 1000 AND id < 5000) OR (id >= 20000 AND id < 30000)`,
      )
    ).rows[0].n;
    expect(r.backfill).toMatchObject({ rows: want, workers: 2 });
    expect((await stats(db, "dst")).rows).toBe(want);
    expect(
      (await db.query("SELECT count(*)::int AS n FROM dst WHERE id >= 5000 AND id < 20000")).rows[0].n,
    ).toBe(0);
  });

  it("a worker whose backend is killed mid-run reconnects and resumes: restarts counted, copy still exact", async () => {
    const { db, cfg } = await freshDb();
    const faults = new BackfillFaults();
    faults.arm(3);
    const r = await runBackfillStep(
      step({ source: "src", target: "dst", key: "id", workers: 4, batch: 1000 }),
      {
        connectionConfig: cfg,
        faults,
        reconnect: { attempts: 5, backoffMs: 20, maxBackoffMs: 200 },
      },
    );
    expect(r.error).toBeUndefined();
    expect(r.status).toBe("success");
    expect(faults.pending).toBe(false);
    expect(r.backfill!.faults_injected).toBe(1);
    expect(r.backfill!.restarts).toBeGreaterThanOrEqual(1);
    expect(r.backfill!.rows).toBe(50_000);
    await expectExactCopy(db);
  });

  it("one worker killed between its own batches resumes too", async () => {
    const { db, cfg } = await freshDb();
    const faults = new BackfillFaults();
    faults.arm(2);
    const r = await runBackfillStep(step({ source: "src", target: "dst", key: "id", batch: 4000 }), {
      connectionConfig: cfg,
      faults,
      reconnect: { attempts: 5, backoffMs: 20, maxBackoffMs: 200 },
    });
    expect(r.status).toBe("success");
    expect(r.backfill).toMatchObject({ faults_injected: 1, restarts: 1, rows: 50_000 });
    await expectExactCopy(db);
  });

  it("a run stopped part-way, then run again, continues from its state with no duplicate", async () => {
    const { db, cfg } = await freshDb();
    let checks = 0;
    const s = step({ source: "src", target: "dst", key: "id", workers: 2, batch: 2000 });
    const first = await runBackfillStep(s, { connectionConfig: cfg, shouldStop: () => ++checks > 6 });
    expect(first.status).toBe("error");
    expect(first.error!.message).toMatch(/^stopped before the backfill finished: \d+ of \d+ keys done$/);
    const partial = (await stats(db, "dst")).rows;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(50_000);
    expect(first.backfill!.rows).toBe(partial);

    const second = await runBackfillStep(s, { connectionConfig: cfg });
    expect(second.error).toBeUndefined();
    expect(second.backfill).toMatchObject({ resumed_rows: partial, rows: 50_000 - partial });
    await expectExactCopy(db);

    // A third run finds everything done and copies nothing.
    const third = await runBackfillStep(s, { connectionConfig: cfg });
    expect(third.backfill).toMatchObject({ rows: 0, batches: 0, resumed_rows: 50_000 });
    await expectExactCopy(db);
  });

  it("a killed worker that may not reconnect fails the step; the rerun completes it exactly", async () => {
    const { db, cfg } = await freshDb();
    const faults = new BackfillFaults();
    faults.arm(4);
    const s = step({ source: "src", target: "dst", key: "id", workers: 3, batch: 1500 });
    const first = await runBackfillStep(s, {
      connectionConfig: cfg,
      faults,
      reconnect: { attempts: 0, backoffMs: 1, maxBackoffMs: 1 },
    });
    expect(first.status).toBe("error");
    expect(first.error!.message).toMatch(/backfill worker \d lost its connection and could not reconnect/);
    expect(first.error!.detail).toMatch(/running the step again continues from key \d+/);
    const partial = (await stats(db, "dst")).rows;
    expect(partial).toBeLessThan(50_000);

    const second = await runBackfillStep(s, { connectionConfig: cfg });
    expect(second.status).toBe("success");
    expect(second.backfill!.resumed_rows).toBe(partial);
    await expectExactCopy(db);
  });

  const PK_SETUP = `${SETUP.replace("CREATE TABLE dst (id bigint,", "CREATE TABLE dst (id bigint PRIMARY KEY,")}
    -- The dual-write got there first for every 10th row, with its own (newer) value.
    INSERT INTO dst (id, v, note) SELECT id, -1, 'dual-write' FROM src WHERE id % 10 = 0;`;

  it("on_conflict: skip leaves rows already in the target alone and copies the rest", async () => {
    const { db, cfg } = await freshDb(PK_SETUP);
    const pre = (await stats(db, "dst")).rows;
    expect(pre).toBeGreaterThan(0);
    const r = await runBackfillStep(
      step({ source: "src", target: "dst", key: "id", workers: 2, on_conflict: "skip" }),
      { connectionConfig: cfg },
    );
    expect(r.error).toBeUndefined();
    expect(r.backfill!.rows).toBe(50_000 - pre);
    const d = await stats(db, "dst");
    expect(d.rows).toBe(50_000);
    expect(d.distinct).toBe(50_000);
    expect(d.sum).toBe((await stats(db, "src")).sum);
    expect((await db.query("SELECT count(*)::int AS n FROM dst WHERE note = 'dual-write'")).rows[0].n).toBe(
      pre,
    );
    expect(r.statements[0]!.sql).toMatch(/ ON CONFLICT DO NOTHING$/);
  });

  it("on_conflict: error fails the step on a unique violation, located, with SQLSTATE 23505", async () => {
    const { db, cfg } = await freshDb(PK_SETUP);
    const r = await runBackfillStep(step({ source: "src", target: "dst", key: "id", batch: 5000 }), {
      connectionConfig: cfg,
      locate: (at) => ({ file: "scenarios/x/scenario.yaml", line: 7 + at.length, column: 11 }),
    });
    expect(r.status).toBe("error");
    expect(r.error).toMatchObject({
      sqlstate: "23505",
      file: "scenarios/x/scenario.yaml",
      line: 7 + 6,
      column: 11,
    });
    expect(r.error!.message).toMatch(/duplicate key value violates unique constraint "dst_pkey"/);
    expect(r.error!.detail).toMatch(/^in backfill\/copy: worker 1 of 1, batch \[\d+, \d+\) of src → dst/);
    expect(r.error!.hint).toMatch(/on_conflict: skip/);
    // The failing batch rolled back whole: only the pre-existing rows are there.
    expect((await db.query("SELECT count(*)::int AS n FROM dst WHERE note <> 'dual-write'")).rows[0].n).toBe(
      0,
    );
  });

  it("custom SQL moving rows (DELETE … RETURNING into INSERT) leaves the source empty and the target exact", async () => {
    const { db, cfg } = await freshDb();
    const before = await stats(db, "src");
    const r = await runBackfillStep(
      step({
        source: "src",
        target: "dst",
        key: "id",
        workers: 4,
        batch: 2500,
        sql: `WITH moved AS (DELETE FROM src WHERE id >= :lo AND id < :hi RETURNING id, v, note)
              INSERT INTO dst (id, v, note) SELECT id, v, note FROM moved`,
      }),
      { connectionConfig: cfg },
    );
    expect(r.error).toBeUndefined();
    expect(r.backfill!.rows).toBe(50_000);
    expect((await stats(db, "src")).rows).toBe(0);
    expect(await stats(db, "dst")).toEqual(before);
  });

  it("any other SQL error fails the step with its SQLSTATE", async () => {
    const { cfg } = await freshDb();
    const r = await runBackfillStep(
      step({
        source: "src",
        target: "dst",
        key: "id",
        sql: "INSERT INTO dst (id, v) SELECT id, v / 0 FROM src WHERE id >= :lo AND id < :hi",
      }),
      { connectionConfig: cfg },
    );
    expect(r.status).toBe("error");
    expect(r.error).toMatchObject({ sqlstate: "22012", message: "division by zero" });
  });

  it("a missing table or a non-integer key fails the step saying so", async () => {
    const { cfg } = await freshDb();
    const missing = await runBackfillStep(step({ source: "src", target: "nope", key: "id" }), {
      connectionConfig: cfg,
    });
    expect(missing.error!.message).toBe('the table "nope" does not exist when the backfill starts');
    const badKey = await runBackfillStep(step({ source: "src", target: "dst", key: "note" }), {
      connectionConfig: cfg,
    });
    expect(badKey.error!.message).toMatch(
      /the key "note" of "src" is text; backfill ranges need an integer key/,
    );
  });

  it("a replica_lag throttle with no lag source fails the step instead of copying unthrottled", async () => {
    const { db, cfg } = await freshDb();
    const r = await runBackfillStep(
      step({ source: "src", target: "dst", key: "id", throttle: { replica_lag: { max: "1s" } } }),
      { connectionConfig: cfg },
    );
    expect(r.status).toBe("error");
    expect(r.error!.message).toMatch(/no replica lag source/);
    expect((await stats(db, "dst")).rows).toBe(0);
  });
});

describe("backfill in a rehearsal", () => {
  const root = mkdtempSync(path.join(tmpdir(), "rehearse-backfill-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("fault kill_backfill_worker arms the next backfill; the run passes row_parity with the restart reported", async () => {
    const dir = path.join(root, "s1");
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "schema.sql"),
      `CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL);
       CREATE TABLE items_new (id bigint PRIMARY KEY, v int NOT NULL);`,
    );
    writeFileSync(
      path.join(dir, "scenario.yaml"),
      `version: 1
name: backfill-kill
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 20000
      columns: {id: {gen: serial}, v: {gen: uniform, min: 1, max: 1000}}
migration:
  phases:
    - name: copy
      steps:
        - {name: arm, fault: kill_backfill_worker, after_batches: 3}
        - name: backfill
          backfill: {source: items, target: items_new, key: id, batch: 1000, workers: 2}
invariants:
  - {check: row_parity, source: items, target: items_new, key: id, columns: [id, v]}
`,
    );
    const r = await rehearse({ scenarioPath: dir, logger: silentLogger });
    expect(r.reason ?? "").toBe("");
    expect(r.status).toBe("passed");
    const bf = r.steps.find((s) => s.name === "backfill")!;
    expect(bf.status).toBe("success");
    expect(bf.backfill).toMatchObject({ rows: 20_000, workers: 2, faults_injected: 1 });
    expect(bf.backfill!.restarts).toBeGreaterThanOrEqual(1);
    expect(r.checks.find((c) => c.id === "row_parity")!.status).toBe("pass");
  });
});
