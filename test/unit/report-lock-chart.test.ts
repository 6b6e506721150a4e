import { describe, expect, it } from "vitest";
import { lockChart } from "../../src/report/html-charts.ts";
import type { LockHold } from "../../src/report/model.ts";
import { passingRun } from "./report-fixtures.ts";

const hold = (p: Partial<LockHold>): LockHold => ({
  section: "migration",
  phase: "cutover",
  step: "attach",
  statement: 0,
  relation: "public.orders",
  relation_oid: 1,
  relkind: "r",
  mode: "AccessExclusiveLock",
  acquired_ms: 24_000,
  released_ms: 24_100,
  held_ms: 100,
  in_transaction: true,
  ...p,
});

/** The y-axis labels of the rendered SVG, top to bottom. */
function rowLabels(svg: string, candidates: string[]): string[] {
  return candidates.filter((c) => svg.includes(c)).sort((a, b) => svg.indexOf(a) - svg.indexOf(b));
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
    r.effects = [
      {
        ...r.effects[0]!,
        relation: "public.orders",
        hot: true,
      },
    ];
    const svg = lockChart(r)!;
    const rows = [
      "▶ public.orders AccessExclusive (+2 idx/part)",
      "public.orders Share",
      "public.audit AccessShare",
      "dropped relation (oid:4242) AccessShare",
    ];
    expect(rowLabels(svg, rows)).toEqual(rows);
    // One row per table and mode, not one per index and partition.
    expect(svg).not.toContain("public.orders_pkey");
    expect(svg).not.toMatch(/>oid:4242/);
    // Exactly one bar outlined: the 100 ms ACCESS EXCLUSIVE on the hot table, not the 5 s ACCESS SHARE.
    expect(svg.match(/stroke="#111827"/g)).toHaveLength(1);
  });
});
