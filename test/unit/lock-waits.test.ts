import { describe, expect, it } from "vitest";
import type { RunFacts } from "../../src/budgets/index.ts";
import { lockHoldBudget } from "../../src/budgets/lock-hold.ts";
import { lockQueueBudget, lockWaitBudget } from "../../src/budgets/lock-wait.ts";
import { nameBlocker } from "../../src/migration/lock-wait-watch.ts";
import { renderHtml } from "../../src/report/html.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import type { LoadReport, LockHold, LockWait } from "../../src/report/model.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { budgetCheckIds } from "../../src/scenario/ids.ts";
import { Budgets, Scenario } from "../../src/scenario/schema.ts";
import { passingRun } from "./report-fixtures.ts";

const at = { section: "migration" as const, phase: "cutover", step: "swap", statement: 0 };

function wait(p: Partial<LockWait> = {}): LockWait {
  return {
    ...at,
    attempt: 1,
    relation: "public.orders",
    relation_oid: 7,
    relkind: "r",
    mode: "AccessExclusiveLock",
    started_ms: 1000,
    ended_ms: 4839,
    wait_ms: 3839,
    outcome: "granted",
    blockers: [{ pid: 812, name: "background session report", kind: "background", state: "active" }],
    queued_load_requests: 8,
    queued_load_max_ms: 3700,
    ...p,
  };
}

function hold(p: Partial<LockHold> = {}): LockHold {
  return {
    ...at,
    relation: "public.orders",
    relation_oid: 7,
    relkind: "r",
    mode: "AccessExclusiveLock",
    acquired_ms: 4839,
    released_ms: 4861,
    held_ms: 22,
    in_transaction: true,
    waited_ms: 3839,
    ...p,
  };
}

function facts(p: Partial<RunFacts> = {}): RunFacts {
  return {
    phases: [
      { section: "migration", name: "prepare", status: "success", started_ms: 0, duration_ms: 900 },
      { section: "migration", name: "cutover", status: "success", started_ms: 1000, duration_ms: 3900 },
      { section: "migration", name: "cleanup", status: "not_executed" },
    ],
    steps: [
      {
        ...at,
        name: "swap",
        status: "success",
        transaction: true,
        attempts: 1,
        statements: [
          {
            index: 0,
            sql: "ALTER TABLE orders …",
            file: "m/03.sql",
            line: 4,
            duration_ms: 3861,
            status: "success",
          },
        ],
      },
    ],
    locks: [hold()],
    lock_waits: [wait()],
    effects: [],
    load: {} as LoadReport,
    ...p,
  };
}

// The lock budgets alone: the load budgets would read the stand-in load's windows.
const byId = (f: RunFacts, budgets = Budgets.parse({})) =>
  new Map(
    [lockHoldBudget, lockWaitBudget, lockQueueBudget].flatMap((b) => b(budgets, f)).map((c) => [c.id, c]),
  );

