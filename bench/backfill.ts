/**
 * Backfill throughput against its ceiling, on one embedded clone (`npm run bench:backfill`), on the
 * `events-dual-write` scenario (write-up 000): its `events` table, seeded by its own generators at 1M rows,
 * copied into its partitioned `events_partitioned` (PK (id, occurred_at), monthly range partitions, three
 * indexes), as its `copy_history` step does, three ways:
 *   (a) the ceiling: one `INSERT INTO events_partitioned SELECT … FROM events` — one statement, one
 *       transaction, nothing resumable, and in production a multi-minute transaction holding every row lock;
 *   (b) the backfill engine with 1 worker, batches of 5,000, `on_conflict: skip` (one transaction per batch,
 *       state updated in it);
 *   (c) the same with 4 workers over disjoint key ranges (002's movers).
 * The scenario's throttle (a 50 ms sleep and the replica's lag) is left out: it measures the replica, not the
 * engine. The target is truncated and a CHECKPOINT taken before each run, so no run pays for the previous
 * one's dirty pages. Each run is checked to have copied exactly the source's rows.
 *
 * Output lines are meant to be grepped: `ceiling rows/s: X`, `backfill 1 worker rows/s: Y`,
 * `backfill 4 workers rows/s: Z`, `ratio (1 worker/ceiling): …`, `ratio (4 workers/ceiling): …`.
 * Env: BENCH_ROWS (default 1,000,000), BENCH_ROUNDS (default 2; the best round of each counts).
 */
import path from "node:path";
import pg from "pg";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import { runBackfillStep } from "../src/migration/backfill.ts";
import { loadScenario, type ResolvedBackfillStep } from "../src/scenario/load.ts";
import { Backfill } from "../src/scenario/schema.ts";
import { seedDataset } from "../src/seed/seeder.ts";
import { closeClients, connector } from "../src/util/connect.ts";

const ROWS = Math.max(1, Number(process.env.BENCH_ROWS ?? 1_000_000));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const SCENARIO = path.resolve(import.meta.dirname, "../scenarios/events-dual-write");
const SOURCE = "events";
const TARGET = "events_partitioned";

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

const rs = await loadScenario(SCENARIO);
const steps = rs.phases.flatMap((p) => p.steps);
const createTarget = steps.find((s) => s.kind === "sql" && s.name === "create_partitioned");
const copyHistory = steps.find((s) => s.kind === "backfill" && s.name === "copy_history");
if (createTarget?.kind !== "sql" || copyHistory?.kind !== "backfill")
  throw new Error(`${SCENARIO}: no create_partitioned or copy_history step (the bench follows the scenario)`);
const copyBackfill = copyHistory.backfill;
const createTargetSql = createTarget.sqlText.text;
const dataset = {
  ...rs.scenario.dataset,
  tables: rs.scenario.dataset.tables.map((t) => (t.name === SOURCE ? { ...t, rows: ROWS } : t)),
};

let stepNo = 0;
function step(workers: number): ResolvedBackfillStep {
  return {
    section: "migration",
    phase: "bench",
    // A new step identity per run: each starts from scratch rather than resuming the last one's state.
    name: `copy_${++stepNo}`,
    kind: "backfill",
    backfill: Backfill.parse({ ...copyBackfill, throttle: undefined, workers }),
    at: [],
  };
}

async function main(): Promise<void> {
  await using clone = await new EmbeddedProvider().start({ settings: { autovacuum: "off" } });
  const cfg = clone.connectionConfig();
  const clients: pg.Client[] = [];
  const connect = connector(cfg, clients);
  const admin = await connect();
  try {
    const { rows } = await admin.query("SHOW server_version");
    console.log(
      `server: PostgreSQL ${rows[0].server_version}; scenario events-dual-write, ${fmt(ROWS)} rows; ${ROUNDS} round(s)`,
    );
    await admin.query(rs.schemaSql.text);
    const s0 = performance.now();
    await seedDataset(connect, dataset);
    if (rs.afterSql) await admin.query(rs.afterSql.text);
    await admin.query(createTargetSql);
    await admin.query(`VACUUM ANALYZE ${pg.escapeIdentifier(SOURCE)}`);
    console.log(`seeded ${SOURCE} in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    const src = pg.escapeIdentifier(SOURCE);
    const dst = pg.escapeIdentifier(TARGET);
    const want = (await admin.query(`SELECT count(*)::int AS n, sum(id)::text AS s FROM ${src}`)).rows[0];

    const check = async (what: string) => {
      const got = (
        await admin.query(
          `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, sum(id)::text AS s FROM ${dst}`,
        )
      ).rows[0];
      if (got.n !== want.n || got.d !== want.n || got.s !== want.s)
        throw new Error(`${what}: target has ${got.n} rows (${got.d} distinct), expected ${want.n}`);
    };
    const fresh = async () => {
      await admin.query(`TRUNCATE ${dst}`);
      await admin.query("CHECKPOINT");
    };

    const best = { ceiling: Infinity, one: Infinity, four: Infinity };
    for (let round = 1; round <= ROUNDS; round++) {
      await fresh();
      let t0 = performance.now();
      // The scenario gives the partitioned copy the legacy table's column order ("same column shape"), so *
      // lines up; a drift would fail the insert or the row check below.
      await admin.query(`INSERT INTO ${dst} SELECT * FROM ${src}`);
      const ceiling = (performance.now() - t0) / 1000;
      await check("ceiling");

      const timed = async (workers: number): Promise<number> => {
        await fresh();
        t0 = performance.now();
        const r = await runBackfillStep(step(workers), { connectionConfig: cfg });
        const s = (performance.now() - t0) / 1000;
        if (r.status !== "success")
          throw new Error(`backfill with ${workers} worker(s): ${r.error?.message}`);
        if (r.backfill!.rows !== ROWS) throw new Error(`backfill reported ${r.backfill!.rows} rows`);
        await check(`backfill with ${workers} worker(s)`);
        return s;
      };
      const one = await timed(1);
      const four = await timed(4);
      console.log(
        `round ${round}: ceiling ${ceiling.toFixed(2)} s, backfill 1 worker ${one.toFixed(2)} s, ` +
          `4 workers ${four.toFixed(2)} s`,
      );
      best.ceiling = Math.min(best.ceiling, ceiling);
      best.one = Math.min(best.one, one);
      best.four = Math.min(best.four, four);
    }
    const rate = { ceiling: ROWS / best.ceiling, one: ROWS / best.one, four: ROWS / best.four };
    console.log(`ceiling rows/s: ${fmt(rate.ceiling)}`);
    console.log(`backfill 1 worker rows/s: ${fmt(rate.one)}`);
    console.log(`backfill 4 workers rows/s: ${fmt(rate.four)}`);
    console.log(`ratio (1 worker/ceiling): ${(rate.one / rate.ceiling).toFixed(2)}`);
    console.log(`ratio (4 workers/ceiling): ${(rate.four / rate.ceiling).toFixed(2)}`);
  } finally {
    await closeClients(clients);
  }
}

await main();
