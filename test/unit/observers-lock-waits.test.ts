import { describe, expect, it } from "vitest";
import { lockWaitsObserver, type WaitRow } from "../../src/observers/lock-waits.ts";

function wait(p: Partial<WaitRow>): WaitRow {
  return {
    pid: 101,
    app: "rehearse-load",
    blocker: 7,
    locktype: "relation",
    obj: "5/16384",
    relname: "public.ledger",
    mode: "RowExclusiveLock",
    blocker_mode: "AccessExclusiveLock",
    wait_ms: 10,
    ...p,
  };
}

describe("lock-waits observer", () => {
  it("groups waiters of one lock into one episode, counting load waiters and the longest wait", () => {
    let cur = { phase: "cutover" as string | null, step: "swap" as string | null };
    const o = lockWaitsObserver({ migrationPid: 7, current: () => cur });
    o.ingest(
      [wait({ pid: 101, wait_ms: 40 }), wait({ pid: 102, wait_ms: 5, mode: "AccessShareLock" })],
      1000,
    );
    cur = { phase: "cleanup", step: null };
    o.ingest(
      [
        wait({ pid: 101, wait_ms: 140 }),
        wait({ pid: 103, wait_ms: 90 }),
        wait({ pid: 104, app: "psql", wait_ms: 20 }),
      ],
      1100,
    );
    o.ingest([wait({ pid: 105, wait_ms: 30 })], 1200);
    o.ingest([], 1300);
    expect(o.open).toBe(0);
    const { blocking } = o.result();
    expect(blocking).toEqual([
      {
        blocker_pid: 7,
        blocker_is_migration: true,
        relation: "public.ledger",
        mode: "AccessExclusiveLock",
        started_ms: 960,
        ended_ms: 1300,
        max_waiters: 3,
        // 101, 102, 103, 105; psql's 104 waited but is not the load.
        load_waiters: 4,
        // At most two load requests waited at the same time (101+102, then 101+103).
        max_load_waiters: 2,
        longest_wait_ms: 140,
        phase: "cutover",
        step: "swap",
      },
    ]);
  });

  it("separates blockers and lock objects, and marks only the migration's as the migration's", () => {
    const o = lockWaitsObserver({ migrationPid: () => 7 });
    o.ingest(
      [
        wait({ pid: 101 }),
        wait({ pid: 102, blocker: 8 }),
        wait({ pid: 103, obj: "5/16390", relname: "public.accounts" }),
        wait({ pid: 104, locktype: "transactionid", obj: "991", blocker: 9, blocker_mode: "ExclusiveLock" }),
      ],
      500,
    );
    o.finish(600);
    const eps = o.result().blocking!;
    expect(eps).toHaveLength(4);
    expect(
      eps
        .filter((e) => e.blocker_is_migration)
        .map((e) => e.relation)
        .sort(),
    ).toEqual(["public.accounts", "public.ledger"]);
    const row = eps.find((e) => e.blocker_pid === 9)!;
    expect(row.mode).toBe("ExclusiveLock (transactionid)");
    expect(row.ended_ms).toBe(600);
    expect(row.phase).toBeNull();
  });

  it("starts a new episode when the same lock blocks again after a gap", () => {
    const o = lockWaitsObserver({});
    o.ingest([wait({})], 100);
    o.ingest([], 200);
    o.ingest([wait({ wait_ms: 0 })], 300);
    o.finish(350);
    const eps = o.result().blocking!;
    expect(eps.map((e) => [e.started_ms, e.ended_ms])).toEqual([
      [90, 200],
      [300, 350],
    ]);
    // No migration pid given: nothing is the migration's.
    expect(eps.every((e) => !e.blocker_is_migration)).toBe(true);
  });

  it("falls back to the waiter's mode when the blocker's is unknown", () => {
    const o = lockWaitsObserver({});
    o.ingest([wait({ blocker_mode: null, mode: "ShareLock" })], 0);
    o.finish(1);
    expect(o.result().blocking![0]!.mode).toBe("ShareLock");
  });
  it("counts distinct load backends, not rows (one waiter listed twice by pg_blocking_pids)", () => {
    const o = lockWaitsObserver({ migrationPid: 7 });
    // Eight load connections, each row duplicated as pg_blocking_pids() may list a blocker twice.
    const rows = [101, 102, 103, 104, 105, 106, 107, 108].flatMap((pid) => [wait({ pid }), wait({ pid })]);
    o.ingest(rows, 1000);
    o.ingest(rows.slice(0, 12), 1100);
    o.finish(1200);
    const [e] = o.result().blocking!;
    expect(e!.max_load_waiters).toBe(8);
    expect(e!.load_waiters).toBe(8);
    expect(e!.max_waiters).toBe(8);
    expect(o.blockedNow).toBe(6);
  });
});
