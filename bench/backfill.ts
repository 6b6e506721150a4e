/**
 * Backfill throughput against its ceiling, on one embedded clone (`npm run bench:backfill`).
 *
 * A ledger-shaped source of 1M rows (bigint primary key) is copied into an empty target of the same shape,
 * also with its primary key, three ways:
 *   (a) the ceiling: one `INSERT INTO target SELECT * FROM source` — one statement, one transaction, nothing
 *       resumable, and in production a multi-minute transaction holding every row lock it took;
 *   (b) the backfill engine with 1 worker, batches of 5,000 (one transaction per batch, state updated in it);
 *   (c) the same with 4 workers over disjoint key ranges.
 * The target is truncated and a CHECKPOINT taken before each, so no run pays for the previous one's dirty pages.
 * Each run is checked to have copied exactly the source's rows.
 *
 * Output lines are meant to be grepped: `ceiling rows/s: X`, `backfill 1 worker rows/s: Y`,
 * `backfill 4 workers rows/s: Z`, `ratio (1 worker/ceiling): …`, `ratio (4 workers/ceiling): …`.
 * Env: BENCH_ROWS (default 1,000,000), BENCH_ROUNDS (default 2; the best round of each counts).
 */
import pg from "pg";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import { runBackfillStep } from "../src/migration/backfill.ts";
import type { ResolvedBackfillStep } from "../src/scenario/load.ts";
import { Backfill, Dataset } from "../src/scenario/schema.ts";
import { seedDataset } from "../src/seed/seeder.ts";
import { LEDGER_COLUMNS } from "./ledger-columns.ts";

const ROWS = Math.max(1, Number(process.env.BENCH_ROWS ?? 1_000_000));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));

const dataset = Dataset.parse({
  schema: "-- created by the bench",
  seed: 42,
  tables: [
    {
      name: "bf_source",
      rows: ROWS,
      columns: LEDGER_COLUMNS,
    },
  ],
});

const SHAPE =
  "(id bigint PRIMARY KEY, account_id bigint, amount numeric(12,2), created_at timestamptz, kind text, ref uuid)";

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

let stepNo = 0;
function step(workers: number): ResolvedBackfillStep {
  return {
    section: "migration",
    phase: "bench",
    // A new step identity per run: each starts from scratch rather than resuming the last one's state.
    name: `copy_${++stepNo}`,
    kind: "backfill",
    backfill: Backfill.parse({ source: "bf_source", target: "bf_target", key: "id", batch: 5000, workers }),
    at: [],
  };
}

async function main(): Promise<void> {
  await using clone = await new EmbeddedProvider().start({ settings: { autovacuum: "off" } });
  const cfg = clone.connectionConfig();
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client(cfg);
    await c.connect();
    return c;
  };
  const admin = await connect();
  try {
    const { rows } = await admin.query("SHOW server_version");
    console.log(`server: PostgreSQL ${rows[0].server_version}; ${fmt(ROWS)} rows; ${ROUNDS} round(s)`);
    await admin.query(`CREATE TABLE bf_source ${SHAPE}`);
    await admin.query(`CREATE TABLE bf_target ${SHAPE}`);
    const s0 = performance.now();
    await seedDataset(connect, dataset);
    await admin.query("VACUUM ANALYZE bf_source");
    console.log(`seeded bf_source in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    const want = (await admin.query("SELECT count(*)::int AS n, sum(id)::text AS s FROM bf_source")).rows[0];

    const check = async (what: string) => {
      const got = (
        await admin.query(
          "SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, sum(id)::text AS s FROM bf_target",
        )
      ).rows[0];
      if (got.n !== want.n || got.d !== want.n || got.s !== want.s)
        throw new Error(`${what}: target has ${got.n} rows (${got.d} distinct), expected ${want.n}`);
    };
    const fresh = async () => {
      await admin.query("TRUNCATE bf_target");
      await admin.query("CHECKPOINT");
    };

    const best = { ceiling: Infinity, one: Infinity, four: Infinity };
    for (let round = 1; round <= ROUNDS; round++) {
      await fresh();
      let t0 = performance.now();
      await admin.query("INSERT INTO bf_target SELECT * FROM bf_source");
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
    await admin.end();
  }
}

await main();
