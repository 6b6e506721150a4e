/**
 * Seeding throughput against pgbench's own loader, on one embedded clone (`npm run bench:seed`).
 *
 * Comparable setup: `pgbench -i -I dtg -s 10` drops, creates and fills pgbench_accounts (1M rows) with no
 * primary key and no vacuum; we seed 1M rows into a table of the same shape (aid int, bid int, abalance int,
 * filler char(84)), also without indexes, through seedDataset on its default two connections. The pgbench
 * figure is its own "client-side generate" time (COPY into a table truncated in the same transaction, which
 * lets it use COPY FREEZE — an advantage a multi-connection loader cannot have). Our figure is the wall time of
 * seedDataset, connections included. A second line seeds a ledger-shaped table with the heavier generators
 * (zipf, decimals, timestamps, uuid, choice), for information.
 *
 * The clone runs with autovacuum off so that one load's table is not vacuumed under the next load.
 *
 * Output lines are meant to be grepped: `seed rows/s: X`, `pgbench rows/s: Y`, `ratio (seed/pgbench): Z`.
 * Env: BENCH_ROUNDS (default 3; the best round of each counts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { findPgbench } from "./pgbench.ts";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import { Dataset } from "../src/scenario/schema.ts";
import { seedDataset } from "../src/seed/seeder.ts";
import { closeClients, connector } from "../src/util/connect.ts";
import { LEDGER_COLUMNS } from "./ledger-columns.ts";

const run = promisify(execFile);
const ROWS = 1_000_000;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

const accounts = Dataset.parse({
  schema: "-- created by the bench",
  seed: 42,
  tables: [
    {
      name: "seed_accounts",
      rows: ROWS,
      columns: {
        aid: { gen: "serial" },
        bid: { gen: "uniform", min: 1, max: 10 },
        abalance: { gen: "uniform", min: -5000, max: 5000 },
        // pgbench sends an empty filler and lets char(84) pad it; so do we, so both tables end up the same width.
        filler: { gen: "constant", value: "" },
      },
    },
  ],
});

const ledger = Dataset.parse({
  schema: "-- created by the bench",
  seed: 42,
  tables: [
    {
      name: "seed_ledger",
      rows: ROWS,
      columns: LEDGER_COLUMNS,
    },
  ],
});

const fmt = (n: number): string => Math.round(n).toString();

async function main(): Promise<void> {
  const pgbench = await findPgbench();
  if (!pgbench)
    throw new Error(
      "pgbench not found on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql-15)",
    );
  // Autovacuum off: after each million-row load it would vacuum and analyze the fresh table while the next
  // load runs, taking a core from whichever loader comes next; on two cores that is pure noise.
  await using clone = await new EmbeddedProvider().start({ settings: { autovacuum: "off" } });
  const cfg = clone.connectionConfig();
  const clients: pg.Client[] = [];
  const connect = connector(cfg, clients);
  const admin = await connect();
  try {
    const { rows } = await admin.query("SHOW server_version");
    console.log(`server: PostgreSQL ${rows[0].server_version} at ${clone.displayUrl()}; ${pgbench}`);

    let bestPgbench = Number.POSITIVE_INFINITY;
    let bestSeed = Number.POSITIVE_INFINITY;
    let bestLedger = Number.POSITIVE_INFINITY;
    for (let round = 1; round <= ROUNDS; round++) {
      // pgbench: drop, create, generate client-side; no vacuum, no primary keys.
      const args = ["-i", "-I", "dtg", "-s", "10", "-q", "-h", String(cfg.host), "-p", String(cfg.port)];
      args.push("-U", String(cfg.user), String(cfg.database));
      const t0 = performance.now();
      // The password goes through the environment only; it is never part of anything printed.
      const out = await run(pgbench, args, { env: { ...process.env, PGPASSWORD: String(cfg.password) } });
      const pgbenchWall = (performance.now() - t0) / 1000;
      const m = /client-side generate ([\d.]+) s/.exec(out.stderr + out.stdout);
      const generate = m ? Number(m[1]) : pgbenchWall;
      bestPgbench = Math.min(bestPgbench, generate);

      await admin.query("DROP TABLE IF EXISTS seed_accounts, seed_ledger");
      await admin.query(
        "CREATE TABLE seed_accounts (aid int NOT NULL, bid int, abalance int, filler char(84))",
      );
      await admin.query(
        "CREATE TABLE seed_ledger (id bigint NOT NULL, account_id bigint, amount numeric(12,2), created_at timestamptz, kind text, ref uuid)",
      );
      await admin.query("CHECKPOINT");
      const s0 = performance.now();
      await seedDataset(connect, accounts);
      const seedS = (performance.now() - s0) / 1000;
      bestSeed = Math.min(bestSeed, seedS);

      await admin.query("CHECKPOINT");
      const l0 = performance.now();
      await seedDataset(connect, ledger);
      const ledgerS = (performance.now() - l0) / 1000;
      bestLedger = Math.min(bestLedger, ledgerS);

      const counts = await admin.query(
        "SELECT (SELECT count(*) FROM seed_accounts) AS a, (SELECT count(*) FROM seed_ledger) AS l, (SELECT count(*) FROM pgbench_accounts) AS p",
      );
      const c = counts.rows[0];
      if (Number(c.a) !== ROWS || Number(c.l) !== ROWS || Number(c.p) !== ROWS)
        throw new Error(`row counts off: seed_accounts ${c.a}, seed_ledger ${c.l}, pgbench_accounts ${c.p}`);
      console.log(
        `round ${round}: pgbench generate ${generate.toFixed(2)} s (wall ${pgbenchWall.toFixed(2)} s), ` +
          `seed ${seedS.toFixed(2)} s, seed ledger ${ledgerS.toFixed(2)} s`,
      );
      await admin.query("CHECKPOINT");
    }

    const seedRate = ROWS / bestSeed;
    const pgbenchRate = ROWS / bestPgbench;
    console.log(`seed rows/s: ${fmt(seedRate)}`);
    console.log(`pgbench rows/s: ${fmt(pgbenchRate)}`);
    console.log(`ratio (seed/pgbench): ${(seedRate / pgbenchRate).toFixed(2)}`);
    console.log(`seed ledger rows/s: ${fmt(ROWS / bestLedger)}`);
  } finally {
    await closeClients(clients);
  }
}

await main();
