import { describe, expect, it } from "vitest";
import { renderHtml } from "../../src/report/html.ts";
import { episode, hold, wait } from "../support/lock-fixtures.ts";
import { passingRun } from "./report-fixtures.ts";

/** The "Locks held" section's body rows, each as its cells' HTML. */
function lockRows(html: string): string[][] {
  const section = /<section id="locks">([\s\S]*?)<\/section>/.exec(html)![1]!;
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(section)![1]!;
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!),
  );
}

const text = (cell: string) => cell.replace(/<[^>]+>/g, "");

describe("html: the Locks held table, grouped like the lock timeline", () => {
  it("has one row per table and mode, hot tables first, its indexes and partitions folded into an expandable list", () => {
    const r = passingRun();
    r.locks = [
      hold({ relation: "public.audit", mode: "AccessShareLock", held_ms: 9_000 }),
      hold({ acquired_ms: 24_000, released_ms: 24_025, held_ms: 25, waited_ms: 5_000 }),
      hold({
        relation: "public.orders_pkey",
        relkind: "i",
        table: "public.orders",
        held_ms: 24,
        statement: 1,
      }),
      hold({
        relation: "public.orders_2023",
        relkind: "r",
        table: "public.orders",
        held_ms: 20,
        statement: 2,
      }),
      hold({
        relation: "public.orders_2023_pkey",
        relkind: "i",
        table: "public.orders",
        held_ms: 20,
        statement: 2,
      }),
      hold({ relation: "oid:4242", relkind: null, mode: "AccessShareLock", held_ms: 1 }),
    ];
    r.lock_waits = [wait({ queued_load_requests: 8 })];
    r.observations = {
      interval_ms: 100,
      samples: 300,
      blocking: [episode({})],
      tables: [],
      wal: [],
      replication_lag: [],
    };
    const html = renderHtml(r);
    const rows = lockRows(html);
    expect(
      rows.map(
        (c) =>
          `${text(c[0]!)
            .replace(/and .*$/, "")
            .trim()} | ${text(c[1]!)}`,
      ),
    ).toEqual([
      "▶ public.orders hot | AccessExclusiveLock",
      "public.audit | AccessShareLock",
      "dropped relation (oid:4242) | AccessShareLock",
    ]);
    const [top] = rows;
    // Folded, expandable: the summary counts them, the list names each once.
    expect(top![0]).toMatch(/<details><summary>and 2 indexes, 1 partition<\/summary><ul>/);
    const listed = [...top![0]!.matchAll(/<li><code>([^<]+)<\/code>/g)].map((m) => m[1]);
    expect(listed).toEqual(["public.orders_2023", "public.orders_2023_pkey", "public.orders_pkey"]);
    // Held, waited first, load requests waiting, the statements that took it.
    expect(rows[0]!.slice(2, 6).map(text)).toEqual([
      "25 ms",
      "5.0 s",
      "8",
      "cutover/attach statements 1, 2, 3",
    ]);
    // No bare oid: the tracer could not name it because it was dropped.
    expect(html).not.toMatch(/>oid:/);
  });
});
