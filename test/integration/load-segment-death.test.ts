/**
 * A load segment's worker thread that dies (issue 18) is a harness failure: the load says so through
 * failure(), which makes the section's load report "the load stopped early" and the run inconclusive
 * (load-session.ts), never a pass; stop() still returns, with what the surviving segment measured.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { nativeEngine } from "../../src/load/native-engine.ts";
import type { SegmentedLoad } from "../../src/load/segmented-load.ts";
import { Load } from "../../src/scenario/schema.ts";
import { silentLogger } from "../../src/util/logger.ts";

let clone: Clone;
let db: pg.Client;
let dir: string;

beforeAll(async () => {
  clone = await new EmbeddedProvider().start();
  db = new pg.Client(clone.connectionConfig());
  await db.connect();
  await db.query(`CREATE TABLE src (id bigint PRIMARY KEY, v int NOT NULL);
    INSERT INTO src SELECT g, g FROM generate_series(1, 2000) g;
    CREATE TABLE dst (k uuid PRIMARY KEY, v int NOT NULL);`);
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-segment-death-"));
}, 60_000);

afterAll(async () => {
  await db?.end().catch(() => {});
  await clone?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a load segment whose worker thread dies", () => {
  it("makes failure() say so within 100 ms, and stop() still returns what the rest measured", async () => {
    const ackFile = path.join(dir, "acks.txt");
    const running = await nativeEngine.start({
      connect: async () => {
        const c = new pg.Client(clone.connectionConfig());
        await c.connect();
        return c;
      },
      connection: clone.connectionConfig(),
      load: Load.parse({
        source: { table: "src", key: "id", columns: ["v"] },
        write: {
          statements: [{ sql: "INSERT INTO dst (k, v) VALUES (:new_uuid::uuid, :v)" }],
          ack_key: "new_uuid",
        },
        rate: 200,
        connections: 4,
        workers: 2,
      }),
      runId: "death",
      t0: performance.now(),
      ackFile,
      logger: silentLogger,
    });
    const threads = (running as SegmentedLoad).threads;
    expect(threads).toHaveLength(2);
    await sleep(800);
    expect(running.failure()).toBeUndefined();
    await threads[1]!.terminate();
    await sleep(100);
    expect(running.failure()).toMatch(
      /load segment 2 of 2 \(worker thread\) exited with code \d+ while the load ran/,
    );
    const report = await running.stop();
    // The segment that lived on kept writing, and everything it acknowledged is in the table and the ledger.
    expect(report.totals.writes_ok).toBeGreaterThan(50);
    const keys = (await readFile(ackFile, "utf8")).split("\n").filter((k) => k !== "");
    expect(keys.length).toBe(report.ack.acknowledged);
    const found = await db.query<{ n: string }>("SELECT count(*) AS n FROM dst WHERE k = ANY($1::uuid[])", [
      keys,
    ]);
    expect(Number(found.rows[0]!.n)).toBe(keys.length);
    expect(running.failure()).toMatch(/worker thread/);
  });
});
