/**
 * Runs the observers on one dedicated connection (application_name 'rehearse-observer', so it is never
 * mistaken for the load or the migration), every `intervalMs`, with every observer's expression folded into
 * ONE prepared statement: one round trip and one plan for the whole run.
 *
 * Samples never overlap: the next one is scheduled (setTimeout) only after the previous one returned, at
 * the interval's cadence minus the time the sample took. A database too busy to answer within the interval
 * therefore slows the sampling down instead of piling queries onto it.
 *
 * Sampling that fails three times in a row means the connection is gone (or the server is): the runner
 * reconnects once and carries on; if that fails, or it happens again, it stops and sets `failure`, which
 * makes the run inconclusive — a rehearsal whose locks nobody watched cannot claim the load was not blocked.
 */
import { performance } from "node:perf_hooks";
import type { Queryable } from "../db/sql.ts";
import type { Observations } from "../report/model.ts";
import { lockWaitsObserver } from "./lock-waits.ts";
import type { Observer } from "./observer.ts";
import { replicationObserver } from "./replication.ts";
import { tableStatsObserver } from "./table-stats.ts";
import { walObserver } from "./wal.ts";

export const OBSERVER_APPLICATION_NAME = "rehearse-observer";

/** Consecutive failed samples after which the connection counts as lost. */
export const MAX_FAILED_SAMPLES = 3;

/** What the runner needs of a connection: a pg.Client fits. */
export interface ObserverConnection extends Queryable {
  end(): Promise<void>;
  on?(event: "error", listener: (err: Error) => void): unknown;
}

export interface ObserversOptions {
  /** Opens a new connection to the clone; the runner sets its application_name and owns (ends) it. */
  connect: () => Promise<ObserverConnection>;
  /** performance.now() at the start of the run: every time in the result is ms since it. */
  t0: number;
  /** The migration's backend pid: episodes it blocks are marked blocker_is_migration. */
  migrationPid?: number | (() => number | undefined);
  /** The phase/step running now (stamped on blocking episodes). */
  current?: () => { phase: string | null; step: string | null };
  intervalMs?: number;
  /** Replaces the default observers (lock waits, table stats, WAL, replication). */
  observers?: Observer[];
}

