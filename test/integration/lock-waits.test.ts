/**
 * Wait versus hold on a real PostgreSQL: an ALTER that waits ~2 s behind another session's ACCESS SHARE lock
 * reports the wait (attributed to that session) apart from its short hold, and the budgets judge each.
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockQueueBudget, lockWaitBudget } from "../../src/budgets/lock-wait.ts";
import { evaluateBudgets } from "../../src/budgets/index.ts";
import type { RunFacts } from "../../src/budgets/budget.ts";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { runPhases } from "../../src/migration/runner.ts";
import { LOAD_APPLICATION_NAME } from "../../src/observers/lock-waits.ts";
import type { LoadReport } from "../../src/report/model.ts";
import type { ResolvedSqlStep } from "../../src/scenario/load.ts";
import { Budgets } from "../../src/scenario/schema.ts";
import { loadSqlParser, parseSql } from "../../src/scenario/sql.ts";

let clone: Clone;
const clients: pg.Client[] = [];
let dbCounter = 0;

async function connect(database?: string, application_name?: string): Promise<pg.Client> {
  const c = new pg.Client({
    ...clone.connectionConfig(),
    ...(database ? { database } : {}),
    ...(application_name ? { application_name } : {}),
  });
  await c.connect();
  clients.push(c);
  return c;
}

async function freshDb() {
  const admin = await connect();
  const name = `waits_${++dbCounter}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const db = await connect(name);
  await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, v int)`);
  await db.query(`INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g`);
  return {
    db,
    monitor: await connect(name),
    report: await connect(name, "rehearse background report"),
    load: await connect(name, LOAD_APPLICATION_NAME),
  };
}

function step(name: string, sql: string, extra: Partial<ResolvedSqlStep> = {}): ResolvedSqlStep {
  return {
    kind: "sql",
    section: "migration",
    phase: "cutover",
    name,
    sqlText: parseSql(sql, `${name}.sql`),
    ...extra,
  };
}

/** The "reporting query": holds ACCESS SHARE on orders for `ms`, then commits (`done`). */
async function holdAccessShare(c: pg.Client, ms: number): Promise<{ done: Promise<void> }> {
  await c.query("BEGIN");
  await c.query("SELECT count(*) FROM orders");
  // Wrapped: an async function returning a bare promise would be awaited through to the COMMIT.
  const done = new Promise<void>((resolve, reject) => {
    setTimeout(() => {
      c.query("COMMIT").then(() => resolve(), reject);
    }, ms);
  });
  return { done };
}

beforeAll(async () => {
  await loadSqlParser();
  clone = await new EmbeddedProvider().start();
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await clone?.stop();
});

