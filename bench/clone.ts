/**
 * Starting a rehearsal's clone from a cached seeded cluster (`npm run bench:clone`): a thin clone (overlayfs
 * over the cached data directory) plus server start, beside the two ways to get the same data without the
 * cache's thin copy — `CREATE DATABASE … TEMPLATE` inside a running server that holds the seeded database,
 * and a plain copy of the cached data directory plus server start — in the same run, on the same data.
 *
 * The dataset is pgbench_accounts-shaped (aid bigint primary key, bid, abalance, filler char(84)): ~130 MB of
 * heap and ~21 MB of index per million rows. Times are wall times until the clone answers a query (for the
 * provider-made clones: thin copy, server start, password reset, clone marker; for the template: CREATE
 * DATABASE and a query on the table). For overlay, the first query on the table is shown apart: PostgreSQL
 * opens relation files read-write, and overlayfs copies a file up on its first read-write open.
 *
 * The figure that counts (issue 18) is the time until the clone has taken a write in every table — what a
 * rehearsal pays before its first step — so each method is also timed to its first UPDATE. Reflink (a
 * copy-on-write copy per block) needs the cache on XFS or Btrfs: when this machine can loop-mount an XFS image
 * (root, loop devices, xfsprogs) the cache is put on one and reflink is measured beside overlay and copy.
 *
 * Output lines are meant to be grepped: `rows N: overlay X s, template Y s, copy Z s, copy/overlay R×` and
 * `rows N to a write in every table: reflink A s, overlay B s, copy C s, overlay/reflink R×`.
 * Env: BENCH_ROWS (comma-separated, default 1000000), BENCH_ROUNDS (default 3; the median counts),
 * REHEARSE_CACHE_DIR (default: a temp dir, on a loop-mounted XFS image when possible, removed at the end).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import type { SnapshotSource } from "../src/clone/provider.ts";
import { cachedPassword, cacheKey, lookupCache, storeCache } from "../src/clone/snapshot-cache.ts";
import { Dataset } from "../src/scenario/schema.ts";
import { seedDataset } from "../src/seed/seeder.ts";
import { TOOL_VERSION } from "../src/version.ts";
import { mountXfs, type XfsVolume, xfsMissing } from "../test/support/xfs-volume.ts";

const SIZES = (process.env.BENCH_ROWS ?? "1000000").split(",").map((s) => Number(s.replace(/_/g, "")));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const SCHEMA =
  "CREATE TABLE accounts (aid bigint PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number): string => (ms / 1000).toFixed(3);

async function client(cfg: pg.ClientConfig, database?: string): Promise<pg.Client> {
  const c = new pg.Client({ ...cfg, ...(database ? { database } : {}) });
  await c.connect();
  return c;
}

/** The cache entry for `rows`, seeding it on a miss (reported, not timed as part of the comparison). */
async function cachedCluster(provider: EmbeddedProvider, rows: number) {
  const dataset = Dataset.parse({
    schema: SCHEMA,
    seed: 1,
    tables: [
      {
        name: "accounts",
        rows,
        columns: {
          aid: { gen: "serial" },
          bid: { gen: "uniform", min: 1, max: Math.max(1, rows / 100_000) },
          abalance: { gen: "uniform", min: -5000, max: 5000 },
          filler: { gen: "constant", value: "" },
        },
      },
    ],
  });
  const key = cacheKey({
    schemaSql: SCHEMA,
    tables: dataset.tables,
    rows: { accounts: rows },
    seed: dataset.seed,
    fireTriggers: false,
    database: "rehearsal",
    serverVersion: provider.snapshots.version(),
    toolVersion: TOOL_VERSION,
  });
  const hit = await lookupCache(key);
  if (hit) return hit;
  const t0 = performance.now();
  const build = await provider.snapshots.startKeepable({ database: "rehearsal" });
  try {
    const cfg = build.connectionConfig();
    const admin = await client(cfg);
    await admin.query(SCHEMA);
    await admin.end();
    const seeding = await seedDataset(() => client(cfg), dataset);
    const ms = performance.now() - t0;
    console.log(`rows ${rows}: seeded the cached cluster in ${secs(ms)} s (not part of the comparison)`);
    return await storeCache(await build.stopAndKeep(), {
      key,
      scenario: "bench-clone",
      created_at: new Date().toISOString(),
      server_version: provider.snapshots.version(),
      rows: { accounts: rows },
      seeding: { tables: seeding, rows, duration_ms: Math.round(ms), rows_per_s: 0 },
    });
  } finally {
    await build.stop().catch(() => {});
  }
}