describe("lock waits apart from holds", () => {
  it("names the blocker: a background session, the load, or its query (idle transactions said so)", () => {
    expect(
      nameBlocker({
        pid: 1,
        app: "rehearse background report",
        state: "active",
        query: "SELECT",
        backend_type: null,
      }),
    ).toMatchObject({ name: "background session report", kind: "background" });
    expect(
      nameBlocker({ pid: 2, app: "rehearse-load", state: "active", query: "INSERT", backend_type: null }),
    ).toMatchObject({
      name: "load",
      kind: "load",
    });
    const q = nameBlocker({
      pid: 3,
      app: "psql",
      state: "idle in transaction",
      query: `SELECT *\n  FROM orders WHERE note = '${"x".repeat(200)}'`,
      backend_type: "client backend",
    });
    expect(q.kind).toBe("query");
    expect(q.name).toMatch(/^pid 3: idle in transaction after: SELECT \* FROM orders WHERE/);
    expect(q.name.length).toBeLessThan(180);
  });

  it("fails the wait budget, not the hold budget, for a 3.8 s wait and a 22 ms hold", () => {
    const checks = byId(facts());
    const w = checks.get("budget.lock_wait.AccessExclusiveLock")!;
    expect(w).toMatchObject({ status: "fail", measured: 3839, limit: 1000, unit: "ms" });
    expect(w.findings).toEqual([
      "cutover/swap statement 1 (m/03.sql:4) waited 3839 ms for AccessExclusiveLock on public.orders behind background session report (pid 812), then acquired it",
    ]);
    expect(w.remediation).toMatch(/lock_timeout.*retry/);
    const h = checks.get("budget.lock_hold.AccessExclusiveLock")!;
    expect(h).toMatchObject({ status: "pass", measured: 22 });
    expect(h.summary).not.toMatch(/3839/);
  });

  it("judges the lock queue per migration phase, skips a phase that did not run, and needs a load", () => {
    const checks = byId(facts());
    expect(checks.get("budget.lock_queue.cutover")).toMatchObject({
      status: "fail",
      measured: 3700,
      limit: 1000,
    });
    expect(checks.get("budget.lock_queue.cutover")!.findings[0]).toMatch(
      /^8 load request\(s\) queued up to 3700 ms behind cutover\/swap statement 1 .*which waited 3839 ms/,
    );
    expect(checks.get("budget.lock_queue.prepare")).toMatchObject({ status: "pass", measured: 0 });
    expect(checks.get("budget.lock_queue.cleanup")).toMatchObject({ status: "skipped" });
    expect([...byId(facts({ load: undefined })).keys()].some((k) => k.startsWith("budget.lock_queue"))).toBe(
      false,
    );
    const relaxed = Budgets.parse({
      lock_queue: { phases: { cutover: "5s" } },
      lock_waits: [{ mode: "AccessExclusiveLock", relation: "orders", max: "5s" }],
    });
    const r = byId(facts(), relaxed);
    expect(r.get("budget.lock_queue.cutover")!.status).toBe("pass");
    expect(r.get("budget.lock_wait.AccessExclusiveLock.orders")!.status).toBe("pass");
    expect(
      [...byId(facts(), Budgets.parse({ lock_queue: false })).keys()].some((k) =>
        k.startsWith("budget.lock_queue"),
      ),
    ).toBe(false);
  });

  it("counts timed-out attempts as waits: short ones pass", () => {
    const waits = [1, 2, 3].map((attempt) =>
      wait({ attempt, wait_ms: 200, outcome: "timeout", queued_load_max_ms: 190 }),
    );
    const checks = byId(facts({ lock_waits: waits }));
    expect(checks.get("budget.lock_wait.AccessExclusiveLock")).toMatchObject({
      status: "pass",
      measured: 200,
    });
    expect(checks.get("budget.lock_queue.cutover")).toMatchObject({ status: "pass", measured: 190 });
  });

  it("lists the budget ids the loader accepts in expect.failing", () => {
    const s = Scenario.parse({
      version: 1,
      name: "x",
      dataset: { schema: "CREATE TABLE t (id int)" },
      migration: { phases: [{ name: "cutover", steps: [{ name: "s", sql: "SELECT 1" }] }] },
      load: {
        source: { table: "t", columns: ["id"] },
        write: { statements: [{ sql: "INSERT INTO t VALUES (1)" }] },
        rate: 10,
      },
      budgets: {
        lock_waits: [{ mode: "AccessExclusiveLock", relation: "orders", phase: "cutover", max: "2s" }],
      },
    });
    const ids = budgetCheckIds(s);
    expect(ids).toContain("budget.lock_wait.AccessExclusiveLock.orders.cutover");
    expect(ids).toContain("budget.lock_queue.cutover");
    expect(ids).not.toContain("budget.lock_wait.AccessExclusiveLock");
  });

  it("shows wait and hold apart in every reporter", () => {
    const r = { ...passingRun(), locks: [hold()], lock_waits: [wait()] };
    const md = renderMarkdown(r);
    expect(md).toContain("Time the migration waited to acquire a lock");
    const row = (...cells: string[]) =>
      new RegExp(cells.map((c) => `\\|\\s*${c.replace(/[.()|]/g, "\\$&")}\\s*`).join("") + "\\|");
    expect(md).toMatch(
      row(
        "cutover/swap statement 1",
        "`public.orders`",
        "AccessExclusiveLock",
        "3.8 s",
        "acquired",
        "background session report (pid 812)",
        "8 load requests queued, longest 3.7 s",
      ),
    );
    expect(md).toMatch(row("`public.orders`", "AccessExclusiveLock", "22 ms", "3.8 s"));
    const term = renderTerminal(r);
    expect(term).toContain(
      "locks waited 3.8 s for AccessExclusiveLock on public.orders in cutover/swap statement 1 behind background session report (pid 812), acquired; 8 load requests queued, longest 3.7 s behind it",
    );
    const html = renderHtml(r);
    expect(html).toContain('<section id="lock-waits">');
    expect(html).toContain("background session report (pid 812)");
  });
});
