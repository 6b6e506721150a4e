import { describe, expect, it } from "vitest";
import { coversText, lockView } from "../../src/report/lock-view.ts";
import type { RunReport } from "../../src/report/model.ts";
import { episode, hold, wait } from "../support/lock-fixtures.ts";
import { passingRun } from "./report-fixtures.ts";

/** A run whose report has only what a test sets: no effects, no waits, no observations. */
function run(p: Partial<RunReport>): RunReport {
  const r = passingRun();
  r.effects = [];
  r.observations = undefined;
  r.lock_waits = undefined;
  return Object.assign(r, p);
}

const pairs = (r: RunReport) => lockView(r).groups.map((g) => `${g.owner} ${g.mode}`);

describe("lockView: locks grouped by what they protect", () => {
  it("folds a table's indexes and partitions into one group per mode, each relation once", () => {
    const view = lockView(
      run({
        locks: [
          hold({}),
          hold({ relation: "public.orders_pkey", relkind: "i", table: "public.orders", held_ms: 90 }),
          hold({ relation: "public.orders_pkey", relkind: "i", table: "public.orders", statement: 3 }),
          hold({ relation: "public.orders_2023", relkind: "r", table: "public.orders" }),
          hold({ relation: "public.orders_2023", mode: "ShareLock", table: "public.orders" }),
        ],
      }),
    );
    expect(view.groups.map((g) => [g.owner, g.mode, g.covers])).toEqual([
      ["public.orders", "AccessExclusiveLock", ["public.orders_2023", "public.orders_pkey"]],
      ["public.orders", "ShareLock", ["public.orders_2023"]],
    ]);
    expect(coversText(view.groups[0]!)).toBe("1 index, 1 partition");
    expect(view.groups[0]!.holds).toHaveLength(4);
  });

  it("puts the tables the application uses first, hot per the tracer or where load queued, then the longest", () => {
    const r = run({
      locks: [
        hold({ relation: "public.audit", mode: "AccessShareLock", held_ms: 9_000 }),
        hold({ relation: "public.accounts", mode: "ShareRowExclusiveLock", held_ms: 20 }),
        hold({ relation: "public.orders", mode: "ShareLock", held_ms: 40 }),
        hold({ relation: "public.orders", held_ms: 10 }),
      ],
    });
    // Nothing known to be hot: the longest first.
    expect(pairs(r)).toEqual([
      "public.audit AccessShareLock",
      "public.orders ShareLock",
      "public.accounts ShareRowExclusiveLock",
      "public.orders AccessExclusiveLock",
    ]);
    // orders hot per the tracer (an index's effect names its table), accounts because load queued on it.
    r.effects = [
      {
        ...passingRun().effects[0]!,
        relation: "public.orders_pkey",
        table: "public.orders",
        table_hot: true,
      },
    ];
    r.observations = {
      interval_ms: 100,
      samples: 10,
      blocking: [episode({ relation: "public.accounts", mode: "ShareRowExclusiveLock" })],
      tables: [],
      wal: [],
      replication_lag: [],
    };
    expect(pairs(r)).toEqual([
      "public.orders ShareLock",
      "public.accounts ShareRowExclusiveLock",
      "public.orders AccessExclusiveLock",
      "public.audit AccessShareLock",
    ]);
  });

  it("marks the write-blocking lock writers stood behind longest, its wait counted: a 25 ms hold after 5 s of waiting beats 300 ms", () => {
    const view = lockView(
      run({
        locks: [
          hold({ relation: "public.orders", held_ms: 300, acquired_ms: 30_000, released_ms: 30_300 }),
          hold({
            relation: "public.ledger",
            held_ms: 25,
            waited_ms: 5_000,
            acquired_ms: 24_000,
            released_ms: 24_025,
          }),
          // Longer, but it does not block writes.
          hold({ relation: "public.ledger", mode: "ShareUpdateExclusiveLock", held_ms: 9_000 }),
        ],
      }),
    );
    expect(view.top?.owner).toBe("public.ledger");
    expect(view.top?.mode).toBe("AccessExclusiveLock");
    expect(view.top?.impact).toBe(5_025);
    expect(view.topHold?.held_ms).toBe(25);
  });

  it("keeps the migration's waits apart from its holds: recorded waits, waits that gave up, and waited_ms", () => {
    const view = lockView(
      run({
        locks: [
          // Its wait was recorded (the lock wait below): drawn once, from the record.
          hold({ acquired_ms: 24_000, released_ms: 24_025, held_ms: 25, waited_ms: 5_000 }),
          // An older report: only waited_ms says it waited.
          hold({
            relation: "public.accounts",
            mode: "ShareLock",
            acquired_ms: 40_000,
            released_ms: 40_010,
            held_ms: 10,
            waited_ms: 700,
          }),
          // A few ms behind the load's own transactions: not worth a bar.
          hold({ relation: "public.items", mode: "ShareLock", held_ms: 10, waited_ms: 3 }),
        ],
        lock_waits: [
          wait({}),
          // lock_timeout: never held, still drawn in its table's row.
          wait({
            relation: "public.audit",
            started_ms: 10_000,
            ended_ms: 10_200,
            wait_ms: 200,
            outcome: "timeout",
          }),
        ],
      }),
    );
    const spans = (owner: string) =>
      view.groups.find((g) => g.owner === owner)!.waits.map((w) => [w.from_ms, w.to_ms, w.outcome]);
    expect(spans("public.orders")).toEqual([[19_000, 24_000, "granted"]]);
    expect(spans("public.accounts")).toEqual([[39_300, 40_000, "granted"]]);
    expect(spans("public.items")).toEqual([]);
    const audit = view.groups.find((g) => g.owner === "public.audit")!;
    expect([audit.holds, audit.waits.length, audit.longestWait, audit.longestHeld]).toEqual([[], 1, 200, 0]);
  });

  it("puts the load that queued behind the migration with the group it queued on, and the rest apart", () => {
    const view = lockView(
      run({
        locks: [
          hold({}),
          hold({ relation: "public.orders_pkey", relkind: "i", table: "public.orders", mode: "ShareLock" }),
        ],
        lock_waits: [wait({ queued_load_requests: 6 })],
        observations: {
          interval_ms: 100,
          samples: 10,
          blocking: [
            // On the table itself, in the mode the migration held: this group.
            episode({}),
            // Through an index, the migration's ShareLock: the ShareLock group of the table.
            episode({
              relation: "public.orders_pkey",
              mode: "ShareLock",
              max_load_waiters: 3,
              load_waiters: 5,
            }),
            // The migration waiting behind a report: no load in it, drawn as the migration's wait instead.
            episode({
              blocker_is_migration: false,
              mode: "AccessShareLock",
              load_waiters: 0,
              max_load_waiters: 0,
            }),
            // Load behind load: context, not the migration's doing.
            episode({
              blocker_is_migration: false,
              mode: "RowExclusiveLock",
              load_waiters: 2,
              max_load_waiters: 2,
            }),
            // On a table the migration never locked.
            episode({ relation: "public.audit", max_load_waiters: 1, load_waiters: 1 }),
          ],
          tables: [],
          wal: [],
          replication_lag: [],
        },
      }),
    );
    const [exclusive, share] = view.groups;
    expect(exclusive!.waiters.map((e) => e.relation)).toEqual(["public.orders"]);
    expect(exclusive!.loadWaiting).toBe(8);
    expect(share!.waiters.map((e) => e.relation)).toEqual(["public.orders_pkey"]);
    expect(share!.loadWaiting).toBe(3);
    expect(view.otherWaiters.map((e) => `${e.relation} ${e.mode}`)).toEqual([
      "public.orders RowExclusiveLock",
      "public.audit AccessExclusiveLock",
    ]);
  });

  it("counts the lock wait's queue when no episode was sampled", () => {
    const view = lockView(
      run({ locks: [hold({ waited_ms: 5_000 })], lock_waits: [wait({ queued_load_requests: 6 })] }),
    );
    expect(view.groups[0]!.loadWaiting).toBe(6);
    expect(view.groups[0]!.waiters).toEqual([]);
  });
});
