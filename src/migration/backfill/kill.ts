/** An armed kill_backfill_worker terminates a worker's backend once, to prove it reconnects and resumes. */
import type { ArmedKill } from "../backfill-faults.ts";

/** A worker with an open connection: its backend, and whether it is inside a batch right now. */
export interface LiveWorker {
  pid: number;
  busy: boolean;
}

export class WorkerKill {
  #fired = false;

  constructor(private readonly armed: ArmedKill | undefined) {}

  /**
   * Called by `worker` after its commit, with the batches committed so far this run. True when it fired:
   * `terminate` has ended the victim's backend.
   */
  async afterCommit(
    batches: number,
    worker: number,
    live: Map<number, LiveWorker>,
    terminate: (pid: number) => Promise<unknown>,
  ): Promise<boolean> {
    if (!this.armed || this.#fired || batches < this.armed.afterBatches) return false;
    this.#fired = true;
    // Prefer another worker, caught mid-batch; with one worker, the worker itself between batches.
    const others = [...live.entries()].filter(([w]) => w !== worker);
    const victim = others.find(([, s]) => s.busy) ?? others[0] ?? [worker, live.get(worker)!];
    await terminate(victim[1].pid);
    return true;
  }
}
