/**
 * Reflink clones (issue 18): with the seeded-cluster cache on an XFS filesystem (a loop-mounted image here),
 * a clone is a reflink copy made inside the cache's filesystem — tried before overlayfs, which copies a whole
 * relation file up the first time PostgreSQL opens it — holds exactly the cached data, takes writes without
 * touching the cache, and leaves nothing behind. On a filesystem that cannot reflink the clone falls back to
 * overlay or copy and says why.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { SnapshotSource } from "../../src/clone/provider.ts";
import { cachedPassword, storeCache } from "../../src/clone/snapshot-cache.ts";
import { reflinkObstacle } from "../../src/clone/thin-copy.ts";
import { mountXfs, type XfsVolume, xfsMissing } from "../support/xfs-volume.ts";

const SKIP = await xfsMissing();
// CI sets up what the test needs: there a missing piece is a failure, not a skip.
if (SKIP && process.env.REHEARSE_REQUIRE_XFS) throw new Error(`REHEARSE_REQUIRE_XFS is set but ${SKIP}`);
let volume: XfsVolume | undefined;
let previousCache: string | undefined;
let from: SnapshotSource | undefined;
const provider = new EmbeddedProvider();

async function query<T extends pg.QueryResultRow>(cfg: pg.ClientConfig, sql: string): Promise<T[]> {
  const c = new pg.Client(cfg);
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  if (SKIP) return;
  volume = await mountXfs();
  previousCache = process.env.REHEARSE_CACHE_DIR;
  process.env.REHEARSE_CACHE_DIR = path.join(volume.dir, "cache");
  const build = await provider.snapshots.startKeepable({ database: "rehearsal" });
  await query(
    build.connectionConfig(),
    "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g",
  );
  const entry = await storeCache(await build.stopAndKeep(), {
    key: "reflink-test",
    scenario: "reflink-test",
    created_at: new Date().toISOString(),
    server_version: provider.snapshots.version(),
    rows: { t: 50000 },
    seeding: { tables: [], rows: 50000, duration_ms: 0, rows_per_s: 0 },
  });
  from = { dataDir: entry.dataDir, password: await cachedPassword(entry), source: `cache:${entry.key}` };
}, 120_000);

afterAll(async () => {
  if (previousCache === undefined) delete process.env.REHEARSE_CACHE_DIR;
  else process.env.REHEARSE_CACHE_DIR = previousCache;
  await volume?.remove();
});

describe("reflink clones on XFS (issue 18)", () => {
  it("clones by reflink inside the cache's filesystem, writes without touching the cache, leaves nothing", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    expect(await reflinkObstacle(from!.dataDir, path.join(volume!.dir, "cache"))).toBeUndefined();
    const sum = "SELECT count(*)::int AS n, md5(string_agg(v, ',' ORDER BY id)) AS h FROM t";
    for (let round = 0; round < 2; round++) {
      const clone = await provider.start({ from, database: "rehearsal" });
      try {
        expect(clone.method).toBe("reflink");
        const [before] = await query<{ n: number; h: string }>(clone.connectionConfig(), sum);
        expect(before!.n).toBe(50000);
        // Each clone starts from the cache, not from the previous clone's writes.
        await query(
          clone.connectionConfig(),
          "UPDATE t SET v = 'changed' WHERE id <= 1000; DELETE FROM t WHERE id > 49000",
        );
        const [after] = await query<{ n: number }>(clone.connectionConfig(), sum);
        expect(after!.n).toBe(49000);
      } finally {
        await clone.stop();
      }
    }
    // The clones lived in the cache's .clones folder and are gone.
    expect(await readdir(path.join(volume!.dir, "cache", ".clones"))).toEqual([]);
  }, 120_000);

  it("says why reflink cannot be used off XFS and falls back", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    // The temp directory here is ext4: a cache there cannot reflink into it.
    expect(await reflinkObstacle(path.dirname(volume!.dir), path.dirname(volume!.dir))).toMatch(
      /not on XFS or Btrfs/,
    );
    expect(await reflinkObstacle(from!.dataDir, path.dirname(volume!.dir))).toMatch(/different filesystems/);
  });
});
