/**
 * Native load engine vs pgbench, on one embedded clone with durable commits (fsync and synchronous_commit
 * on, overriding the provider's fast defaults), the same single-row INSERT on both sides:
 *
 *  1. Throughput: pgbench at full speed (`-c 8 -j <cores> -T 15 -n -f insert.sql`, simple protocol, and
 *     `-M prepared`, the stricter baseline the acceptance names) vs the engine driven far above saturation
 *     (arrivals at 1.5x pgbench's last maximum, max_in_flight 64) with load.workers = cores (BENCH_WORKERS
 *     overrides) and with load.workers = 1: successful writes per second. At the fixed rate below, the CPU
 *     each side spent per request (µs of user + system time: the engine's whole process including its worker
 *     threads, pgbench's from its shell's `times`), from which the rate a larger machine can drive is read
 *     off; measured there because at saturation an open-model engine also spends CPU on the arrivals it
 *     drops, which says nothing about a request's cost.
 *  2. Latency: both at a fixed rate of half pgbench's maximum, both with Poisson arrivals (pgbench --rate
 *     draws its schedule from a Poisson process; the engine has that as a programmatic option, so the two
 *     queue alike). pgbench's p99 from its per-transaction log (`--log`: under `--rate` the `time` column is
 *     measured from the *scheduled* start, i.e. it already contains the schedule lag — checked: its mean
 *     equals pgbench's reported "latency average", which pgbench documents as including the lag; adding
 *     the lag column again would count it twice); ours from the write windows (from intended start).
 *     Reported for the steady state (transactions scheduled after the first second, on both sides: the
 *     harness's warmup plays that role in a rehearsal) and for the whole run.
 *
 * The machine is noisy (a virtual disk whose flush time varies several-fold from one run to the next), so
 * runs alternate A B B A over several rounds, each starts from an emptied table after a CHECKPOINT, and the
 * result is the median. Autovacuum is off for the table on both sides (it would land on one run or the
 * other at random).
 *
 *   npx tsx bench/load.ts            # 3 rounds of 15 s runs
 *   BENCH_ROUNDS=1 BENCH_SECONDS=5 npx tsx bench/load.ts
 *
 * Plain greppable lines on stdout; the database password goes to pgbench through PGPASSWORD only.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { findPgbench } from "./pgbench.ts";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import { createNativeEngine } from "../src/load/native-engine.ts";
import { Load } from "../src/scenario/schema.ts";
import { silentLogger } from "../src/util/logger.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = 8;
const CORES = availableParallelism();
const WORKERS = Number(process.env.BENCH_WORKERS ?? CORES);
/** pgbench's clients, threads (one per core) and duration: the same in every pgbench run of the bench. */
const CLIENTS = ["-c", String(CONNECTIONS), "-j", String(CORES), "-T", String(SECONDS)];
/** Arrivals this many times pgbench's last maximum: above saturation without flooding the engine with drops. */
const SATURATION = 1.5;
/** The engine with workers = cores, and on one thread for comparison. */
const VARIANTS = [...new Set([WORKERS, 1])];
const SOURCE_ROWS = 200_000;

const PGBENCH = await findPgbench();
if (!PGBENCH)
  throw new Error(
    "pgbench not found on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql-15)",
  );

const PGBENCH_SCRIPT = `\\set v random(1, 1000000)
INSERT INTO bench_insert (k, v) VALUES (gen_random_uuid(), :v);
`;
// The same statement for the engine: k is generated per request, v comes from the replayed history.
const NATIVE_SQL = "INSERT INTO bench_insert (k, v) VALUES (:new_uuid, :v)";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1) => x.toFixed(d);

await using clone = await new EmbeddedProvider().start({
  settings: { fsync: "on", synchronous_commit: "on" },
});
const cfg = clone.connectionConfig();
const dir = await mkdtemp(path.join(tmpdir(), "rehearse-bench-load-"));
const admin = new pg.Client(cfg);
await admin.connect();

