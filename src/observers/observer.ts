/**
 * Observers watch the clone from the outside while the migration runs under load: who waits on whose lock,
 * how dead tuples pile up, how much WAL is written, how far a replica lags. Each one contributes a scalar
 * SQL expression (returning json) instead of running its own query, so the runner can fold every observer
 * into ONE statement per sample: one round trip, one snapshot, and a sampling cost that does not grow with
 * the number of observers. `sample()` still exists for using an observer on its own.
 */
import type { Queryable } from "../db/sql.ts";
import type { Observations } from "../report/model.ts";

export interface Observer {
  readonly name: string;
  /**
   * A self-contained scalar SQL expression yielding json (a parenthesised subquery), with no parameters:
   * the runner pastes it into `SELECT (<sql>) AS o0, (<sql>) AS o1, …`.
   */
  readonly sql: string;
  /** Takes the value `sql` produced at `nowMs` (ms since the run's t0). Pure bookkeeping, no I/O. */
  ingest(value: unknown, nowMs: number): void;
  /** Runs `sql` alone and ingests it: one round trip for this observer only. */
  sample(db: Queryable, nowMs: number): Promise<void>;
  /** Closes whatever is still open at `nowMs` (an ongoing episode, a pending series point). */
  finish(nowMs: number): void;
  /** What this observer contributes to the run's Observations. */
  result(): Partial<Observations>;
}

/** The stand-alone `sample()` every observer shares: its expression as a one-column query. */
export async function sampleAlone(observer: Observer, db: Queryable, nowMs: number): Promise<void> {
  const res = await db.query<{ v: unknown }>(`SELECT ${observer.sql} AS v`);
  observer.ingest(res.rows[0]?.v, nowMs);
}

/** json numbers arrive as numbers, bigint/numeric casts as strings: either way a finite number, else 0. */
export function num(v: unknown): number {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
}
