/** The workers run side by side: commits pace progress and the fault hook, the first failure stops all. */
import type { SqlErrorInfo } from "../../report/model.ts";
import type { Coordinator } from "./connect.ts";
import { StepFailure } from "./errors.ts";
import type { ArmedKill } from "../backfill-faults.ts";
import { WorkerKill } from "./kill.ts";
import { type BackfillProgress, ProgressPacer } from "./progress.ts";
import { keysIn, type Range, STATE_SCHEMA, STATE_TABLE } from "./state.ts";
import { runWorker, type WorkerBoard, type WorkerDeps } from "./worker.ts";
import { ThrottleRefusal, ThrottleStopped } from "../throttle.ts";

export interface CrewDeps extends Omit<WorkerDeps, "workers" | "afterCommit"> {
  coord: Coordinator;
  /** When the step started, in Clock ms. */
  t0: number;
  kill: ArmedKill | undefined;
  onProgress?: (p: BackfillProgress) => void;
}

/** Runs one worker per range until each is done, stopped or failed; what they did is left on `deps.board`. */
export async function runCrew(ranges: Range[], deps: CrewDeps): Promise<PromiseSettledResult<void>[]> {
  const { board, clock, coord } = deps;
  const kill = new WorkerKill(deps.kill);
  const pacer = new ProgressPacer(deps.key.stepId, ranges, deps.t0, deps.onProgress, clock.now().getTime());
  const afterCommit = async (worker: number): Promise<void> => {
    pacer.afterCommit(clock.now().getTime(), board.rows);
    const terminate = (pid: number) => coord.query("SELECT pg_terminate_backend($1, 5000)", [pid]);
    if (await kill.afterCommit(board.batches, worker, board.live, terminate)) board.faultsInjected++;
  };
  const workerDeps: WorkerDeps = { ...deps, workers: ranges.length, afterCommit };
  return Promise.allSettled(
    ranges.map((r) =>
      runWorker(r, workerDeps).catch((err: unknown) => {
        if (err instanceof StepFailure && !board.failedWith) board.failedWith = err;
        if (err instanceof ThrottleRefusal && !board.failedWith)
          board.failedWith = new StepFailure({ message: err.message });
        if (err instanceof ThrottleStopped) board.stopped = true;
        throw err;
      }),
    ),
  );
}

/**
 * How the workers' run ended for the step: its first failure, a stop part-way, or success (undefined). A
 * rejection that is neither the step's failure nor a stop is rethrown.
 */
export function crewVerdict(
  board: WorkerBoard,
  ranges: Range[],
  outcomes: PromiseSettledResult<void>[],
): SqlErrorInfo | undefined {
  if (board.failedWith) return board.failedWith.info;
  const unexpected = outcomes.find(
    (o): o is PromiseRejectedResult => o.status === "rejected" && !(o.reason instanceof ThrottleStopped),
  );
  if (unexpected) throw unexpected.reason;
  if (board.stopped) {
    const keysTotal = keysIn(ranges);
    const left = ranges.reduce((n, r) => n + Math.max(0, r.to - r.next), 0);
    return {
      message: `stopped before the backfill finished: ${keysTotal - left} of ${keysTotal} keys done`,
      detail: `progress is kept in ${STATE_SCHEMA}.${STATE_TABLE}; running the step again continues where it stopped`,
    };
  }
  return undefined;
}
