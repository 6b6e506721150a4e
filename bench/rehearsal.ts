/**
 * The whole ledger-attach-history rehearsal at 1M ledger rows (`npm run bench:rehearsal`), beside a
 * reference measured in the same run on this machine: `pgbench -i -s 10` (1M rows, with its primary key and
 * vacuum) on a fresh embedded clone. Targets (issue 18): at 1M rows ≤ 10 s wall and ≤ 8× pgbench -i; at 10M
 * rows ≤ 60 s. Shared machines are noisy, so the ratio to pgbench is the figure to compare across runs; the
 * per-stage lines (report.timings) say where the time went.
 *
 * Then the same rehearsal from the seeded-cluster cache (`target.cache`, what a CI job gating pull requests on
 * one dataset runs): once to fill a temporary cache, once measured as a hit.
 *
 * Output lines are meant to be grepped: `rehearsal wall s: X`, `rehearsal (cache hit) wall s: X`,
 * `pgbench -i wall s: Y`, `ratio …: Z`.
 * Env: BENCH_ROWS (default 1000000); BENCH_CACHE=0 skips the cached runs, BENCH_COLD=0 the one without the cache.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import type { RunReport } from "../src/report/model.ts";
import { rehearse } from "../src/run/rehearsal.ts";
import { findPgbench } from "./pgbench.ts";
import { createLogger } from "../src/util/logger.ts";

const run = promisify(execFile);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);

async function pgbenchInit(pgbench: string): Promise<number> {
  await using clone = await new EmbeddedProvider().start({ settings: { autovacuum: false } });
  const c = clone.connectionConfig();
  const t0 = performance.now();
  await run(
    pgbench,
    [
      "-i",
      "-q",
      "-s",
      String(Math.max(1, Math.round(ROWS / 100_000))),
      "-h",
      String(c.host),
      "-p",
      String(c.port),
      "-U",
      String(c.user),
      String(c.database),
    ],
    { env: { ...process.env, PGPASSWORD: String(c.password) } },
  );
  return (performance.now() - t0) / 1000;
}

const scenarioPath = path.resolve(import.meta.dirname, "../scenarios/ledger-attach-history");

async function timedRun(label: string, cache: boolean): Promise<{ wall: number; report: RunReport }> {
  const t0 = performance.now();
  const report = await rehearse({
    scenarioPath,
    rows: { ledger: ROWS },
    cache,
    logger: createLogger({ progressEveryMs: 5000 }),
  });
  const wall = (performance.now() - t0) / 1000;
  console.log(`${label} status: ${report.status} (${report.failing.join(", ") || "no failing checks"})`);
  console.log(`${label} wall s: ${wall.toFixed(2)}`);
  for (const { stage, ms } of report.timings) console.log(`${label} stage ${stage} ms: ${ms}`);
  for (const p of report.phases)
    console.log(`${label} phase ${p.name} ms: ${Math.round(p.duration_ms ?? 0)}`);
  return { wall, report };
}

console.log(`rehearsal rows: ${ROWS}`);
const targetS = ROWS <= 1_000_000 ? 10 : 60;
let cold: { wall: number; report: RunReport } | undefined;
if (process.env.BENCH_COLD !== "0") {
  cold = await timedRun("rehearsal", false);
  console.log(`seeding rows/s: ${cold.report.seeding?.rows_per_s ?? 0}`);
  const ael = cold.report.checks.find((c) => c.id === "budget.lock_hold.AccessExclusiveLock");
  console.log(`longest ACCESS EXCLUSIVE ms: ${ael?.measured ?? "n/a"}`);
  console.log(`target: rehearsal ≤ ${targetS} s: ${cold.wall <= targetS ? "met" : "NOT met"}`);
}

let hit: { wall: number; report: RunReport } | undefined;
if (process.env.BENCH_CACHE !== "0") {
  const cacheDir = await mkdtemp(path.join(tmpdir(), "rehearse-bench-cache-"));
  // Restored after: the pgbench reference's clone below would otherwise make its initdb template in the
  // removed directory, and leave it behind.
  const previous = process.env.REHEARSE_CACHE_DIR;
  process.env.REHEARSE_CACHE_DIR = cacheDir;
  try {
    await timedRun("rehearsal (cache miss)", true);
    hit = await timedRun("rehearsal (cache hit)", true);
    console.log(`target: rehearsal (cache hit) ≤ ${targetS} s: ${hit.wall <= targetS ? "met" : "NOT met"}`);
  } finally {
    if (previous === undefined) delete process.env.REHEARSE_CACHE_DIR;
    else process.env.REHEARSE_CACHE_DIR = previous;
    await rm(cacheDir, { recursive: true, force: true });
  }
}
const pgbench = await findPgbench();
if (pgbench) {
  const ref = await pgbenchInit(pgbench);
  console.log(`pgbench -i wall s: ${ref.toFixed(2)}`);
  if (cold) {
    console.log(`ratio (rehearsal/pgbench -i): ${(cold.wall / ref).toFixed(2)}`);
    console.log(`target: ratio ≤ 8: ${cold.wall / ref <= 8 ? "met" : "NOT met"}`);
  }
  if (hit) {
    console.log(`ratio (rehearsal cache hit/pgbench -i): ${(hit.wall / ref).toFixed(2)}`);
    console.log(`target: ratio (cache hit) ≤ 8: ${hit.wall / ref <= 8 ? "met" : "NOT met"}`);
  }
} else {
  console.log("pgbench not found (apt-get install postgresql-15): no reference measured");
}
const passed = [cold, hit].every((r) => r === undefined || r.report.status === "passed");
process.exit(passed ? 0 : 1);