/** What sampling cost, measured client-side around each combined query (round trip included). */
export interface SamplingStats {
  samples: number;
  failed: number;
  reconnects: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

export interface RunningObservers {
  /** Stops sampling, takes a last sample, closes open episodes, ends the connection. Call once. */
  stop(): Promise<Observations>;
  /** Set once sampling has died; the run is inconclusive. */
  failure(): string | undefined;
  stats(): SamplingStats;
  /** What the latest sample saw, for the live progress view (blocked: load requests waiting on a lock). */
  live(): { blocked: number | undefined };
  /**
   * A planned outage (a server restart): sampling pauses while `during` runs, then a fresh connection is
   * opened and sampling resumes. Failures inside the window are not counted against the connection.
   */
  interrupt<T>(during: () => Promise<T>): Promise<T>;
}

/** After a planned outage: tries to reopen this often, this many times, before the observers give up. */
const REOPEN_ATTEMPTS = 20;
const REOPEN_DELAY_MS = 250;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Connects, takes a first sample (so an incompatible query fails here, loudly), then samples in the background. */
export async function startObservers(opts: ObserversOptions): Promise<RunningObservers> {
  const interval = opts.intervalMs ?? 100;
  const lockWaits = lockWaitsObserver({ migrationPid: opts.migrationPid, current: opts.current });
  const observers = opts.observers ?? [lockWaits, tableStatsObserver(), walObserver(), replicationObserver()];
  const query = {
    name: "rehearse_observe",
    text: `SELECT ${observers.map((o, i) => `${o.sql} AS o${i}`).join(",\n")}`,
  };
  const now = () => performance.now() - opts.t0;

  let lastConnectionError: string | undefined;
  const open = async (): Promise<ObserverConnection> => {
    const c = await opts.connect();
    // A server that goes away emits 'error' on an idle client: without a listener that kills the process.
    c.on?.("error", (err) => {
      lastConnectionError = err.message;
    });
    try {
      // jit off: the combined query's estimates (pg_locks is a function scan) can cross jit_above_cost, and
      // compiling would cost more than the sample. The timeouts turn a stuck sample into a counted failure.
      const timeout = Math.max(2000, 10 * interval);
      await c.query(
        `SET application_name = '${OBSERVER_APPLICATION_NAME}'; SET jit = off;
         SET statement_timeout = ${timeout}; SET lock_timeout = ${timeout}`,
      );
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    return c;
  };

  let conn = await open();
  // statement_timeout bounds a slow query; this bounds a dead socket, where no answer ever comes. The query
  // left behind keeps the connection busy, so the next samples time out too and the streak reconnects.
  const answerWithin = Math.max(2000, 10 * interval) + 1000;
  let samples = 0;
  let failed = 0;
  let streak = 0;
  let reconnects = 0;
  let failure: string | undefined;
  const durations: number[] = [];

  const sampleOnce = async (): Promise<void> => {
    const nowMs = now();
    const started = performance.now();
    const res = await withTimeout(conn.query<Record<string, unknown>>(query), answerWithin);
    durations.push(performance.now() - started);
    const row = res.rows[0] ?? {};
    observers.forEach((o, i) => o.ingest(row[`o${i}`], nowMs));
    samples++;
  };

  try {
    await sampleOnce();
  } catch (err) {
    await conn.end().catch(() => {});
    throw new Error(`the observers' first sample failed: ${errorMessage(err)}`, { cause: err });
  }

  /** A failed sample: count it; on the third in a row reconnect (once per run), else give up. */
  const onFailure = async (err: unknown) => {
    failed++;
    streak++;
    if (streak < MAX_FAILED_SAMPLES) return;
    const why = lastConnectionError ?? errorMessage(err);
    if (reconnects > 0) {
      failure = `observer sampling failed ${streak} times in a row after a reconnect: ${why}`;
      return;
    }
    reconnects++;
    await conn.end().catch(() => {});
    try {
      conn = await open();
      streak = 0;
      lastConnectionError = undefined;
    } catch (e) {
      failure = `observer sampling failed ${streak} times in a row and reconnecting failed: ${errorMessage(e)} (after: ${why})`;
    }
  };

  let stopping = false;
  let paused = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> | undefined;

  const tick = () => {
    timer = undefined;
    if (stopping || failure || paused) return;
    const started = performance.now();
    inflight = sampleOnce()
      .then(() => {
        streak = 0;
      }, onFailure)
      .finally(() => {
        inflight = undefined;
        if (stopping || failure || paused) return;
        timer = setTimeout(tick, Math.max(0, interval - (performance.now() - started)));
        // The observers must never be what keeps the process alive.
        timer.unref();
      });
  };
  timer = setTimeout(tick, interval);
  timer.unref();

  const stats = (): SamplingStats => {
    const sorted = [...durations].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      samples,
      failed,
      reconnects,
      mean_ms: r(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
      p50_ms: r(pick(0.5)),
      p95_ms: r(pick(0.95)),
      max_ms: r(sorted[sorted.length - 1] ?? 0),
    };
  };

  const interrupt = async <T>(during: () => Promise<T>): Promise<T> => {
    paused = true;
    await inflight;
    if (timer) clearTimeout(timer);
    timer = undefined;
    try {
      return await during();
    } finally {
      await conn.end().catch(() => {});
      let lastError: unknown;
      for (let attempt = 0; attempt < REOPEN_ATTEMPTS && !stopping; attempt++) {
        try {
          conn = await open();
          lastError = undefined;
          break;
        } catch (err) {
          lastError = err;
          await new Promise((r) => setTimeout(r, REOPEN_DELAY_MS));
        }
      }
      if (lastError !== undefined)
        failure ??= `the observers could not reconnect after a planned outage: ${errorMessage(lastError)}`;
      streak = 0;
      lastConnectionError = undefined;
      paused = false;
      if (!stopping && !failure) {
        timer = setTimeout(tick, 0);
        timer.unref();
      }
    }
  };

  let stopped: Promise<Observations> | undefined;
  const stop = async (): Promise<Observations> => {
    stopping = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    await inflight;
    // A last look, so episodes still open and the latest counters end at the stop, not an interval earlier.
    if (!failure) await sampleOnce().catch(() => {});
    const end = now();
    for (const o of observers) o.finish(end);
    await conn.end().catch(() => {});
    const parts = observers.map((o) => o.result());
    const pick = <K extends "blocking" | "tables" | "wal" | "replication_lag">(k: K): Observations[K] =>
      parts.flatMap((p) => (p[k] ?? []) as Observations[K][number][]) as Observations[K];
    return {
      interval_ms: interval,
      samples,
      blocking: pick("blocking"),
      tables: pick("tables"),
      wal: pick("wal"),
      replication_lag: pick("replication_lag"),
      ...(failure ? { failure } : {}),
    };
  };

  return {
    stop: () => (stopped ??= stop()),
    failure: () => failure,
    stats,
    live: () => ({ blocked: opts.observers ? undefined : lockWaits.blockedNow }),
    interrupt,
  };
}
