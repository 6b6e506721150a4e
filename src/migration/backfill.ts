/**
 * The backfill engine (000, 002): copies — or, with custom SQL, moves — rows from `source` to `target` in
 * key-range batches [lo, lo + batch), by N workers over disjoint ranges, each batch one statement in its own
 * transaction. Progress lives in the clone (`_rehearse.backfill_state`) and is updated in the same transaction
 * as the batch, so a worker killed at any instant — or a whole run stopped — resumes with no duplicate and no
 * gap. A worker whose connection dies is reconnected (bounded, with backoff) and resumes from its committed
 * state. Never throws for the step's own failures: those come back as an `error` result; a rejection means
 * the harness itself could not work (the clone is unreachable).
 *
 * The parts, under backfill/, in the order a step uses them: connect (connections, the coordinator), state
 * (the progress table), plan (the batch statement, the workers' ranges), crew (the workers together, how
 * they ended; with progress and the fault hook kill), worker (one worker's batches and reconnects), report
 * (the step's result); errors tells the kinds of failure apart.
 */
import type pg from "pg";
import type { ResolvedBackfillStep } from "../scenario/load.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { connector, Coordinator, DEFAULT_RECONNECT, type Reconnect } from "./backfill/connect.ts";
import { crewVerdict, runCrew } from "./backfill/crew.ts";
import { failureInfo } from "./backfill/errors.ts";
import type { BackfillFaults } from "./backfill-faults.ts";
import { planWorkerRanges, resolveBatchStatement } from "./backfill/plan.ts";
import type { BackfillProgress } from "./backfill/progress.ts";
import { type BackfillResult, emptyFacts, stepResult } from "./backfill/report.ts";
import { ensureStateTable, type StateKey, totals } from "./backfill/state.ts";
import { WorkerBoard } from "./backfill/worker.ts";
import { createThrottle, type ReplicaLagSource } from "./throttle.ts";

export { isConnectionLoss } from "./backfill/errors.ts";
export { splitRange } from "./backfill/plan.ts";
export type { BackfillProgress } from "./backfill/progress.ts";
export type { BackfillResult } from "./backfill/report.ts";
export { STATE_SCHEMA, STATE_TABLE } from "./backfill/state.ts";

export interface BackfillOptions {
  /** How to open connections to the clone: one per worker, plus one to coordinate. */
  connectionConfig: pg.ClientConfig;
  clock?: Clock;
  /** Needed by `throttle.replica_lag`; without it such a step fails. */
  replicaLag?: ReplicaLagSource;
  /** Where a `kill_backfill_worker` fault step left its arming. */
  faults?: BackfillFaults;
  onProgress?: (p: BackfillProgress) => void;
  /** Checked before each batch: the workers stop (their state kept) and the step ends in error. */
  shouldStop?: () => boolean;
  /** Reconnection of a worker whose connection died; default 8 attempts, 100 ms doubling to 2 s. */
  reconnect?: Reconnect;
  /** Where a path of scenario.yaml is (file, line), for located errors. */
  locate?: (at: (string | number)[]) => { file?: string; line?: number; column?: number };
  /** Lag waits give up after this long unsafe (see ThrottleDeps.maxLagWaitMs). */
  maxLagWaitMs?: number;
}

/** Runs one backfill step to completion (or to its first failure). */
export async function runBackfillStep(
  step: ResolvedBackfillStep,
  opts: BackfillOptions,
): Promise<BackfillResult> {
  const b = step.backfill;
  const clock = opts.clock ?? systemClock;
  const key: StateKey = { section: step.section, stepId: `${step.phase}/${step.name}` };
  const retry = opts.reconnect ?? DEFAULT_RECONNECT;
  const where = opts.locate?.([...step.at, "backfill", ...(b.sql ? ["sql"] : [])]) ?? {};
  const t0 = clock.now().getTime();
  const connect = connector(opts.connectionConfig, b.statement_timeout);
  const board = new WorkerBoard();
  const throttle = createThrottle(b.throttle, {
    clock,
    replicaLag: opts.replicaLag,
    shouldStop: () => board.failedWith !== undefined || (opts.shouldStop?.() ?? false),
    maxLagWaitMs: opts.maxLagWaitMs,
  });
  const facts = emptyFacts(b);
  // The step's duration ends when its result is made, before the coordinator closes.
  const end = (shownSql: string) => ({
    b,
    where,
    facts,
    throttle: throttle.stats,
    ms: clock.now().getTime() - t0,
    shownSql,
  });

  // Without a coordinator connection nothing can be said about the step: the clone is unreachable.
  const coord = await Coordinator.open(connect, clock, retry);
  let shownSql = b.sql ?? "";
  try {
    await ensureStateTable(coord.client);
    const statement = await resolveBatchStatement(coord.client, b);
    shownSql = statement.shown;
    const { ranges, initial } = await planWorkerRanges(coord, b, key);
    facts.resumed_rows = initial.rows;
    facts.workers = ranges.length;
    if (ranges.length > 0) {
      facts.key_from = Math.min(...ranges.map((r) => r.from));
      facts.key_to = Math.max(...ranges.map((r) => r.to));
    }

    const outcomes = await runCrew(ranges, {
      b,
      key,
      statement,
      connect,
      throttle,
      clock,
      retry,
      board,
      coord,
      t0,
      // Taken only once the plan stands: a step that could not plan leaves the kill armed.
      kill: opts.faults?.take(),
      shouldStop: opts.shouldStop,
      onProgress: opts.onProgress,
    });
    facts.restarts = board.restarts;
    facts.faults_injected = board.faultsInjected;

    // The committed truth, read back: a batch whose COMMIT was cut off mid-reply is counted if it landed.
    const final = await totals(coord, key);
    facts.rows = final.rows - initial.rows;
    facts.batches = final.batches - initial.batches;
    const verdict = crewVerdict(board, ranges, outcomes);
    return stepResult(end(shownSql), verdict);
  } catch (err) {
    const error = failureInfo(err);
    return stepResult(end(shownSql), error);
  } finally {
    await coord.end();
  }
}
