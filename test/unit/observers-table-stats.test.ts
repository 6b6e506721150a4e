import { describe, expect, it } from "vitest";
import { tableStatsObserver } from "../../src/observers/table-stats.ts";

const row = (table: string, live: number, dead: number, av = false) => [table, live, dead, av];

describe("table-stats observer", () => {
  it("records a table once while it does not change, then its final state", () => {
    const o = tableStatsObserver();
    for (let t = 0; t <= 2000; t += 100) o.ingest([row("public.a", 10, 0)], t);
    o.finish(2050);
    expect(o.result().tables).toEqual([
      { t: 0, table: "public.a", live: 10, dead: 0, autovacuum_running: false },
      { t: 2050, table: "public.a", live: 10, dead: 0, autovacuum_running: false },
    ]);
  });

  it("coalesces changes to one sample per 500 ms, keeping the latest value", () => {
    const o = tableStatsObserver({ minGapMs: 500 });
    o.ingest([row("public.a", 10, 0)], 0);
    o.ingest([row("public.a", 10, 5)], 100);
    o.ingest([row("public.a", 10, 9)], 200);
    o.ingest([row("public.a", 10, 9)], 500);
    o.ingest([row("public.a", 10, 12)], 600);
    o.finish(700);
    expect(o.result().tables!.map((s) => [s.t, s.dead])).toEqual([
      [0, 0],
      [500, 9],
      [700, 12],
    ]);
  });

  it("records autovacuum starting and stopping at once", () => {
    const o = tableStatsObserver({ minGapMs: 500 });
    o.ingest([row("public.a", 10, 100)], 0);
    o.ingest([row("public.a", 10, 100, true)], 100);
    o.ingest([row("public.a", 10, 0, false)], 200);
    expect(o.result().tables!.map((s) => [s.t, s.dead, s.autovacuum_running])).toEqual([
      [0, 100, false],
      [100, 100, true],
      [200, 0, false],
    ]);
  });

  it("ends a table that disappeared where it was last seen", () => {
    const o = tableStatsObserver();
    o.ingest([row("public.old", 5, 1), row("public.new", 0, 0)], 0);
    o.ingest([row("public.old", 5, 1), row("public.new", 0, 0)], 300);
    o.ingest([row("public.new", 5, 0)], 600);
    o.finish(900);
    const old = o.result().tables!.filter((s) => s.table === "public.old");
    expect(old.map((s) => s.t)).toEqual([0, 300]);
    const neu = o.result().tables!.filter((s) => s.table === "public.new");
    expect(neu.map((s) => [s.t, s.live])).toEqual([
      [0, 0],
      [600, 5],
      [900, 5],
    ]);
  });

  it("reads counters sent as strings (bigint) and ignores a malformed value", () => {
    const o = tableStatsObserver();
    o.ingest([["public.a", "12", "3", false]], 0);
    o.ingest(null, 100);
    expect(o.result().tables).toEqual([
      { t: 0, table: "public.a", live: 12, dead: 3, autovacuum_running: false },
    ]);
  });
});
