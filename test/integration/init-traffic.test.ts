/**
 * Issue 15, item 5: traffic fitted from production's own statistics. A PostgreSQL 15 source with
 * pg_stat_statements runs a recorded workload of known mix and rates on `orders` (70 % INSERT, 25 % UPDATE,
 * 5 % DELETE at 50 writes/s, point reads at 20/s, one 1.2 s read, and a transaction left open on the table);
 * `rehearse init` must fit a load whose mix and rates match the recorded ones within 10 %, name the long
 * work in fidelity.md, and the generated scenario must rehearse as generated, running the mix at its weights.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Clone } from "../../src/clone/provider.ts";
import { findSystemInstalls, SystemProvider } from "../../src/clone/system.ts";
import { runInit } from "../../src/init/init.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const install = (await findSystemInstalls()).find((i) => i.major === 15);
const SKIP = install ? undefined : "PostgreSQL 15 is not installed: apt-get install postgresql-15";

/** The recorded workload: per 20 writes, 14 inserts, 5 updates, 1 delete (70/25/5 exactly). */
const WRITES_PER_S = 50;
const READS_PER_S = 20;
const SECONDS = 15;
const PATTERN = [...Array<string>(14).fill("insert"), ...Array<string>(5).fill("update"), "delete"];
const ROWS = 20_000;

let source: Clone | undefined;
const clients: pg.Client[] = [];
const dirs: string[] = [];