describe("lock waits (real PostgreSQL)", () => {
  it("splits a 2 s wait behind a background session from the hold, and judges each", async () => {
    const { db, monitor, report, load } = await freshDb();
    const released = await holdAccessShare(report, 2000);
    // A load write arriving while the ALTER waits queues behind it (not behind the reporting query).
    const queued = (async () => {
      await new Promise((r) => setTimeout(r, 400));
      await load.query("INSERT INTO orders VALUES (100001, 1)");
    })();
    const t0 = performance.now();
    const res = await runPhases(
      [{ name: "cutover", steps: [step("swap", "ALTER TABLE orders ADD COLUMN note text")] }],
      { db, monitor, t0, hotOids: new Set() },
    );
    await Promise.all([released.done, queued]);
    expect(res.harnessError).toBeUndefined();
    expect(res.steps[0]!.status).toBe("success");

    const waits = res.waits.filter((w) => w.relation === "public.orders" && w.mode === "AccessExclusiveLock");
    expect(waits).toHaveLength(1);
    const w = waits[0]!;
    expect(w.outcome).toBe("granted");
    expect(w.wait_ms).toBeGreaterThan(1700);
    expect(w.wait_ms).toBeLessThan(2500);
    expect(w.blockers).toEqual([
      expect.objectContaining({
        pid: (report as unknown as { processID: number }).processID,
        name: "background session report",
        kind: "background",
      }),
    ]);
    // The load's INSERT waited on the migration's backend while the migration itself waited.
    expect(w.queued_load_requests).toBe(1);
    expect(w.queued_load_max_ms).toBeGreaterThan(1000);
    expect(w.queued_load_max_ms).toBeLessThanOrEqual(w.wait_ms);

    const hold = res.locks.find((l) => l.relation === "public.orders" && l.mode === "AccessExclusiveLock")!;
    expect(hold.waited_ms).toBeGreaterThan(1700);
    expect(hold.acquired_ms).toBeGreaterThanOrEqual(w.ended_ms - 1);
    expect(hold.held_ms).toBeLessThan(300);
    expect(hold.held_ms).toBeLessThan(w.wait_ms / 5);

    const facts: RunFacts = {
      phases: res.phases,
      steps: res.steps,
      locks: res.locks,
      lock_waits: res.waits,
      effects: res.effects,
    };
    const checks = evaluateBudgets(Budgets.parse({}), facts);
    const byId = new Map(checks.map((c) => [c.id, c]));
    expect(byId.get("budget.lock_wait.AccessExclusiveLock")).toMatchObject({ status: "fail" });
    expect(byId.get("budget.lock_wait.AccessExclusiveLock")!.findings[0]).toMatch(
      /cutover\/swap statement 1 .*waited \d+ ms for AccessExclusiveLock on public.orders behind background session report \(pid \d+\), then acquired it/,
    );
    expect(byId.get("budget.lock_wait.AccessExclusiveLock")!.remediation).toMatch(/lock_timeout/);
    expect(byId.get("budget.lock_hold.AccessExclusiveLock")).toMatchObject({ status: "pass" });
    const withLoad = { ...facts, load: {} as LoadReport };
    const queue = lockQueueBudget(Budgets.parse({}), withLoad);
    expect(queue).toEqual([expect.objectContaining({ id: "budget.lock_queue.cutover", status: "fail" })]);
    expect(
      lockWaitBudget(Budgets.parse({ lock_waits: [{ mode: "AccessExclusiveLock", max: "5s" }] }), facts)[0]!
        .status,
    ).toBe("pass");
  });

  it("with lock_timeout and retries, each attempt waits briefly and gives up, then the step succeeds", async () => {
    const { db, monitor, report } = await freshDb();
    const released = await holdAccessShare(report, 1500);
    const res = await runPhases(
      [
        {
          name: "cutover",
          steps: [
            step("swap", "ALTER TABLE orders ADD COLUMN note text", {
              lock_timeout: 200,
              retry: { attempts: 20, backoff: 100, max_backoff: 200 },
            }),
          ],
        },
      ],
      { db, monitor, t0: performance.now(), hotOids: new Set() },
    );
    await released.done;
    expect(res.steps[0]!.status).toBe("success");
    expect(res.steps[0]!.attempts).toBeGreaterThan(1);
    const waits = res.waits.filter((w) => w.mode === "AccessExclusiveLock");
    expect(waits.filter((w) => w.outcome === "timeout").length).toBe(res.steps[0]!.attempts - 1);
    for (const w of waits) expect(w.wait_ms).toBeLessThan(600);
    expect(waits.find((w) => w.outcome === "timeout")!.attempt).toBe(1);
    const facts: RunFacts = {
      phases: res.phases,
      steps: res.steps,
      locks: res.locks,
      lock_waits: res.waits,
      effects: res.effects,
    };
    const byId = new Map(evaluateBudgets(Budgets.parse({}), facts).map((c) => [c.id, c]));
    expect(byId.get("budget.lock_wait.AccessExclusiveLock")!.status).toBe("pass");
    expect(byId.get("budget.lock_hold.AccessExclusiveLock")!.status).toBe("pass");
  });
});