/** Thin-copies (by `method`) and starts a clone; returns ms until it answered a query on the seeded table. */
async function timedStart(provider: EmbeddedProvider, from: SnapshotSource, method: string) {
  process.env.REHEARSE_CLONE_METHOD = method;
  try {
    const t0 = performance.now();
    await using clone = await provider.start({ from, database: "rehearsal" });
    const c = await client(clone.connectionConfig());
    await c.query("SELECT 1");
    const ms = performance.now() - t0;
    // PostgreSQL opens relation files read-write, so overlayfs copies a file up the first time it is opened:
    // the first touch of a table pays for copying that table (its 1 GB segments it opens). Measured apart.
    const t1 = performance.now();
    await c.query("SELECT aid FROM accounts WHERE aid = 1");
    const touchMs = performance.now() - t1;
    // The first write: overlay has copied the file up on the open above; reflink unshares one block now.
    const t2 = performance.now();
    await c.query("UPDATE accounts SET abalance = abalance + 1 WHERE aid = 1");
    const writtenMs = performance.now() - t0;
    await c.end();
    if (clone.method !== method) throw new Error(`asked for ${method}, got ${clone.method}`);
    return { ms, touchMs, writtenMs, writeMs: performance.now() - t2 };
  } finally {
    delete process.env.REHEARSE_CLONE_METHOD;
  }
}

async function main(): Promise<void> {
  const ownCache = !process.env.REHEARSE_CACHE_DIR;
  const noXfs = ownCache ? await xfsMissing() : "REHEARSE_CACHE_DIR is set";
  let xfs: XfsVolume | undefined;
  if (!noXfs) {
    // Room (sparse) for the cached cluster, the template comparison's database and its WAL (~150 MB per
    // million rows each), and the clones' writes.
    xfs = await mountXfs(Math.max(2048, Math.ceil((Math.max(...SIZES) / 1e6) * 1000)));
    process.env.REHEARSE_CACHE_DIR = path.join(xfs.dir, "cache");
  } else if (ownCache)
    process.env.REHEARSE_CACHE_DIR = await mkdtemp(path.join(tmpdir(), "rehearse-bench-cache-"));
  console.log(xfs ? "cache on a loop-mounted XFS image: reflink measured" : `reflink not measured: ${noXfs}`);
  const provider = new EmbeddedProvider();
  try {
    for (const rows of SIZES) {
      const entry = await cachedCluster(provider, rows);
      const from = {
        dataDir: entry.dataDir,
        password: await cachedPassword(entry),
        source: `cache:${entry.key}`,
      };
      const overlay: number[] = [];
      const overlayTouch: number[] = [];
      const written: Record<string, number[]> = { reflink: [], overlay: [], copy: [] };
      const copy: number[] = [];
      const template: number[] = [];
      // The template comparison runs inside one server started from the cache (its start is not counted).
      await using server = await provider.start({ from, database: "rehearsal" });
      const admin = await client(server.connectionConfig(), "postgres");
      try {
        for (let round = 1; round <= ROUNDS; round++) {
          const o = await timedStart(provider, from, "overlay");
          overlay.push(o.ms);
          overlayTouch.push(o.touchMs);
          written.overlay!.push(o.writtenMs);
          const cp = await timedStart(provider, from, "copy");
          copy.push(cp.ms);
          written.copy!.push(cp.writtenMs);
          if (xfs) written.reflink!.push((await timedStart(provider, from, "reflink")).writtenMs);
          const t0 = performance.now();
          // A template must have no other sessions; the server's own clients have all closed by now.
          await admin.query(`CREATE DATABASE bench_${round} TEMPLATE rehearsal`);
          const c = await client(server.connectionConfig(), `bench_${round}`);
          await c.query("SELECT aid FROM accounts WHERE aid = 1");
          template.push(performance.now() - t0);
          await c.end();
          await admin.query(`DROP DATABASE bench_${round}`);
          console.log(
            `rows ${rows} round ${round}: overlay ${secs(overlay.at(-1)!)} s (+ ${secs(overlayTouch.at(-1)!)} s first touch of the table), template ${secs(template.at(-1)!)} s, copy ${secs(copy.at(-1)!)} s`,
          );
        }
      } finally {
        await admin.end();
      }
      const [o, t, c] = [median(overlay), median(template), median(copy)];
      console.log(
        `rows ${rows}: overlay ${secs(o)} s (first touch of the table + ${secs(median(overlayTouch))} s), template ${secs(t)} s, copy ${secs(c)} s, ` +
          `template/overlay ${(t / o).toFixed(1)}×, copy/overlay ${(c / o).toFixed(1)}× (medians of ${ROUNDS})`,
      );
      const w = (m: string) => (written[m]!.length ? median(written[m]!) : NaN);
      console.log(
        `rows ${rows} to a write in every table: ${xfs ? `reflink ${secs(w("reflink"))} s, ` : ""}overlay ${secs(w("overlay"))} s, ` +
          `copy ${secs(w("copy"))} s${xfs ? `, overlay/reflink ${(w("overlay") / w("reflink")).toFixed(1)}×, copy/reflink ${(w("copy") / w("reflink")).toFixed(1)}×` : ""} (medians of ${ROUNDS})`,
      );
    }
  } finally {
    if (ownCache) await rm(process.env.REHEARSE_CACHE_DIR!, { recursive: true, force: true });
    await xfs?.remove();
  }
}

await main();
