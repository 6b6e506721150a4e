/**
 * The backfill throttle on a fake clock: fixed sleeps, replica-lag waits (including stale and missing
 * readings, 000's "a stale lag metric cooks the writer"), and maintenance windows in a time zone.
 */
import { describe, expect, it } from "vitest";
import {
  createThrottle,
  msUntilInsideWindows,
  parseWindow,
  type ReplicaLagSource,
  ThrottleRefusal,
  ThrottleStopped,
} from "../../src/migration/throttle.ts";
import { Throttle } from "../../src/scenario/schema.ts";
import type { Clock } from "../../src/util/clock.ts";

/** A clock that only moves when slept on, recording every sleep. */
function fakeClock(startIso: string): Clock & { sleeps: number[]; t: number } {
  const c = {
    t: Date.parse(startIso),
    sleeps: [] as number[],
    now: () => new Date(c.t),
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

/** Lag readings in order; each is sampled "now" unless it says how old it is. */
function lagSource(clock: { t: number }, readings: ({ lag: number; ageMs?: number } | undefined)[]) {
  let i = 0;
  const src: ReplicaLagSource & { reads: number } = {
    reads: 0,
    read: async () => {
      src.reads++;
      const r = readings[Math.min(i++, readings.length - 1)];
      return r ? { lag_ms: r.lag, sampled_at_ms: clock.t - (r.ageMs ?? 0) } : undefined;
    },
  };
  return src;
}

const T = (t: unknown) => Throttle.parse(t);

describe("fixed sleep", () => {
  it("sleeps the configured time after each batch and never before", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const th = createThrottle(T({ sleep: "250ms" }), { clock });
    await th.beforeBatch();
    expect(clock.sleeps).toEqual([]);
    await th.afterBatch();
    await th.afterBatch();
    expect(clock.sleeps).toEqual([250, 250]);
    expect(th.stats.throttled_ms).toBe(500);
    expect(th.stats.waited_for_lag_ms).toBe(0);
  });

  it("no throttle: no sleep at all", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const th = createThrottle(undefined, { clock });
    await th.beforeBatch();
    await th.afterBatch();
    expect(clock.sleeps).toEqual([]);
  });
});

describe("replica lag", () => {
  const rl = T({ replica_lag: { max: "1s", max_sleep: "10s", stale_after: "5s" } });

  it("goes at once when lag is at or under the ceiling", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [{ lag: 1000 }]);
    const th = createThrottle(rl, { clock, replicaLag: src });
    await th.beforeBatch();
    expect(clock.sleeps).toEqual([]);
    expect(src.reads).toBe(1);
  });

  it("waits the excess lag (capped at max_sleep) until lag drops under the ceiling", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [{ lag: 30_000 }, { lag: 4000 }, { lag: 1010 }, { lag: 200 }]);
    const th = createThrottle(rl, { clock, replicaLag: src });
    await th.beforeBatch();
    // 29 s excess → capped at 10 s; 3 s excess; 10 ms excess → the 50 ms floor (no busy loop).
    expect(clock.sleeps).toEqual([10_000, 3000, 50]);
    expect(th.stats.waited_for_lag_ms).toBe(13_050);
    expect(th.stats.throttled_ms).toBe(13_050);
    expect(th.stats.stale_lag_readings).toBe(0);
  });

  it("treats a reading older than stale_after as unsafe even when it shows no lag", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [
      { lag: 0, ageMs: 5001 },
      { lag: 0, ageMs: 60_000 },
      { lag: 0, ageMs: 5000 },
    ]);
    const th = createThrottle(rl, { clock, replicaLag: src });
    await th.beforeBatch();
    expect(th.stats.stale_lag_readings).toBe(2);
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(src.reads).toBe(3);
  });

  it("treats a missing reading as unsafe and waits, capped by max_sleep", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [undefined, undefined, { lag: 10 }]);
    const th = createThrottle(T({ replica_lag: { max: "1s", max_sleep: "300ms" } }), {
      clock,
      replicaLag: src,
    });
    await th.beforeBatch();
    expect(clock.sleeps).toEqual([300, 300]);
    expect(th.stats.stale_lag_readings).toBe(2);
  });

  it("gives up with a clear reason when lag stays unsafe too long (no endless hang)", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [{ lag: 99_000 }]);
    const th = createThrottle(rl, { clock, replicaLag: src, maxLagWaitMs: 60_000 });
    await expect(th.beforeBatch()).rejects.toThrow(
      /replica lag stayed unsafe for 60 s \(replica lag 99000 ms is above the ceiling 1000 ms\)/,
    );
    expect(th.stats.waited_for_lag_ms).toBe(60_000);
  });

  it("fails when the step needs replica lag and the run has no source", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const th = createThrottle(rl, { clock });
    const err = await th.beforeBatch().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottleRefusal);
    expect((err as Error).message).toMatch(
      /replica_lag needs the replica's lag, but this run has no replica lag source/,
    );
  });

  it("stops waiting when the run is asked to stop", async () => {
    const clock = fakeClock("2026-03-10T12:00:00Z");
    const src = lagSource(clock, [{ lag: 50_000 }]);
    let stop = false;
    const th = createThrottle(rl, { clock, replicaLag: src, shouldStop: () => stop });
    clock.sleep = async (ms) => {
      clock.sleeps.push(ms);
      clock.t += ms;
      if (clock.sleeps.length === 3) stop = true;
    };
    await expect(th.beforeBatch()).rejects.toBeInstanceOf(ThrottleStopped);
    expect(clock.sleeps).toHaveLength(3);
  });
});

