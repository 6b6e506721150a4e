/**
 * Observer overhead (`npx tsx bench/observers.ts`): the native engine's sustained write throughput with the
 * observers sampling every 100 ms vs without them, on the same embedded clone, the same single-row insert,
 * the load driven above saturation. Target: < 3 % difference.
 *
 * Runs alternate A B B A (off, on, on, off, …) so drift in the machine's speed lands on both sides; each run
 * starts from an emptied table after a CHECKPOINT; the figure is the median of each side.
 *
 * Env: BENCH_ROUNDS (default 3, each round = one ABBA quartet), BENCH_SECONDS (default 8).
 * Plain greppable lines: `observers off writes/s`, `observers on writes/s`, `overhead %`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import { nativeEngine } from "../src/load/native-engine.ts";
import { startObservers } from "../src/observers/runner.ts";
import { Load } from "../src/scenario/schema.ts";
import { closeClients, connector } from "../src/util/connect.ts";
import { silentLogger } from "../src/util/logger.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

await using clone = await new EmbeddedProvider().start({ settings: { autovacuum: false } });
const cfg = clone.connectionConfig();
const admin = new pg.Client(cfg);
await admin.connect();
const dir = await mkdtemp(path.join(tmpdir(), "rehearse-bench-obs-"));
const clients: pg.Client[] = [];
const connect = connector(cfg, clients);

const load = Load.parse({
  source: { table: "bench_source", key: "id", columns: ["v"] },
  write: { statements: [{ sql: "INSERT INTO bench_insert (k, v) VALUES (:new_uuid::uuid, :v)" }] },
  rate: 50_000,
  connections: 8,
  max_in_flight: 64,
});

async function once(observers: boolean, n: number): Promise<number> {
  await admin.query("TRUNCATE bench_insert; CHECKPOINT");
  const t0 = performance.now();
  const running = await nativeEngine.start({
    connect,
    load,
    runId: `bench-${n}`,
    t0,
    ackFile: path.join(dir, `ack-${n}.txt`),
    logger: silentLogger,
  });
  const obs = observers
    ? await startObservers({ connect, t0, migrationPid: 0, current: () => ({ phase: "bench", step: null }) })
    : undefined;
  running.mark("bench", null);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const report = await running.stop();
  const o = await obs?.stop();
  if (o) console.log(`  (observers took ${o.samples} samples)`);
  return report.totals.writes_ok / SECONDS;
}

try {
  await admin.query(`
    CREATE TABLE bench_insert (id bigserial PRIMARY KEY, k uuid, v int) WITH (autovacuum_enabled = false);
    CREATE TABLE bench_source (id bigint PRIMARY KEY, v int NOT NULL);
    INSERT INTO bench_source SELECT g, (random() * 1000000)::int FROM generate_series(1, 200000) g;
    ANALYZE bench_source;`);
  const off: number[] = [];
  const on: number[] = [];
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const withObs of [false, true, true, false]) {
      const rate = await once(withObs, n++);
      (withObs ? on : off).push(rate);
      console.log(`round ${r + 1} observers ${withObs ? "on " : "off"}: ${rate.toFixed(0)} writes/s`);
    }
  }
  const a = median(off);
  const b = median(on);
  console.log(`observers off writes/s: ${a.toFixed(0)}`);
  console.log(`observers on writes/s: ${b.toFixed(0)}`);
  console.log(`overhead %: ${(((a - b) / a) * 100).toFixed(2)}`);
  console.log(`target < 3 %: ${(a - b) / a < 0.03 ? "met" : "NOT met"}`);
} finally {
  await closeClients(clients);
  await admin.end().catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
