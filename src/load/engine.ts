/**
 * A load engine replays the scenario's `load:` section against the clone while the migration runs (native:
 * native-engine.ts, on this thread or split over worker threads). The harness owns phases: it tells the running load which
 * phase/step is current, and every operation is attributed by its *intended* start time.
 */
import type pg from "pg";
import type { LoadReport } from "../report/model.ts";
import type { Load } from "../scenario/schema.ts";
import type { Logger } from "../util/logger.ts";

export interface LoadContext {
  /** Opens a connection to the clone (application_name is set by the engine). */
  connect: () => Promise<pg.Client>;
  /**
   * The same database as plain settings, which a worker thread can receive: without it (or when it holds
   * something a thread cannot receive, such as a password callback) the load runs on this thread alone.
   */
  connection?: pg.ClientConfig;
  load: Load;
  runId: string;
  /** The run's seed (dataset.seed): the write mix's pick sequence follows from it. Default 1. */
  seed?: number;
  /** performance.now() at the start of the run: all times in the result are ms since it. */
  t0: number;
  /** File the engine appends every acknowledged write's key to, one per line (the ack ledger). */
  ackFile: string;
  logger: Logger;
}

export interface RunningLoad {
  /** The harness entered a phase/step (step null between steps). */
  mark(phase: string, step: string | null): void;
  /**
   * Sets flags in the clone's `_rehearse.flags` table and resolves once the load has seen them (≤ 100 ms).
   * `__writes_paused` is the writers' pause: when it turns on, resolves only after in-flight writes finish.
   */
  setFlags(flags: Record<string, boolean>): Promise<void>;
  /** Why the load stopped early or could not keep up its connections, if it did: the run is inconclusive. */
  failure(): string | undefined;
  /** The last completed second, for a live progress view; cheap (no database round trip). */
  snapshot?(): { writesPerS: number; p99Ms: number; inFlight: number } | undefined;
  /** Stops arrivals, waits for in-flight requests (bounded), and returns the measurements. */
  stop(): Promise<LoadReport>;
}

export interface LoadEngine {
  readonly name: string;
  start(ctx: LoadContext): Promise<RunningLoad>;
}

/** The flag that pauses writers (pause_writes / resume_writes steps). */
export const WRITES_PAUSED_FLAG = "__writes_paused";
