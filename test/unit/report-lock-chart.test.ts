import { describe, expect, it } from "vitest";
import { lockChart, lockChartRows } from "../../src/report/html-charts.ts";
import type { RunReport } from "../../src/report/model.ts";
import { episode, hold, wait } from "../support/lock-fixtures.ts";
import { passingRun } from "./report-fixtures.ts";

/** The y-axis labels of the rendered SVG, top to bottom. */
function rowLabels(svg: string, candidates: string[]): string[] {
  return candidates.filter((c) => svg.includes(c)).sort((a, b) => svg.indexOf(a) - svg.indexOf(b));
}

/**
 * The cutover-behind-a-report shape: the ALTER waited 5 s for ACCESS EXCLUSIVE on the hot orders table, held
 * it 25 ms, and 8 load requests queued behind it; a longer, later ACCESS SHARE on audit; load behind load on
 * another table.
 */
function queuedCutover(): RunReport {
  const r = passingRun();
  r.effects = [];
  r.locks = [
    hold({
      relation: "public.audit",
      relation_oid: 9,
      mode: "AccessShareLock",
      acquired_ms: 30_000,
      released_ms: 39_000,
      held_ms: 9_000,
    }),
    hold({ acquired_ms: 24_000, released_ms: 24_025, held_ms: 25, waited_ms: 5_000 }),
    hold({
      relation: "public.orders_pkey",
      relation_oid: 2,
      relkind: "i",
      table: "public.orders",
      acquired_ms: 24_001,
      released_ms: 24_025,
      held_ms: 24,
    }),
  ];
  r.lock_waits = [wait({ queued_load_requests: 8 })];
  r.observations = {
    interval_ms: 100,
    samples: 300,
    blocking: [
      episode({}),
      episode({
        blocker_is_migration: false,
        relation: "public.items",
        mode: "RowExclusiveLock",
        load_waiters: 2,
        max_load_waiters: 2,
      }),
    ],
    tables: [],
    wal: [],
    replication_lag: [],
  };
  return r;
}

describe("lock timeline: grouped by what the locks protect", () => {
  it("folds indexes and partitions into their table's row, hot tables first, the longest write-blocking lock marked", () => {
    const r = passingRun();
    r.observations = undefined;
    r.locks = [
      hold({ relation: "public.audit", relation_oid: 9, mode: "AccessShareLock", held_ms: 5_000 }),
      hold({}),
      hold({ relation: "public.orders_pkey", relation_oid: 2, relkind: "i", table: "public.orders" }),
      hold({ relation: "public.orders_2023", relation_oid: 3, relkind: "r", table: "public.orders" }),
      hold({ relation: "public.orders", mode: "ShareLock", held_ms: 40 }),
      hold({ relation: "oid:4242", relation_oid: 4242, relkind: null, mode: "AccessShareLock", held_ms: 1 }),
    ];
    r.effects = [{ ...r.effects[0]!, relation: "public.orders", hot: true }];
    const svg = lockChart(r)!;
    const rows = [
      "▶ public.orders AccessExclusive (+2)",
      "public.orders Share",
      "public.audit AccessShare",
      "dropped relation (oid:4242) AccessShare",
    ];
    expect(rowLabels(svg, rows)).toEqual(rows);
    // One row per table and mode, not one per index and partition; the note says what (+2) is.
    expect(svg).not.toContain("public.orders_pkey");
    expect(svg).not.toMatch(/>oid:4242/);
    expect(svg).toContain("(+n): the table's indexes and partitions");
    // Exactly one bar outlined: the 100 ms ACCESS EXCLUSIVE on the hot table, not the 5 s ACCESS SHARE.
    expect(svg.match(/stroke="#111827"/g)).toHaveLength(1);
  });

  it("draws the load that queued behind the marked lock in the row right under it, and says how many waited", () => {
    const rows = lockChartRows(queuedCutover());
    expect(rows.map((r) => r.label)).toEqual([
      "▶ public.orders AccessExclusive (+1) · 8 waiting",
      "↳ load requests queued behind it",
      "public.audit AccessShare",
      "load waiting on another session: public.items RowExclusive",
    ]);
    expect(rows[1]!.bars.map((b) => [b.kind, b.from_ms, b.to_ms])).toEqual([
      ["load-on-migration", 19_010, 24_100],
    ]);
  });

  it("draws the migration's wait to acquire apart from its hold: an empty outlined bar, then the filled hold", () => {
    const r = queuedCutover();
    const top = lockChartRows(r)[0]!;
    expect(top.bars.map((b) => [b.kind, b.from_ms, b.to_ms])).toEqual([
      ["wait", 19_000, 24_000],
      ["hold", 24_001, 24_025],
      ["top-hold", 24_000, 24_025],
    ]);
    const svg = lockChart(r)!;
    // The wait: no fill, outlined in ACCESS EXCLUSIVE's red; the hold: filled red, the marked one outlined black.
    expect(svg).toMatch(/<path [^>]*fill="none"[^>]*stroke="#dc2626"/);
    expect(svg).toMatch(/<path [^>]*fill="#dc2626"[^>]*stroke="#111827"/);
    expect(svg).toContain("holding ACCESS EXCLUSIVE");
    expect(svg).toContain("the migration waiting to acquire it (outlined: not held yet)");
    expect(svg).toContain("load requests waiting on the migration");
    expect(svg).toContain("load requests waiting on another session");
  });

  it("draws a wait that gave up (lock_timeout) even though the lock was never held", () => {
    const r = passingRun();
    r.effects = [];
    r.observations = undefined;
    r.locks = [hold({ relation: "public.audit", mode: "AccessShareLock" })];
    r.lock_waits = [wait({ outcome: "timeout", wait_ms: 200, started_ms: 23_800, ended_ms: 24_000 })];
    const rows = lockChartRows(r);
    expect(rows.map((x) => [x.label, x.bars.map((b) => b.kind)])).toEqual([
      ["▶ public.orders AccessExclusive", ["wait"]],
      ["public.audit AccessShare", ["hold"]],
    ]);
  });
});