describe("windows", () => {
  it("parses windows, including ones crossing midnight", () => {
    expect(parseWindow("22:00-06:00")).toEqual({ start: 1320, end: 360 });
    expect(parseWindow("01:30-02:45")).toEqual({ start: 90, end: 165 });
  });

  const cases: { name: string; at: string; allowed: string[]; tz: string; wait: number }[] = [
    {
      name: "inside a same-day window",
      at: "2026-03-10T03:00:00Z",
      allowed: ["02:00-04:00"],
      tz: "UTC",
      wait: 0,
    },
    {
      name: "at a window's start (inclusive)",
      at: "2026-03-10T02:00:00Z",
      allowed: ["02:00-04:00"],
      tz: "UTC",
      wait: 0,
    },
    {
      name: "at a window's end (exclusive): next day's opening",
      at: "2026-03-10T04:00:00Z",
      allowed: ["02:00-04:00"],
      tz: "UTC",
      wait: 22 * 3_600_000,
    },
    {
      name: "after midnight inside 22:00-06:00",
      at: "2026-03-10T05:59:00Z",
      allowed: ["22:00-06:00"],
      tz: "UTC",
      wait: 0,
    },
    {
      name: "before midnight inside 22:00-06:00",
      at: "2026-03-10T23:10:00Z",
      allowed: ["22:00-06:00"],
      tz: "UTC",
      wait: 0,
    },
    {
      name: "daytime outside 22:00-06:00 (000's rule)",
      at: "2026-03-10T10:14:30Z",
      allowed: ["22:00-06:00"],
      tz: "UTC",
      wait: 11 * 3_600_000 + 45 * 60_000 + 30_000,
    },
    {
      name: "the nearest of several windows",
      at: "2026-03-10T12:00:00Z",
      allowed: ["22:00-23:00", "13:00-14:00"],
      tz: "UTC",
      wait: 3_600_000,
    },
    {
      // 10:00 UTC is 11:00 in Berlin in March (CET, UTC+1): inside 11:00-12:00 there, outside in UTC.
      name: "a window in Europe/Berlin",
      at: "2026-03-10T10:00:00Z",
      allowed: ["11:00-12:00"],
      tz: "Europe/Berlin",
      wait: 0,
    },
    {
      // 09:30 UTC = 02:30 in Los Angeles (PDT, UTC-7, after 2026-03-08): the window opens at 03:00 there.
      name: "a window in America/Los_Angeles",
      at: "2026-03-10T09:30:00Z",
      allowed: ["03:00-05:00"],
      tz: "America/Los_Angeles",
      wait: 30 * 60_000,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(msUntilInsideWindows(new Date(c.at), c.allowed.map(parseWindow), c.tz)).toBe(c.wait);
    });
  }

  it("pause: sleeps in chunks until the window opens, then goes", async () => {
    const clock = fakeClock("2026-03-10T20:30:00Z");
    const th = createThrottle(T({ window: { allowed: ["22:00-06:00"], outside: "pause" } }), {
      clock,
      windowChunkMs: 60_000,
    });
    await th.beforeBatch();
    expect(new Date(clock.t).toISOString()).toBe("2026-03-10T22:00:00.000Z");
    expect(clock.sleeps.every((ms) => ms <= 60_000)).toBe(true);
    expect(th.stats.window_wait_ms).toBe(90 * 60_000);
    expect(th.stats.throttled_ms).toBe(90 * 60_000);
    // Inside the window now: the next batch goes at once.
    const before = clock.sleeps.length;
    await th.beforeBatch();
    expect(clock.sleeps.length).toBe(before);
  });

  it("refuse: fails naming the windows, the zone and the current time there", async () => {
    const clock = fakeClock("2026-03-10T10:14:00Z");
    const th = createThrottle(
      T({
        window: { allowed: ["22:00-06:00", "12:00-12:30"], timezone: "Europe/Berlin", outside: "refuse" },
      }),
      { clock },
    );
    const err = await th.beforeBatch().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottleRefusal);
    expect((err as Error).message).toBe(
      "outside the allowed backfill windows 22:00-06:00, 12:00-12:30 (Europe/Berlin): it is 11:14 there; " +
        "the step refuses to run (throttle.window.outside: refuse)",
    );
    expect(clock.sleeps).toEqual([]);
  });

  it("window first, then lag: a paused worker reads lag only once the window is open", async () => {
    const clock = fakeClock("2026-03-10T21:59:00Z");
    const src = lagSource(clock, [{ lag: 3000 }, { lag: 0 }]);
    const th = createThrottle(
      T({ window: { allowed: ["22:00-06:00"] }, replica_lag: { max: "2s" }, sleep: "100ms" }),
      { clock, replicaLag: src },
    );
    await th.beforeBatch();
    expect(clock.sleeps).toEqual([60_000, 1000]);
    expect(th.stats).toEqual({
      throttled_ms: 61_000,
      waited_for_lag_ms: 1000,
      stale_lag_readings: 0,
      window_wait_ms: 60_000,
    });
  });
});
