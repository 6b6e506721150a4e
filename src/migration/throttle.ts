/**
 * How a backfill slows itself down (000): a fixed sleep after each batch, a wait while the replica's lag is
 * above a ceiling (a stale or missing reading counts as unsafe: "a stale lag metric cooks the writer"), and
 * maintenance windows outside which the backfill pauses or refuses to run. Pure apart from the injected Clock
 * and lag source, so every path is testable without waiting.
 */
import type { Throttle } from "../scenario/schema.ts";
import type { Clock } from "../util/clock.ts";

/** Where replica lag comes from (the replica provider implements it). `sampled_at_ms` is on Clock.now()'s scale. */
export interface ReplicaLagSource {
  read(): Promise<{ lag_ms: number; sampled_at_ms: number } | undefined>;
}

/** Time a backfill spent held back, summed over its workers. */
export interface ThrottleStats {
  /** All time spent throttled: sleeps, lag waits, window waits. */
  throttled_ms: number;
  /** Time spent waiting because lag was above the ceiling, or its reading stale or missing. */
  waited_for_lag_ms: number;
  /** Lag readings that were missing or older than `stale_after` (each one waited on). */
  stale_lag_readings: number;
  /** Time spent paused outside the allowed windows. */
  window_wait_ms: number;
}

/** The throttle refused to go on (outside a `refuse` window, no lag source, lag unsafe for too long). */
export class ThrottleRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ThrottleRefusal";
  }
}

/** The run was asked to stop while the throttle waited. */
export class ThrottleStopped extends Error {
  constructor() {
    super("stopped while the backfill was throttled");
    this.name = "ThrottleStopped";
  }
}

export interface ThrottleDeps {
  clock: Clock;
  replicaLag?: ReplicaLagSource;
  /** Checked between waits: a stop request ends a wait with ThrottleStopped. */
  shouldStop?: () => boolean;
  /**
   * Give up when lag has been unsafe (above the ceiling, stale or missing) this long without a break, so a
   * rehearsal whose replica never catches up fails instead of hanging. Default 10 minutes.
   */
  maxLagWaitMs?: number;
  /** Longest single sleep while paused outside a window (default 60 s): the window is re-checked after it. */
  windowChunkMs?: number;
}

/** One backfill's throttle, shared by its workers; each worker calls beforeBatch / afterBatch. */
export interface Throttler {
  beforeBatch(): Promise<void>;
  afterBatch(): Promise<void>;
  readonly stats: ThrottleStats;
}

/** Shortest wait while lag is over the ceiling: a lag a few ms over must not become a busy loop. */
const MIN_LAG_SLEEP_MS = 50;
/** Wait after a stale or missing reading before reading again (capped by max_sleep). */
const STALE_SLEEP_MS = 1000;

export function createThrottle(t: Throttle | undefined, deps: ThrottleDeps): Throttler {
  const stats: ThrottleStats = {
    throttled_ms: 0,
    waited_for_lag_ms: 0,
    stale_lag_readings: 0,
    window_wait_ms: 0,
  };
  const { clock } = deps;
  const nowMs = () => clock.now().getTime();
  const maxLagWait = deps.maxLagWaitMs ?? 600_000;
  const windows = t?.window ? t.window.allowed.map(parseWindow) : undefined;

  const sleep = async (ms: number) => {
    if (deps.shouldStop?.()) throw new ThrottleStopped();
    await clock.sleep(ms);
    stats.throttled_ms += ms;
  };

  async function waitForWindow(): Promise<void> {
    if (!t?.window || !windows) return;
    const { timezone, outside } = t.window;
    for (;;) {
      const now = clock.now();
      const wait = msUntilInsideWindows(now, windows, timezone);
      if (wait === 0) return;
      if (outside === "refuse") {
        throw new ThrottleRefusal(
          `outside the allowed backfill windows ${t.window.allowed.join(", ")} (${timezone}): it is ` +
            `${localTime(now, timezone)} there; the step refuses to run (throttle.window.outside: refuse)`,
        );
      }
      const chunk = Math.min(wait, deps.windowChunkMs ?? 60_000);
      await sleep(chunk);
      stats.window_wait_ms += chunk;
    }
  }

  async function waitForLag(): Promise<void> {
    const rl = t?.replica_lag;
    if (!rl) return;
    const source = deps.replicaLag;
    if (!source) {
      throw new ThrottleRefusal(
        "throttle.replica_lag needs the replica's lag, but this run has no replica lag source",
      );
    }
    let unsafeFor = 0;
    for (;;) {
      const reading = await source.read();
      const now = nowMs();
      let pause: number;
      let why: string;
      if (!reading || now - reading.sampled_at_ms > rl.stale_after) {
        stats.stale_lag_readings++;
        pause = Math.min(rl.max_sleep, STALE_SLEEP_MS);
        why = reading
          ? `the last lag reading is ${Math.round(now - reading.sampled_at_ms)} ms old (stale_after ${rl.stale_after} ms)`
          : "no lag reading is available";
      } else if (reading.lag_ms > rl.max) {
        pause = Math.min(rl.max_sleep, Math.max(MIN_LAG_SLEEP_MS, reading.lag_ms - rl.max));
        why = `replica lag ${Math.round(reading.lag_ms)} ms is above the ceiling ${rl.max} ms`;
      } else {
        return;
      }
      if (unsafeFor >= maxLagWait) {
        throw new ThrottleRefusal(
          `replica lag stayed unsafe for ${Math.round(unsafeFor / 1000)} s (${why}); the backfill gave up`,
        );
      }
      await sleep(pause);
      stats.waited_for_lag_ms += pause;
      unsafeFor += pause;
    }
  }

  return {
    stats,
    async beforeBatch() {
      await waitForWindow();
      await waitForLag();
    },
    async afterBatch() {
      if (t?.sleep) await sleep(t.sleep);
    },
  };
}

/** A window as minutes since local midnight: [start, end), crossing midnight when end ≤ start. */
export interface Window {
  start: number;
  end: number;
}

/** "22:00-06:00" → {start: 1320, end: 360}. The schema has checked the shape. */
export function parseWindow(text: string): Window {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(text);
  if (!m) throw new Error(`not a window: ${text}`);
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) };
}

/** Local wall-clock time in an IANA zone, to the millisecond within the day. */
function localParts(at: Date, timezone: string): { h: number; m: number; s: number; ms: number } {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: timezone,
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { h: get("hour"), m: get("minute"), s: get("second"), ms: at.getUTCMilliseconds() };
}

/** "HH:MM" in the zone, for messages. */
export function localTime(at: Date, timezone: string): string {
  const { h, m } = localParts(at, timezone);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

function inside(minute: number, w: Window): boolean {
  if (w.start === w.end) return true; // "00:00-00:00": the whole day
  return w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end;
}

/**
 * 0 when `at` is inside one of the windows, else the ms until the nearest one opens (by the zone's wall clock
 * now; across a DST change the caller re-checks after sleeping, so a wrong hour only costs an extra check).
 */
export function msUntilInsideWindows(at: Date, windows: Window[], timezone: string): number {
  const p = localParts(at, timezone);
  const minute = p.h * 60 + p.m;
  if (windows.some((w) => inside(minute, w))) return 0;
  const intoMinute = p.s * 1000 + p.ms;
  const minutesAhead = Math.min(...windows.map((w) => (w.start - minute + 1440) % 1440));
  return Math.max(1, minutesAhead * 60_000 - intoMinute);
}
