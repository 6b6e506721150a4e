/** A backfill tells the step's own failures from a lost connection (resumed) and the harness's (thrown). */
import type { SqlErrorInfo } from "../../report/model.ts";
import type { ResolvedBackfillStep } from "../../scenario/load.ts";
import { ThrottleRefusal, ThrottleStopped } from "../throttle.ts";

export type PgError = Error & { code?: string; detail?: string; hint?: string; position?: string };

/** A step-level failure, already described for the report. */
export class StepFailure extends Error {
  constructor(readonly info: SqlErrorInfo) {
    super(info.message);
  }
}

export function isServerError(err: unknown): err is PgError {
  const code = (err as PgError | undefined)?.code;
  return err instanceof Error && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * The connection is gone (a terminated backend, a server shutting down or restarting, a broken socket), as
 * opposed to a statement that failed: the worker reconnects and resumes.
 */
export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof StepFailure || err instanceof ThrottleRefusal || err instanceof ThrottleStopped)
    return false;
  if (isServerError(err)) return /^(57P0[123]|08...)$/.test(err.code!);
  const code = (err as NodeJS.ErrnoException).code;
  if (code && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTCONN|EHOSTUNREACH)$/.test(code)) return true;
  return /connection|terminated|not queryable|socket|the database system is/i.test(err.message);
}

/** A bigint from the clone as a number, or a step failure when JavaScript cannot count it exactly. */
export function toInt(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    throw new StepFailure({ message: `${what} ${String(v)} is not an integer JavaScript can count exactly` });
  }
  return n;
}

/** What the step reports for an error that ended it; an error that is not the step's own is rethrown. */
export function failureInfo(err: unknown): SqlErrorInfo {
  if (err instanceof StepFailure) return err.info;
  if (isServerError(err)) {
    return { sqlstate: err.code, message: err.message, detail: err.detail, hint: err.hint };
  }
  throw err;
}

/** Where a failed batch was: which worker of how many, and its key range [lo, hi). */
export interface BatchAt {
  worker: number;
  workers: number;
  lo: number;
  hi: number;
}

/** A batch's SQL error, located in the step and given a hint for the usual causes. */
export function batchError(
  err: PgError,
  b: ResolvedBackfillStep["backfill"],
  stepId: string,
  at: BatchAt,
): SqlErrorInfo {
  let hint = err.hint;
  if (err.code === "23505" && !hint) {
    hint = b.sql
      ? "with custom backfill.sql, on_conflict does not rewrite your SQL: add ON CONFLICT DO NOTHING (or a WHERE NOT EXISTS) to it if the target may already hold rows"
      : "the target already holds some of these rows: set on_conflict: skip if that is expected (dual-write racing the backfill), or find out why";
  }
  if (err.code === "57014" && b.statement_timeout !== undefined && !hint) {
    hint = `a batch took longer than statement_timeout (${b.statement_timeout} ms): lower backfill.batch or raise the timeout`;
  }
  return {
    sqlstate: err.code,
    message: err.message,
    detail: [
      `in ${stepId}: worker ${at.worker + 1} of ${at.workers}, batch [${at.lo}, ${at.hi}) of ${b.source} → ${b.target}`,
      err.detail,
    ]
      .filter(Boolean)
      .join("\n"),
    hint,
  };
}
