/**
 * The observers' own connection, set up so that watching can never hurt the run: named apart from the load
 * and the migration, with jit off and timeouts that turn a stuck sample into a counted failure, and an error
 * listener so a server that goes away does not kill the process.
 */
import type { Queryable } from "../db/sql.ts";

export const OBSERVER_APPLICATION_NAME = "rehearse-observer";

/** What the runner needs of a connection: a pg.Client fits. */
export interface ObserverConnection extends Queryable {
  end(): Promise<void>;
  on?(event: "error", listener: (err: Error) => void): unknown;
}

/** The statement and lock timeouts of a sample: generous, since the sampling interval can be short. */
export function sampleTimeoutMs(intervalMs: number): number {
  return Math.max(2000, 10 * intervalMs);
}

/** Opens a connection and sets it up for sampling; `onError` hears about a connection that broke while idle. */
export async function openObserverConnection(
  connect: () => Promise<ObserverConnection>,
  intervalMs: number,
  onError: (err: Error) => void,
): Promise<ObserverConnection> {
  const c = await connect();
  // A server that goes away emits 'error' on an idle client: without a listener that kills the process.
  c.on?.("error", onError);
  try {
    // jit off: the combined query's estimates (pg_locks is a function scan) can cross jit_above_cost, and
    // compiling would cost more than the sample. The timeouts turn a stuck sample into a counted failure.
    const timeout = sampleTimeoutMs(intervalMs);
    await c.query(
      `SET application_name = '${OBSERVER_APPLICATION_NAME}'; SET jit = off;
         SET statement_timeout = ${timeout}; SET lock_timeout = ${timeout}`,
    );
  } catch (err) {
    await c.end().catch(() => {});
    throw err;
  }
  return c;
}

/** `p`, or a rejection after `ms`: a dead socket never answers, and statement_timeout cannot help with that. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