function url(): string {
  const c = source!.connectionConfig();
  return `postgres://${c.user}:${encodeURIComponent(String(c.password))}@${c.host}:${c.port}/${c.database}`;
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client(source!.connectionConfig());
  await c.connect();
  clients.push(c);
  return c;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** Runs `n` requests at `perS`, each on its intended time (an open schedule, like production's). */
async function paced(n: number, perS: number, start: number, run: (i: number) => Promise<unknown>) {
  for (let i = 0; i < n; i++) {
    await sleepUntil(start + (i * 1000) / perS);
    await run(i);
  }
}

beforeAll(async () => {
  if (!install) return;
  source = await new SystemProvider().start({
    version: 15,
    settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "top" },
  });
  const admin = await client();
  await admin.query("CREATE EXTENSION pg_stat_statements");
  await admin.query(`CREATE TABLE orders (
      id bigserial PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL,
      status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now())`);
  await admin.query(
    `INSERT INTO orders (customer_id, amount, status)
     SELECT 1 + g % 500, (g % 1000) / 10.0, (ARRAY['new','paid','shipped'])[1 + g % 3] FROM generate_series(1, ${ROWS}) g`,
  );
  await admin.query("ANALYZE orders");
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await source?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("init fits the load to pg_stat_statements (issue 15, item 5)", () => {
  it("matches the recorded mix and rates within 10 %, and the scenario rehearses the mix", async (ctx) => {
    ctx.skip(SKIP !== undefined, SKIP);
    const [writer, reader, slow, idle] = [await client(), await client(), await client(), await client()];
    await writer.query("SELECT pg_stat_statements_reset()");
    const start = performance.now();
    let id = 0;
    const counts: Record<string, number> = { insert: 0, update: 0, delete: 0 };
    await Promise.all([
      paced(WRITES_PER_S * SECONDS, WRITES_PER_S, start, (i) => {
        const kind = PATTERN[i % PATTERN.length]!;
        counts[kind]!++;
        const key = 1 + ((id += 7919) % ROWS);
        if (kind === "insert")
          return writer.query("INSERT INTO orders (customer_id, amount, status) VALUES ($1, $2, $3)", [
            1 + (i % 500),
            (i % 1000) / 10,
            "new",
          ]);
        if (kind === "update")
          return writer.query("UPDATE orders SET status = $1 WHERE id = $2", ["paid", key]);
        return writer.query("DELETE FROM orders WHERE id = $1", [key]);
      }),
      paced(READS_PER_S * SECONDS, READS_PER_S, start, (i) =>
        reader.query("SELECT * FROM orders WHERE id = $1", [1 + ((i * 104_729) % ROWS)]),
      ),
      // Production's long report, and a session that leaves a transaction open on the table.
      slow.query("SELECT pg_sleep(1.2), count(*) FROM orders WHERE status = $1", ["paid"]),
      (async () => {
        await sleepUntil(start + (SECONDS - 3) * 1000);
        await idle.query("BEGIN");
        await idle.query("SELECT status FROM orders WHERE id = $1", [1]);
      })(),
    ]);
    const recordedS = (performance.now() - start) / 1000;

    const out = path.join(await mkdtemp(path.join(tmpdir(), "rehearse-traffic-")), "orders");
    dirs.push(path.dirname(out));
    const initStart = performance.now();
    const result = await runInit({ url: url(), tables: ["orders"], out, fidelity: false, log: () => {} });
    const initMs = Math.round(performance.now() - initStart);
    await idle.query("ROLLBACK");

    const scenario = parse(await readFile(path.join(out, "scenario.yaml"), "utf8")) as {
      load: {
        rate: number;
        read: { rate: number };
        write: { mix: { name: string; weight: number }[] };
      };
    };
    const load = scenario.load;
    const total = load.write.mix.reduce((a, o) => a + o.weight, 0);
    const fitted = Object.fromEntries(load.write.mix.map((o) => [o.name, o.weight / total]));
    const writes = counts.insert! + counts.update! + counts.delete!;
    const recorded = {
      insert: counts.insert! / writes,
      update: counts.update! / writes,
      delete: counts.delete! / writes,
      writesPerS: writes / recordedS,
      readsPerS: (READS_PER_S * SECONDS + 1) / recordedS,
    };
    const within = (got: number, want: number) => Math.abs(got - want) / want;
    for (const k of ["insert", "update", "delete"] as const)
      expect(within(fitted[k] ?? 0, recorded[k]), k).toBeLessThan(0.1);
    expect(within(load.rate, recorded.writesPerS), "write rate").toBeLessThan(0.1);
    expect(within(load.read.rate, recorded.readsPerS), "read rate").toBeLessThan(0.1);
    const md = await readFile(path.join(out, "fidelity.md"), "utf8");
    expect(md).toContain("pg_stat_statements_info.stats_reset");
    expect(md).toMatch(/statement \(pg_stat_statements\), select, max 1\.2\d? s/);
    expect(md).toMatch(
      /transaction \(pg_stat_activity at init\), idle in transaction, SELECT holding AccessShareLock/,
    );
    const yaml = await readFile(path.join(out, "scenario.yaml"), "utf8");
    expect(yaml).toMatch(/# {3}- \{name: long-select, kind: long_read, table: orders, duration: 2s/);
    expect(result.notes.join("\n")).toContain("traffic: load fitted to pg_stat_statements");

    const rehearsalStart = performance.now();
    const report = await rehearse({ scenarioPath: out, logger: silentLogger });
    const rehearsalMs = Math.round(performance.now() - rehearsalStart);
    expect(report.reason ?? "", report.status).toBe("");
    expect(report.status, report.failing.join(", ")).toBe("passed");
    const ops = report.load?.operations ?? [];
    expect(ops.map((o) => o.name)).toEqual(["insert", "update", "delete"]);
    const picked = ops.reduce((a, o) => a + o.intended, 0);
    for (const o of ops) {
      expect(Math.abs(o.intended / picked - o.share), o.name).toBeLessThan(0.05);
      expect(o.ok, o.name).toBeGreaterThan(0);
      expect(o.errors, o.name).toBe(0);
    }
    console.log(
      `traffic: recorded ${JSON.stringify(recorded)}; fitted rate ${load.rate}/s, reads ${load.read.rate}/s, ` +
        `mix ${JSON.stringify(fitted)}; init ${initMs} ms; rehearsal ${rehearsalMs} ms, ` +
        `ran ${ops.map((o) => `${o.name} ${o.ok}/${o.intended}`).join(", ")} of ${picked}`,
    );
  }, 240_000);
});
