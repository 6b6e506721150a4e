/** One worker: a transaction per batch with its progress; on a lost connection it reconnects and resumes. */
import type pg from "pg";
import type { ResolvedBackfillStep } from "../../scenario/load.ts";
import type { Clock } from "../../util/clock.ts";
import { backendPid, backoff, type Connect, type Reconnect } from "./connect.ts";
import { batchError, isConnectionLoss, isServerError, StepFailure } from "./errors.ts";
import type { LiveWorker } from "./kill.ts";
import type { BatchStatement } from "./plan.ts";
import { committedNext, type Range, recordBatch, STATE_SCHEMA, STATE_TABLE, type StateKey } from "./state.ts";
import type { Throttler } from "../throttle.ts";

/** What the workers of one step share while they run side by side. */
export class WorkerBoard {
  /** Workers with an open connection, by worker index. */
  readonly live = new Map<number, LiveWorker>();
  /** The first failure of the step: every worker stops before its next batch. */
  failedWith: StepFailure | undefined;
  /** A stop was asked for: the workers left their state to be resumed. */
  stopped = false;
  /** Rows and batches committed by this run, as the workers saw them. */
  rows = 0;
  batches = 0;
  restarts = 0;
  faultsInjected = 0;
}

export interface WorkerDeps {
  b: ResolvedBackfillStep["backfill"];
  key: StateKey;
  /** How many workers the step has, for error messages. */
  workers: number;
  statement: BatchStatement;
  connect: Connect;
  throttle: Throttler;
  clock: Clock;
  retry: Reconnect;
  board: WorkerBoard;
  shouldStop?: () => boolean;
  /** Runs after each committed batch, on the worker's own time: a rejection counts as the worker's. */
  afterCommit: (worker: number) => Promise<void>;
}

/** Runs worker `r.worker` over its range; `r.next` follows its committed progress. */
export async function runWorker(r: Range, deps: WorkerDeps): Promise<void> {
  const { board, retry } = deps;
  let client: pg.Client | undefined;
  let failures = 0;
  try {
    for (;;) {
      try {
        if (!client) {
          client = await deps.connect(`worker ${r.worker + 1}`);
          board.live.set(r.worker, { pid: backendPid(client), busy: false });
        }
        r.next = await committedNext(client, deps.key, r.worker);
        failures = 0;
        await copyRange(client, r, deps);
        return;
      } catch (err) {
        if (!isConnectionLoss(err)) throw err;
        if (client) {
          // A connection that worked is lost: one restart, resumed from the committed state.
          board.restarts++;
          board.live.delete(r.worker);
          await client.end().catch(() => {});
          client = undefined;
        }
        failures++;
        if (failures > retry.attempts) {
          throw new StepFailure({
            message: `backfill worker ${r.worker + 1} lost its connection and could not reconnect after ${retry.attempts} attempts: ${(err as Error).message}`,
            detail: `its committed progress is kept in ${STATE_SCHEMA}.${STATE_TABLE}; running the step again continues from key ${r.next}`,
          });
        }
        await deps.clock.sleep(backoff(retry, failures));
      }
    }
  } finally {
    board.live.delete(r.worker);
    await client?.end().catch(() => {});
  }
}

/** Copies batch after batch from `r.next` to the end of the range, unless the step fails or is stopped. */
async function copyRange(client: pg.Client, r: Range, deps: WorkerDeps): Promise<void> {
  const { board, throttle } = deps;
  while (r.next < r.to) {
    if (board.failedWith) return;
    if (deps.shouldStop?.()) {
      board.stopped = true;
      return;
    }
    await throttle.beforeBatch();
    const lo = r.next;
    const hi = Math.min(lo + deps.b.batch, r.to);
    const n = await copyBatch(client, r.worker, lo, hi, deps);
    r.next = hi;
    board.rows += n;
    board.batches++;
    await deps.afterCommit(r.worker);
    if (r.next < r.to) await throttle.afterBatch();
  }
}

/** One batch [lo, hi) and its progress in one transaction; returns the rows it wrote. */
async function copyBatch(
  client: pg.Client,
  worker: number,
  lo: number,
  hi: number,
  deps: WorkerDeps,
): Promise<number> {
  const me = deps.board.live.get(worker)!;
  me.busy = true;
  let n: number;
  await client.query("BEGIN");
  try {
    n = (await client.query(deps.statement.sql, deps.statement.paramsOf(lo, hi))).rowCount ?? 0;
    await recordBatch(client, deps.key, worker, hi, n);
    await client.query("COMMIT");
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    await client.query("ROLLBACK").catch(() => {});
    if (!isServerError(err)) throw err;
    throw new StepFailure(
      batchError(err, deps.b, deps.key.stepId, { worker, workers: deps.workers, lo, hi }),
    );
  } finally {
    me.busy = false;
  }
  return n;
}
