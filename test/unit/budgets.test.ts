import { describe, expect, it } from "vitest";
import { evaluateBudgets, type RunFacts } from "../../src/budgets/index.ts";
import type { LockHold, StatementEffect } from "../../src/report/model.ts";
import { Budgets } from "../../src/scenario/schema.ts";

const at = { section: "migration" as const, phase: "cutover", step: "swap", statement: 2 };

function lock(p: Partial<LockHold>): LockHold {
  return {
    ...at,
    relation: "public.ledger",
    relation_oid: 1,
    relkind: "r",
    mode: "AccessExclusiveLock",
    acquired_ms: 0,
    released_ms: 10,
    held_ms: 10,
    in_transaction: true,
    ...p,
  };
}

function effect(p: Partial<StatementEffect>): StatementEffect {
  return {
    ...at,
    relation: "public.ledger_history",
    relation_oid: 1,
    seq_scans: 0,
    seq_tup_read: 0,
    idx_tup_fetch: 0,
    rewritten: false,
    held_mode: "AccessExclusiveLock",
    hot: true,
    ...p,
  };
}

function facts(p: Partial<RunFacts>): RunFacts {
  return {
    phases: [{ section: "migration", name: "cutover", status: "success", started_ms: 0, duration_ms: 50 }],
    steps: [
      {
        ...at,
        name: "swap",
        status: "success",
        transaction: true,
        attempts: 1,
        statements: [
          { index: 2, sql: "ALTER TABLE …", file: "m/03.sql", line: 7, duration_ms: 3, status: "success" },
        ],
      },
    ],
    locks: [],
    effects: [],
    ...p,
  };
}

const defaults = Budgets.parse({});
const byId = (facts: RunFacts, budgets = defaults) =>
  Object.fromEntries(evaluateBudgets(budgets, facts).map((c) => [c.id, c]));

describe("budgets", () => {
  it("defaults to ACCESS EXCLUSIVE on any table ≤ 1000 ms, and fails a longer hold with its location", () => {
    const ok = byId(facts({ locks: [lock({ held_ms: 999 })] }));
    expect(ok["budget.lock_hold.AccessExclusiveLock"]!.status).toBe("pass");
    const bad = byId(facts({ locks: [lock({ held_ms: 1500 }), lock({ relkind: "i", held_ms: 9000 })] }));
    const c = bad["budget.lock_hold.AccessExclusiveLock"]!;
    expect(c.status).toBe("fail");
    // The index lock is not a table lock and does not count.
    expect(c.measured).toBe(1500);
    expect(c.findings[0]).toContain("cutover/swap statement 3 (m/03.sql:7)");
  });

  it("scopes a lock budget to a relation and a phase", () => {
    const budgets = Budgets.parse({
      locks: [{ mode: "ShareLock", relation: "orders", phase: "cutover", max: "10ms" }],
    });
    const r = byId(
      facts({
        locks: [
          lock({ mode: "ShareLock", relation: "public.orders", held_ms: 20 }),
          lock({ mode: "ShareLock", held_ms: 99 }),
        ],
      }),
      budgets,
    );
    expect(r["budget.lock_hold.ShareLock.orders.cutover"]).toMatchObject({ status: "fail", measured: 20 });
  });

  it("fails a seq scan of a hot table under ACCESS EXCLUSIVE however fast it was", () => {
    const r = byId(facts({ effects: [effect({ seq_scans: 1, seq_tup_read: 100000 })] }));
    expect(r["budget.no_scan_under_access_exclusive"]).toMatchObject({ status: "fail", measured: 100000 });
    expect(r["budget.no_scan_under_access_exclusive"]!.remediation).toContain("NOT VALID");
  });

  it("does not fail scans under a weaker lock, of a cold table, or index lookups", () => {
    const r = byId(
      facts({
        effects: [
          effect({ seq_scans: 1, seq_tup_read: 100000, held_mode: "ShareUpdateExclusiveLock" }),
          effect({ seq_scans: 1, seq_tup_read: 10, hot: false }),
          effect({ idx_tup_fetch: 1 }),
        ],
      }),
    );
    expect(r["budget.no_scan_under_access_exclusive"]!.status).toBe("pass");
  });

  it("fails a rewrite of a hot table under ACCESS EXCLUSIVE, and can be turned off", () => {
    const f = facts({ effects: [effect({ rewritten: true })] });
    expect(byId(f)["budget.no_rewrite_under_access_exclusive"]!.status).toBe("fail");
    const off = Budgets.parse({ no_rewrite_under_access_exclusive: false });
    expect(byId(f, off)["budget.no_rewrite_under_access_exclusive"]).toBeUndefined();
  });

  it("judges phase and step durations, and skips ones that never ran", () => {
    const budgets = Budgets.parse({
      phases: { cutover: "40ms" },
      steps: { "cutover/swap": "1s", "cutover/later": "1s" },
    });
    const r = byId(
      facts({
        steps: [
          ...facts({}).steps.map((s) => ({ ...s, duration_ms: 30 })),
          { ...at, name: "later", status: "not_executed", transaction: true, attempts: 0, statements: [] },
        ],
      }),
      budgets,
    );
    expect(r["budget.phase_duration.cutover"]).toMatchObject({ status: "fail", measured: 50, limit: 40 });
    expect(r["budget.step_duration.cutover/swap"]!.status).toBe("pass");
    expect(r["budget.step_duration.cutover/later"]!.status).toBe("skipped");
  });
});
