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
import type { Observations } from "../report/model.ts";
import { lockWaitsObserver } from "./lock-waits.ts";
import type { Observer } from "./observer.ts";
import type { ObserverConnection } from "./observer-connection.ts";
import { replicationObserver } from "./replication.ts";
import { SamplingLoop, type SamplingStats } from "./sampling-loop.ts";
import { tableStatsObserver } from "./table-stats.ts";
import { walObserver } from "./wal.ts";

export { OBSERVER_APPLICATION_NAME, type ObserverConnection } from "./observer-connection.ts";
export { MAX_FAILED_SAMPLES, type SamplingStats } from "./sampling-loop.ts";

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

/** Connects, takes a first sample (so an incompatible query fails here, loudly), then samples in the background. */
export async function startObservers(opts: ObserversOptions): Promise<RunningObservers> {
  const interval = opts.intervalMs ?? 100;
  const lockWaits = lockWaitsObserver({ migrationPid: opts.migrationPid, current: opts.current });
  const observers = opts.observers ?? [lockWaits, tableStatsObserver(), walObserver(), replicationObserver()];
  const now = () => performance.now() - opts.t0;
  const loop = await SamplingLoop.start({ connect: opts.connect, observers, intervalMs: interval, now });

  const stop = async (): Promise<Observations> => {
    await loop.stop();
    // Episodes still open and series points still pending end at the stop.
    const end = now();
    for (const o of observers) o.finish(end);
    await loop.close();
    return observations(observers, interval, loop.samples, loop.failure);
  };
  let stopped: Promise<Observations> | undefined;
  return {
    stop: () => (stopped ??= stop()),
    failure: () => loop.failure,
    stats: () => loop.stats(),
    live: () => ({ blocked: opts.observers ? undefined : lockWaits.blockedNow }),
    interrupt: (during) => loop.interrupt(during),
  };
}

/** Every observer's contribution, merged into the run's Observations. */
function observations(
  observers: Observer[],
  interval: number,
  samples: number,
  failure: string | undefined,
): Observations {
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
}