try {
  await admin.query(`
    CREATE TABLE bench_insert (id bigserial PRIMARY KEY, k uuid, v int, t timestamptz DEFAULT now())
      WITH (autovacuum_enabled = false);
    CREATE TABLE bench_source (id bigint PRIMARY KEY, v int NOT NULL);
    INSERT INTO bench_source SELECT g, (random() * 1000000)::int FROM generate_series(1, ${SOURCE_ROWS}) g;
    ANALYZE bench_source;`);
  const settings = await admin.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'server_version') ORDER BY name`,
  );
  console.log(`settings ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(" ")}`);
  console.log(
    `bench ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections, ${CORES} cores, load.workers ${WORKERS}, pgbench -j ${CORES} ${PGBENCH}`,
  );
  const script = path.join(dir, "insert.sql");
  await writeFile(script, PGBENCH_SCRIPT);

  const fresh = async () => {
    await admin.query("TRUNCATE bench_insert");
    await admin.query("CHECKPOINT");
  };

  /** pgbench's output, then (bash's `times`) the CPU seconds it used, user + system. */
  const pgbench = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        "bash",
        [
          "-c",
          '"$@" && times',
          "pgbench",
          PGBENCH,
          "-h",
          String(cfg.host),
          "-p",
          String(cfg.port),
          "-U",
          String(cfg.user),
          "-n",
          "-f",
          script,
          ...args,
          String(cfg.database),
        ],
        { env: { ...process.env, PGPASSWORD: String(cfg.password) }, maxBuffer: 16 << 20 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`pgbench failed: ${stderr || err.message}`)) : resolve(stdout),
      );
    });
  const tpsOf = (out: string) => {
    const m = /tps = ([\d.]+)/.exec(out);
    if (!m) throw new Error(`no tps in pgbench output:\n${out}`);
    return Number(m[1]);
  };
  /** CPU seconds of pgbench from bash's `times` (its second line: the children's user and system time). */
  const cpuOf = (out: string) => {
    const lines = out.trim().split("\n");
    const kids = lines[lines.length - 1]!.match(/(\d+)m([\d.]+)s/g) ?? [];
    return kids.reduce((sum, t) => {
      const m = /(\d+)m([\d.]+)s/.exec(t)!;
      return sum + Number(m[1]) * 60 + Number(m[2]);
    }, 0);
  };

  /**
   * Runs the engine at `rate` for SECONDS; returns successful writes/s and write latency percentiles (ms)
   * of the whole run and of the steady state (after the first second).
   */
  const native = async (
    rate: number,
    maxInFlight: number,
    arrivals: "uniform" | "poisson",
    workers: number,
  ) => {
    const load = Load.parse({
      source: { table: "bench_source", key: "id", columns: ["v"] },
      mode: "forward",
      write: { statements: [{ sql: NATIVE_SQL }] },
      rate,
      connections: CONNECTIONS,
      max_in_flight: maxInFlight,
      workers,
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const running = await createNativeEngine({ arrivals }).start({
      connect: async () => {
        const c = new pg.Client(cfg);
        await c.connect();
        return c;
      },
      connection: cfg,
      load,
      runId: "bench",
      t0,
      ackFile: path.join(dir, `acks-${rate}.txt`),
      logger: silentLogger,
    });
    const began = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    // A step inside the initial phase: the phase window is the whole run, the step window the steady state.
    running.mark("warmup", "steady");
    await new Promise((r) => setTimeout(r, SECONDS * 1000 - 1000));
    const ended = performance.now();
    const report = await running.stop();
    const cpu = process.cpuUsage(cpu0);
    const whole = report.windows.find((x) => x.kind === "write" && x.step === null)!;
    const steady = report.windows.find((x) => x.kind === "write" && x.step === "steady")!;
    return {
      writesPerS: report.totals.writes_ok / ((ended - began) / 1000),
      cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, report.totals.writes_ok),
      p99: steady.latency.p99,
      p50: steady.latency.p50,
      p99Whole: whole.latency.p99,
      errors: report.totals.errors,
      late: report.totals.late,
      dropped: report.totals.dropped,
      intended: report.totals.intended,
    };
  };

  // ---------------------------------------------------------------- 1. throughput
  const pgbTps: number[] = [];
  const pgbPreparedTps: number[] = [];
  const pgbPrepCpu: number[] = [];
  const nativeTps = new Map<number, number[]>(VARIANTS.map((w) => [w, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    const runPgbench = async () => {
      await fresh();
      pgbTps.push(tpsOf(await pgbench(CLIENTS)));
      await fresh();
      pgbPreparedTps.push(tpsOf(await pgbench(["-M", "prepared", ...CLIENTS])));
    };
    const runNative = async () => {
      // Above the last maximum pgbench reached (a first estimate before any: 20k/s).
      const rate = Math.round(SATURATION * (pgbPreparedTps.at(-1) ?? 20_000 / SATURATION));
      for (const w of VARIANTS) {
        await fresh();
        const n = await native(rate, 64, "uniform", w);
        if (n.errors > 0) throw new Error(`the engine saw ${n.errors} errors at saturation`);
        nativeTps.get(w)!.push(n.writesPerS);
      }
    };
    // A B, then B A: a drift in the machine's speed over the run hits both sides alike.
    if (r % 2) {
      await runPgbench();
      await runNative();
    } else {
      await runNative();
      await runPgbench();
    }
    console.log(
      `round ${r} throughput: pgbench tps ${fmt(pgbTps.at(-1)!)} | pgbench -M prepared tps ${fmt(pgbPreparedTps.at(-1)!)} | ` +
        VARIANTS.map((w) => `native workers=${w} writes/s ${fmt(nativeTps.get(w)!.at(-1)!)}`).join(" | "),
    );
  }
  const pgbMax = median(pgbTps);
  const pgbPrepMax = median(pgbPreparedTps);
  console.log(`pgbench tps ${fmt(pgbMax)}`);
  console.log(`pgbench -M prepared tps ${fmt(pgbPrepMax)}`);
  for (const w of VARIANTS) {
    const nativeMax = median(nativeTps.get(w)!);
    console.log(`native workers=${w} writes/s ${fmt(nativeMax)}`);
    console.log(`ratio workers=${w} (native/pgbench) ${fmt(nativeMax / pgbMax, 3)}`);
    console.log(`ratio workers=${w} (native/pgbench -M prepared) ${fmt(nativeMax / pgbPrepMax, 3)}`);
  }

  // ---------------------------------------------------------------- 2. latency at a fixed rate
  const rate = Math.round(pgbPrepMax / 2);
  console.log(`fixed rate ${rate}/s (half of pgbench -M prepared's maximum)`);
  const pgbP99: number[] = [];
  const pgbP99Whole: number[] = [];
  const nativeP99 = new Map<number, number[]>(VARIANTS.map((w) => [w, []]));
  const nativeP99Whole = new Map<number, number[]>(VARIANTS.map((w) => [w, []]));
  const nativeCpu = new Map<number, number[]>(VARIANTS.map((w) => [w, []]));
  const p99Of = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;
  };
  for (let r = 1; r <= ROUNDS; r++) {
    const runPgbench = async () => {
      await fresh();
      const logDir = await mkdtemp(path.join(dir, "log-"));
      const out = await pgbench([
        "-M",
        "prepared",
        "-R",
        String(rate),
        ...CLIENTS,
        "--log",
        `--log-prefix=${path.join(logDir, "pgbench")}`,
      ]);
      // Per-transaction log: client_id transaction_no time script_no time_epoch time_us schedule_lag, time
      // in µs from the scheduled start; completion = time_epoch + time_us, so scheduled = completion − time.
      const txns: { scheduled: number; ms: number }[] = [];
      for (const f of await readdir(logDir))
        for (const line of (await readFile(path.join(logDir, f), "utf8")).split("\n")) {
          const cols = line.split(" ");
          if (cols.length < 6) continue;
          const us = Number(cols[2]);
          const done = Number(cols[4]) * 1e6 + Number(cols[5]);
          txns.push({ scheduled: (done - us) / 1000, ms: us / 1000 });
        }
      const start = Math.min(...txns.map((t) => t.scheduled));
      const p99 = p99Of(txns.filter((t) => t.scheduled >= start + 1000).map((t) => t.ms));
      const whole = p99Of(txns.map((t) => t.ms));
      const p50 = [...txns.map((t) => t.ms)].sort((a, b) => a - b)[Math.floor(txns.length / 2)]!;
      pgbP99.push(p99);
      pgbP99Whole.push(whole);
      pgbPrepCpu.push((cpuOf(out) * 1e6) / txns.length);
      const lag = /schedule lag: avg ([\d.]+)/.exec(out)?.[1];
      return `pgbench -M prepared p99 ${fmt(p99, 3)} ms, whole run ${fmt(whole, 3)} ms (tps ${fmt(tpsOf(out))}, p50 ${fmt(p50, 3)} ms, avg schedule lag ${lag} ms, ${txns.length} txns, ${fmt(pgbPrepCpu.at(-1)!)} µs CPU/request)`;
    };
    const runNative = async () => {
      const lines: string[] = [];
      for (const w of VARIANTS) {
        await fresh();
        const n = await native(rate, 256, "poisson", w);
        nativeP99.get(w)!.push(n.p99);
        nativeP99Whole.get(w)!.push(n.p99Whole);
        nativeCpu.get(w)!.push(n.cpuUsPerRequest);
        lines.push(
          `native workers=${w} p99 ${fmt(n.p99, 3)} ms, whole run ${fmt(n.p99Whole, 3)} ms (writes/s ${fmt(n.writesPerS)}, p50 ${fmt(n.p50, 3)} ms, late ${n.late} of ${n.intended}, dropped ${n.dropped}, ${fmt(n.cpuUsPerRequest)} µs CPU/request)`,
        );
      }
      return lines.join(" | ");
    };
    const lines = r % 2 ? [await runPgbench(), await runNative()] : [await runNative(), await runPgbench()];
    console.log(`round ${r} latency: ${lines.join(" | ")}`);
  }
  const pp99 = median(pgbP99);
  const pp99w = median(pgbP99Whole);
  console.log(`pgbench p99 ms ${fmt(pp99, 3)}`);
  console.log(`pgbench p99 ms (whole run) ${fmt(pp99w, 3)}`);
  console.log(`pgbench -M prepared CPU per request us ${fmt(median(pgbPrepCpu))}`);
  for (const w of VARIANTS) {
    const np99 = median(nativeP99.get(w)!);
    const np99w = median(nativeP99Whole.get(w)!);
    const cpu = median(nativeCpu.get(w)!);
    console.log(`native workers=${w} p99 ms ${fmt(np99, 3)}`);
    console.log(`p99 ratio workers=${w} ${fmt(np99 / pp99, 3)}`);
    console.log(`p99 ratio workers=${w} (whole run) ${fmt(np99w / pp99w, 3)}`);
    console.log(`native workers=${w} CPU per request us ${fmt(cpu)}`);
    console.log(`native workers=${w} requests/s per core of its own CPU ${fmt(1e6 / cpu, 0)}`);
  }
} finally {
  await admin.end().catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
