/**
 * The native load engine on a real clone: a reverse replay of a small ledger through an idempotent insert
 * function, with the harness's moves played by hand — phase marks, a flag-gated dual write, the writers'
 * pause, and a table lock held from another connection — and what the report must say about each. Run on
 * the main thread and as two segments in worker threads: the report must say the same things either way.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { nativeEngine } from "../../src/load/native-engine.ts";
import type { LoadReport, LoadWindow } from "../../src/report/model.ts";
import { Load } from "../../src/scenario/schema.ts";
import { silentLogger } from "../../src/util/logger.ts";

const HISTORY = 5000;

// amount = id for every history row, so a replayed row is recognisable by its (negated) amount.
const SCHEMA = `
  CREATE TABLE ledger (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    amount numeric(18,2) NOT NULL,
    kind text NOT NULL,
    idempotency_key uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE TABLE ledger_copy (
    key uuid PRIMARY KEY,
    amount numeric(18,2) NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE FUNCTION ledger_insert(p_account bigint, p_amount numeric, p_kind text, p_key uuid)
  RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO ledger (account_id, amount, kind, idempotency_key) VALUES (p_account, p_amount, p_kind, p_key)
    RETURNING id
  $$;
  INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at)
  SELECT 1 + g % 50, g, CASE WHEN g % 3 = 0 THEN 'debit' ELSE 'credit' END, gen_random_uuid(),
         '2024-01-01'::timestamptz + g * interval '1 minute'
    FROM generate_series(1, ${HISTORY}) g;
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same moves and the same expectations on one thread and split over two worker threads (issue 18). */
for (const workers of [1, 2]) suite(workers);

