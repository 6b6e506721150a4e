/**
 * `fault: kill_backfill_worker` arms the next backfill step: after `after_batches` committed batches (over all
 * its workers) the backfill terminates one worker's backend from another connection, and must reconnect and
 * resume that worker from its committed state. This object carries the arming from the fault step to the
 * backfill step that consumes it.
 */
export interface ArmedKill {
  afterBatches: number;
}

export class BackfillFaults {
  #armed: ArmedKill | undefined;

  /** Arms a worker kill for the next backfill step (a second arming replaces the first). */
  arm(afterBatches: number): void {
    this.#armed = { afterBatches };
  }

  /** The armed kill, if any; taking it disarms it, so it fires in one backfill only. */
  take(): ArmedKill | undefined {
    const a = this.#armed;
    this.#armed = undefined;
    return a;
  }

  /** Whether a kill is armed and no backfill has taken it yet. */
  get pending(): boolean {
    return this.#armed !== undefined;
  }
}