function suite(workers: number): void {
  let clone: Clone;
  let db: pg.Client;
  let dir: string;
  let report: LoadReport;
  const facts: {
    copyBeforeFlag: number;
    flagDbTime: string;
    rowsAtPause: number;
    rowsAfterPause: number;
    ackFile: string;
  } = { copyBeforeFlag: -1, flagDbTime: "", rowsAtPause: -1, rowsAfterPause: -1, ackFile: "" };

  const connect = async () => {
    const c = new pg.Client(clone.connectionConfig());
    c.on("error", () => {});
    await c.connect();
    return c;
  };
  const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);

  beforeAll(async () => {
    clone = await new EmbeddedProvider().start();
    db = await connect();
    await db.query(SCHEMA);
    dir = await mkdtemp(path.join(tmpdir(), "rehearse-load-engine-"));
    facts.ackFile = path.join(dir, "acked.txt");

    const load = Load.parse({
      source: { table: "ledger", key: "id", columns: ["account_id", "amount", "kind"], batch: 100 },
      mode: "reverse",
      write: {
        statements: [
          // Reverse history: the inverse of each historical entry, newest first.
          { sql: "SELECT ledger_insert(:account_id, -:amount, :kind, :new_uuid)" },
          { sql: "INSERT INTO ledger_copy (key, amount) VALUES (:new_uuid, -:amount)", when: "dual_write" },
        ],
      },
      rate: 200,
      connections: 4,
      workers,
    });
    const t0 = performance.now();
    const running = await nativeEngine.start({
      connect,
      connection: clone.connectionConfig(),
      load,
      runId: "it",
      t0,
      ackFile: facts.ackFile,
      logger: silentLogger,
    });

    running.mark("warmup", null);
    await sleep(500);
    running.mark("expand", "before_flag");
    await sleep(500);
    facts.copyBeforeFlag = await count("SELECT count(*) AS n FROM ledger_copy");
    facts.flagDbTime = (await db.query<{ t: string }>("SELECT clock_timestamp()::text AS t")).rows[0]!.t;
    running.mark("expand", "dual_write");
    await running.setFlags({ dual_write: true });
    await sleep(500);

    // Another session holds ACCESS EXCLUSIVE on the ledger for a second: every write queues behind it.
    running.mark("cutover", "lock");
    const locker = await connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE");
    await sleep(1000);
    await locker.query("COMMIT");
    await locker.end();
    // Let the backlog drain before pausing, or the pause would catch the queued writes unsent.
    await sleep(300);

    running.mark("cutover", "pause");
    await running.setFlags({ __writes_paused: true });
    facts.rowsAtPause = await count("SELECT count(*) AS n FROM ledger");
    await sleep(600);
    facts.rowsAfterPause = await count("SELECT count(*) AS n FROM ledger");
    await running.setFlags({ __writes_paused: false });
    running.mark("cutover", null);
    await sleep(300);
    running.mark("cooldown", null);
    await sleep(400);
    report = await running.stop();
  }, 120_000);

  afterAll(async () => {
    await db?.end().catch(() => {});
    await clone?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function win(phase: string, step: string | null): LoadWindow {
    const w = report.windows.find((x) => x.kind === "write" && x.phase === phase && x.step === step);
    if (!w) throw new Error(`no write window ${phase}/${step}`);
    return w;
  }

  describe(`native load engine, ${workers === 1 ? "on this thread" : `${workers} worker threads`}`, () => {
    it("acknowledges only writes that are in the table, each exactly once", async () => {
      const keys = (await readFile(facts.ackFile, "utf8")).split("\n").filter((k) => k !== "");
      expect(keys.length).toBe(report.ack.acknowledged);
      expect(report.ack.acknowledged).toBe(report.totals.writes_ok);
      expect(keys.length).toBeGreaterThan(300);
      expect(new Set(keys).size).toBe(keys.length);
      const bad = await db.query(
        `SELECT k, count(l.id) AS n FROM unnest($1::uuid[]) k LEFT JOIN ledger l ON l.idempotency_key = k
          GROUP BY k HAVING count(l.id) <> 1`,
        [keys],
      );
      expect(bad.rows).toEqual([]);
      // Nothing else was written: every new row is an acknowledged write.
      expect(await count(`SELECT count(*) AS n FROM ledger WHERE id > ${HISTORY}`)).toBe(keys.length);
      expect(report.ack.indeterminate).toBe(0);
      expect(report.totals.errors).toBe(0);
    });

    it("replays the history newest first, negated", async () => {
      const r = await db.query<{ hi: string; lo: string }>(
        `SELECT max(-amount)::int::text AS hi, min(-amount)::int::text AS lo FROM ledger WHERE id > ${HISTORY}`,
      );
      expect(Number(r.rows[0]!.hi)).toBe(HISTORY);
      // Never a replay of the load's own writes (a negative -amount): every segment's history ends where it
      // ended when the load started, even a segment whose thread started after another had written.
      expect(Number(r.rows[0]!.lo)).toBeGreaterThan(0);
      // Consumed from the top down: only the newest rows_read history entries were replayed. With segments each
      // reads every workers-th row (by key hash) from the top, and one may have read more than another (a
      // batch's prefetch): every segment's span is at most workers × all rows read, give or take the hash.
      const span = workers === 1 ? report.source.rows_read : workers * report.source.rows_read * 1.1;
      expect(Number(r.rows[0]!.lo)).toBeGreaterThan(HISTORY - span - 1);
      expect(report.source.rows_read).toBeLessThan(HISTORY / 2);
      expect(report.mode).toBe("reverse");
    });

    it("keeps a window per phase and per step, with sane percentiles", () => {
      for (const [phase, section] of [
        ["warmup", "warmup"],
        ["expand", "migration"],
        ["cutover", "migration"],
        ["cooldown", "cooldown"],
      ] as const) {
        const w = win(phase, null);
        expect(w.section).toBe(section);
        expect(w.count).toBeGreaterThan(0);
        const l = w.latency;
        expect(l.p50).toBeGreaterThan(0);
        expect(l.p50).toBeLessThanOrEqual(l.p95);
        expect(l.p95).toBeLessThanOrEqual(l.p99);
        expect(l.p99).toBeLessThanOrEqual(l.p999);
        expect(l.p999).toBeLessThanOrEqual(l.max * 1.001);
        expect(w.service.p50).toBeLessThanOrEqual(l.p50 * 1.001);
        expect(w.ended_ms).toBeGreaterThan(w.started_ms);
      }
      expect(win("expand", "before_flag").count).toBeGreaterThan(50);
      expect(win("expand", "dual_write").count).toBeGreaterThan(50);
      // Steady state at 200/s on an idle clone: the phase before any trouble is fast and keeps up.
      expect(win("expand", "before_flag").latency.p50).toBeLessThan(50);
      expect(win("expand", "before_flag").throughput).toBeGreaterThan(150);
      expect(report.series.length).toBeGreaterThanOrEqual(4);
      expect(report.series.reduce((n, s) => n + s.writes, 0)).toBe(report.totals.writes_ok);
    });

    it("runs a flag-gated statement only once the flag is on", async () => {
      expect(facts.copyBeforeFlag).toBe(0);
      const copies = await count("SELECT count(*) AS n FROM ledger_copy");
      expect(copies).toBeGreaterThan(50);
      expect(
        await count(`SELECT count(*) AS n FROM ledger_copy WHERE at < '${facts.flagDbTime}'::timestamptz`),
      ).toBe(0);
      // In the same transaction as the ledger insert: every copy's key is a ledger row.
      expect(
        await count(
          "SELECT count(*) AS n FROM ledger_copy c WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.idempotency_key = c.key)",
        ),
      ).toBe(0);
      const f = report.flags.find((x) => x.name === "dual_write" && x.value);
      expect(f).toBeDefined();
      expect(f!.seen_ms).toBeGreaterThanOrEqual(f!.set_ms);
      expect(f!.seen_ms - f!.set_ms).toBeLessThanOrEqual(100);
    });

    it("sends no write while the writers are paused", () => {
      expect(facts.rowsAfterPause).toBe(facts.rowsAtPause);
      expect(report.totals.paused).toBeGreaterThan(50);
      const paused = report.unavailability.filter((u) => u.reason === "paused");
      expect(paused.length).toBe(1);
      expect(paused[0]!.to_ms - paused[0]!.from_ms).toBeGreaterThan(500);
      expect(win("cutover", "pause").longest_unavailability_ms).toBeGreaterThan(500);
      const pauseOn = report.flags.find((x) => x.name === "__writes_paused" && x.value);
      expect(pauseOn).toBeDefined();
    });

    it("measures a blocked period from each request's intended start (no coordinated omission)", () => {
      const w = win("cutover", "lock");
      // Requests kept arriving during the 1 s lock; the earliest waited for nearly all of it.
      expect(w.count).toBeGreaterThan(150);
      expect(w.latency.p99).toBeGreaterThanOrEqual(800);
      expect(w.latency.max).toBeLessThan(3000);
      // Most of them never reached a connection until the lock went: their service time is short.
      expect(w.service.p50).toBeLessThan(w.latency.p50);
      expect(w.longest_unavailability_ms).toBeGreaterThanOrEqual(800);
      const blocked = report.unavailability.filter((u) => u.reason === "blocked");
      expect(blocked.some((u) => u.to_ms - u.from_ms >= 800)).toBe(true);
      expect(report.totals.late).toBeGreaterThan(100);
    });
  });
}
