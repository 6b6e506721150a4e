/**
 * Runs migration (or rollback) steps in order on one connection, tracing locks, and never throws: each step
 * ends success / error / not_executed and keeps its error located in the scenario's files. Only a harness
 * failure (the clone went away, the tracer's own query failed) is returned as `harnessError`.
 */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type {
  LockHold,
  LockWait,
  PhaseResult,
  SqlErrorInfo,
  StatementEffect,
  StatementResult,
  StepResult,
} from "../report/model.ts";
import type {
  ResolvedBackfillStep,
  ResolvedControlStep,
  ResolvedFaultStep,
  ResolvedSqlStep,
  ResolvedStep,
} from "../scenario/load.ts";
import { caretExcerpt, lineCol, type SqlStatement } from "../scenario/sql.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { diffSamples, type HeldLock, sample, strongest, type TraceSample } from "./lock-tracer.ts";
import { lockKey, type StatementWatch, watchStatement } from "./lock-wait-watch.ts";

export interface RunnerOptions {
  /** The migration's connection. */
  db: pg.Client;
  /** A second connection, used to sample locks while a statement runs outside a transaction. */
  monitor: pg.Client;
  /** performance.now() at the start of the run: every time in the report is relative to it. */
  t0: number;
  /** Oids of tables marked hot, resolved before the migration so renames keep them hot. */
  hotOids: Set<number>;
  clock?: Clock;
  onStep?: (event: { phase: string; step: string; status: "start" | StepResult["status"] }) => void;
  /** Awaited just before each step starts (the background sessions due at it are started there). */
  beforeStep?: (phase: string, step: string) => Promise<void>;
  /** Checked between statements; when it returns true the run stops and the rest is not_executed. */
  shouldStop?: () => boolean;
  /** Told how many table locks the migration holds after each statement (0 once they are released). */
  onLocksHeld?: (count: number) => void;
  /** Carries out a step that talks to the load (flags, pause/resume writes); rejects with the reason. */
  control?: (step: ResolvedControlStep) => Promise<void>;
  /**
   * Carries out a backfill step (src/migration/backfill.ts) and returns its result; a rejection is a harness
   * failure. Without it a backfill step fails with that reason.
   */
  backfill?: (step: ResolvedBackfillStep) => Promise<Omit<StepResult, keyof StepIdentity>>;
  /**
   * Carries out (or arms) a fault step; rejects with the reason it could not. A fault that kills the
   * runner's connections (restart_server) resolves with fresh ones, used for every later step.
   */
  fault?: (step: ResolvedFaultStep) => Promise<void | RunnerConnections>;
}

/** The runner's two connections, replaced together after a fault took the server down. */
export type RunnerConnections = Pick<RunnerOptions, "db" | "monitor">;

type StepIdentity = Pick<StepResult, "section" | "phase" | "name">;

export interface RunnerResult {
  steps: StepResult[];
  phases: PhaseResult[];
  locks: LockHold[];
  /** Time the migration's backend waited for relation locks (not part of the holds in `locks`). */
  waits: LockWait[];
  effects: StatementEffect[];
  /** A failure of the harness, not of the migration: the run is inconclusive. */
  harnessError?: string;
}

const LOCK_NOT_AVAILABLE = "55P03";

class HarnessError extends Error {}

type PgError = Error & {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  internalQuery?: string;
};

function isServerError(err: unknown): err is PgError {
  return (
    err instanceof Error && typeof (err as PgError).code === "string" && (err as PgError).code!.length === 5
  );
}

/**
 * The session ended under the statement (terminated, the server crashed or shut down): the statement did
 * not fail, the clone went away, and a rehearsal that lost its clone has no verdict on the migration.
 */
function isConnectionLoss(err: PgError): boolean {
  return err.code!.startsWith("57P") || err.code!.startsWith("08");
}

function shorten(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}

/** Locates a server error inside the scenario file that holds the statement. */
export function locateError(
  err: PgError,
  step: ResolvedSqlStep,
  stmt: SqlStatement | undefined,
): SqlErrorInfo {
  const info: SqlErrorInfo = {
    sqlstate: err.code,
    message: err.message,
    detail: [err.detail, err.where].filter(Boolean).join("\n") || undefined,
    hint: err.hint,
    file: step.sqlText.file,
    line: stmt?.line,
  };
  if (stmt && err.position) {
    const pos = stmt.offset + Number(err.position) - 1;
    const { line, column } = lineCol(step.sqlText.text, pos);
    info.line = line + step.sqlText.firstLine - 1;
    info.column = column;
    info.excerpt = caretExcerpt(step.sqlText.text, line, column);
  } else if (stmt) {
    const { line } = lineCol(step.sqlText.text, stmt.offset);
    info.excerpt = step.sqlText.text.split("\n")[line - 1];
  }
  return info;
}

/** Runs steps grouped by phase. */
export async function runPhases(
  phases: { name: string; steps: ResolvedStep[] }[],
  opts: RunnerOptions,
): Promise<RunnerResult> {
  const clock = opts.clock ?? systemClock;
  // Replaced by a fault step that hands back fresh connections.
  let o = opts;
  const result: RunnerResult = { steps: [], phases: [], locks: [], waits: [], effects: [] };
  const now = () => performance.now() - opts.t0;
  let failed = false;

  for (const phase of phases) {
    const section = phase.steps[0]?.section ?? "migration";
    if (failed) {
      result.phases.push({ section, name: phase.name, status: "not_executed" });
      for (const step of phase.steps) result.steps.push(notExecuted(step));
      continue;
    }
    const pStart = now();
    let phaseStatus: PhaseResult["status"] = "success";
    for (const step of phase.steps) {
      if (failed || opts.shouldStop?.()) {
        failed = true;
        result.steps.push(notExecuted(step));
        continue;
      }
      await opts.beforeStep?.(phase.name, step.name);
      opts.onStep?.({ phase: phase.name, step: step.name, status: "start" });
      let sr: StepResult;
      try {
        if (step.kind === "fault") {
          const out = await runFault(step, o, now);
          sr = out.result;
          if (out.connections) o = { ...o, ...out.connections };
        } else {
          sr =
            step.kind === "sql"
              ? await runStep(step, o, result, now, clock)
              : step.kind === "backfill"
                ? await runBackfill(step, o, now)
                : await runControl(step, o, now);
        }
      } catch (err) {
        // Only HarnessError or a broken connection reach here.
        result.harnessError =
          err instanceof HarnessError
            ? `while running step ${phase.name}/${step.name}: ${err.message}`
            : `lost the connection to the clone while running step ${phase.name}/${step.name}: ${(err as Error).message}`;
        sr = { ...notExecuted(step), status: "error", error: { message: (err as Error).message } };
      }
      result.steps.push(sr);
      opts.onStep?.({ phase: phase.name, step: step.name, status: sr.status });
      if (sr.status !== "success") {
        failed = true;
        phaseStatus = "error";
      }
    }
    result.phases.push({
      section,
      name: phase.name,
      status: phaseStatus,
      started_ms: pStart,
      duration_ms: now() - pStart,
    });
    if (result.harnessError) failed = true;
  }
  return result;
}

async function runBackfill(
  step: ResolvedBackfillStep,
  opts: RunnerOptions,
  now: () => number,
): Promise<StepResult> {
  const started = now();
  const identity = { section: step.section, phase: step.phase, name: step.name };
  if (!opts.backfill) {
    return {
      ...notExecuted(step),
      status: "error",
      started_ms: started,
      duration_ms: 0,
      error: { message: "backfill steps are not available in this run" },
    };
  }
  const out = await opts.backfill(step);
  return { ...out, ...identity, started_ms: started, duration_ms: now() - started };
}

async function runFault(
  step: ResolvedFaultStep,
  opts: RunnerOptions,
  now: () => number,
): Promise<{ result: StepResult; connections?: RunnerConnections }> {
  const started = now();
  const base = { ...notExecuted(step), fault: step.fault, attempts: 1, started_ms: started };
  if (!opts.fault) {
    return {
      result: {
        ...base,
        status: "error",
        duration_ms: 0,
        error: { message: "fault injection is not available in this run" },
      },
    };
  }
  try {
    const connections = (await opts.fault(step)) ?? undefined;
    return { result: { ...base, status: "success", duration_ms: now() - started }, connections };
  } catch (err) {
    return {
      result: {
        ...base,
        status: "error",
        duration_ms: now() - started,
        error: { message: (err as Error).message },
      },
    };
  }
}

async function runControl(
  step: ResolvedControlStep,
  opts: RunnerOptions,
  now: () => number,
): Promise<StepResult> {
  const started = now();
  const base = { ...notExecuted(step), attempts: 1, started_ms: started };
  if (!opts.control) {
    return {
      ...base,
      status: "error",
      duration_ms: 0,
      error: { message: "this step controls the load, and no load is running" },
    };
  }
  try {
    await opts.control(step);
    return { ...base, status: "success", duration_ms: now() - started };
  } catch (err) {
    return {
      ...base,
      status: "error",
      duration_ms: now() - started,
      error: { message: (err as Error).message },
    };
  }
}

function notExecuted(step: ResolvedStep): StepResult {
  return {
    section: step.section,
    phase: step.phase,
    name: step.name,
    status: "not_executed",
    transaction:
      step.kind === "sql"
        ? (step.transaction ?? !step.sqlText.statements.some((s) => s.nonTransactional))
        : false,
    attempts: 0,
    statements: [],
  };
}

async function runStep(
  step: ResolvedSqlStep,
  opts: RunnerOptions,
  acc: RunnerResult,
  now: () => number,
  clock: Clock,
): Promise<StepResult> {
  const { db } = opts;
  const inTx = step.transaction ?? !step.sqlText.statements.some((s) => s.nonTransactional);
  const maxAttempts = step.retry?.attempts ?? 1;
  const started = now();
  let attempt = 0;
  let backoff = step.retry?.backoff ?? 100;

  await setTimeouts(db, step);
  try {
    for (;;) {
      attempt++;
      const locks: LockHold[] = [];
      const effects: StatementEffect[] = [];
      const waits: LockWait[] = [];
      const statements: StatementResult[] = [];
      const out = inTx
        ? await runInOneTransaction(step, opts, now, statements, locks, effects, waits)
        : await runEachAlone(step, opts, now, statements, locks, effects, waits);
      acc.waits.push(...waits.map((w) => ({ ...w, attempt })));
      const retryable = out.error?.sqlstate === LOCK_NOT_AVAILABLE && attempt < maxAttempts;
      if (!retryable) {
        // Locks and effects of failed attempts are still what production would have lived through.
        acc.locks.push(...locks);
        acc.effects.push(...effects);
        return {
          section: step.section,
          phase: step.phase,
          name: step.name,
          status: out.error ? "error" : "success",
          transaction: inTx,
          attempts: attempt,
          started_ms: started,
          duration_ms: now() - started,
          statements,
          error: out.error,
        };
      }
      acc.locks.push(...locks);
      acc.effects.push(...effects);
      await clock.sleep(backoff);
      backoff = Math.min(backoff * 2, step.retry?.max_backoff ?? 5000);
    }
  } finally {
    await db.query("RESET lock_timeout; RESET statement_timeout");
  }
}

async function setTimeouts(db: pg.Client, step: ResolvedSqlStep): Promise<void> {
  // Values are numbers of ms from the validated scenario, never user text.
  if (step.lock_timeout !== undefined) await db.query(`SET lock_timeout = ${Math.round(step.lock_timeout)}`);
  if (step.statement_timeout !== undefined)
    await db.query(`SET statement_timeout = ${Math.round(step.statement_timeout)}`);
}

interface Outcome {
  error?: SqlErrorInfo;
}

async function traced(db: pg.Client, inTx: boolean): Promise<TraceSample> {
  try {
    return await sample(db, inTx);
  } catch (err) {
    throw new HarnessError(`lock tracer query failed: ${(err as Error).message}`);
  }
}

/**
 * Watches one statement from the monitor connection: the locks it waits for (and who for) and the locks it
 * holds, which also feed the live progress view (the tracer sees them only once the statement returns, and a
 * long rewrite under ACCESS EXCLUSIVE is exactly when a person wants to see them).
 */
function watch(opts: RunnerOptions, now: () => number, heldEveryMs?: number) {
  const pid = (opts.db as unknown as { processID: number }).processID;
  const report = opts.onLocksHeld;
  return watchStatement(
    opts.monitor,
    pid,
    now,
    (held) => report?.(held.filter((l) => l.relkind === "r" || l.relkind === "p").length),
    { heldEveryMs },
  );
}

/** The watch's waits as the report's records; a wait still open when the statement failed is its cause. */
function recordWaits(
  step: ResolvedSqlStep,
  statement: number,
  w: StatementWatch,
  error: SqlErrorInfo | undefined,
  waits: LockWait[],
): void {
  for (const x of w.waits) {
    waits.push({
      section: step.section,
      phase: step.phase,
      step: step.name,
      statement,
      attempt: 1,
      relation: x.lock.relation,
      relation_oid: x.lock.oid,
      relkind: x.lock.relkind,
      mode: x.lock.mode,
      started_ms: x.started_ms,
      ended_ms: x.ended_ms,
      wait_ms: Math.max(0, x.ended_ms - x.started_ms),
      outcome: !x.open || !error ? "granted" : error.sqlstate === LOCK_NOT_AVAILABLE ? "timeout" : "error",
      blockers: x.blockers,
      queued_load_requests: x.queued_load_requests,
      queued_load_max_ms: x.queued_load_max_ms,
    });
  }
}

/** BEGIN; each statement traced; COMMIT — locks are held from the statement that took them to COMMIT. */
async function runInOneTransaction(
  step: ResolvedSqlStep,
  opts: RunnerOptions,
  now: () => number,
  statements: StatementResult[],
  locks: LockHold[],
  effects: StatementEffect[],
  waits: LockWait[],
): Promise<Outcome> {
  const { db } = opts;
  await db.query("BEGIN");
  const firstSeen = new Map<string, { lock: HeldLock; at: number; statement: number; waited?: number }>();
  let before = await traced(db, true);
  let error: SqlErrorInfo | undefined;
  for (const [i, stmt] of step.sqlText.statements.entries()) {
    const s0 = now();
    const watching = watch(opts, now);
    let failure: unknown;
    try {
      await db.query(stmt.sql);
    } catch (err) {
      failure = err;
    }
    const s1 = now();
    const w = await watching.stop(s1, failure !== undefined);
    if (failure !== undefined) {
      if (!isServerError(failure) || isConnectionLoss(failure)) throw failure;
      statements.push(stmtResult(i, stmt, step, s1 - s0, "error"));
      error = locateError(failure, step, stmt);
      recordWaits(step, i, w, error, waits);
      break;
    }
    recordWaits(step, i, w, undefined, waits);
    statements.push(stmtResult(i, stmt, step, s1 - s0, "success"));
    const after = await traced(db, true);
    opts.onLocksHeld?.(after.locks.filter((l) => l.relkind === "r" || l.relkind === "p").length);
    for (const l of after.locks) {
      const key = lockKey(l);
      if (firstSeen.has(key)) continue;
      // The hold starts when the lock was granted, not when the statement started waiting for it.
      const waited = w.waits.find((x) => lockKey(x.lock) === key);
      firstSeen.set(key, {
        lock: l,
        at: w.acquiredAt(key, s0),
        statement: i,
        waited: waited && Math.round(waited.ended_ms - waited.started_ms),
      });
    }
    recordEffects(step, i, before, after, opts.hotOids, effects);
    before = after;
  }
  const endAt = now();
  if (error) {
    await db.query("ROLLBACK");
  } else {
    try {
      await db.query("COMMIT");
    } catch (err) {
      if (!isServerError(err) || isConnectionLoss(err)) throw err;
      error = locateError(err, step, undefined);
      error.message = `COMMIT failed: ${error.message}`;
    }
  }
  const released = Math.max(endAt, now());
  opts.onLocksHeld?.(0);
  for (const { lock, at, statement, waited } of firstSeen.values()) {
    locks.push({
      section: step.section,
      phase: step.phase,
      step: step.name,
      statement,
      relation: lock.relation,
      relation_oid: lock.oid,
      relkind: lock.relkind,
      ...(lock.table ? { table: lock.table } : {}),
      mode: lock.mode,
      acquired_ms: at,
      released_ms: released,
      held_ms: released - at,
      in_transaction: true,
      ...(waited ? { waited_ms: waited } : {}),
    });
  }
  return { error };
}

/**
 * Each statement commits alone. Statements that may run in a transaction block are wrapped in their own
 * BEGIN/COMMIT so they are traced exactly; the rest (CONCURRENTLY, VACUUM, and CALLs, whose procedure may
 * COMMIT per batch) are sampled from a second connection while they run, and their hold is their duration.
 */
async function runEachAlone(
  step: ResolvedSqlStep,
  opts: RunnerOptions,
  now: () => number,
  statements: StatementResult[],
  locks: LockHold[],
  effects: StatementEffect[],
  waits: LockWait[],
): Promise<Outcome> {
  const { db } = opts;
  for (const [i, stmt] of step.sqlText.statements.entries()) {
    if (!stmt.nonTransactional && !stmt.call) {
      const single: ResolvedSqlStep = { ...step, sqlText: { ...step.sqlText, statements: [stmt] } };
      const sub: StatementResult[] = [];
      const subLocks: LockHold[] = [];
      const subEffects: StatementEffect[] = [];
      const subWaits: LockWait[] = [];
      const out = await runInOneTransaction(single, opts, now, sub, subLocks, subEffects, subWaits);
      statements.push(...sub.map((s) => ({ ...s, index: i })));
      locks.push(...subLocks.map((l) => ({ ...l, statement: i })));
      effects.push(...subEffects.map((e) => ({ ...e, statement: i })));
      waits.push(...subWaits.map((w) => ({ ...w, statement: i })));
      if (out.error) return out;
      continue;
    }
    // Make the cumulative counters current before and after, so the delta is this statement's.
    await db.query("SELECT pg_stat_force_next_flush()");
    const before = await traced(db, false);
    // Outside a transaction the held locks are seen only by the watch: sample them on every poll.
    const watching = watch(opts, now, 0);
    const s0 = now();
    let failure: unknown;
    try {
      await db.query(stmt.sql);
    } catch (err) {
      failure = err;
    }
    const s1 = now();
    const w = await watching.stop(s1, failure !== undefined);
    if (failure !== undefined && (!isServerError(failure) || isConnectionLoss(failure))) throw failure;
    const error = failure === undefined ? undefined : locateError(failure as PgError, step, stmt);
    recordWaits(step, i, w, error, waits);
    statements.push(stmtResult(i, stmt, step, s1 - s0, error ? "error" : "success"));
    const seen = new Map([...w.held].map(([k, h]) => [k, h.lock]));
    for (const [key, l] of seen) {
      // Sampled: held from when it was granted (after any wait for it) to the statement's end.
      const acquired = w.acquiredAt(key, s0);
      const waited = w.waits.find((x) => lockKey(x.lock) === key);
      locks.push({
        section: step.section,
        phase: step.phase,
        step: step.name,
        statement: i,
        relation: l.relation,
        relation_oid: l.oid,
        relkind: l.relkind,
        ...(l.table ? { table: l.table } : {}),
        mode: l.mode,
        acquired_ms: acquired,
        released_ms: s1,
        held_ms: s1 - acquired,
        in_transaction: false,
        ...(waited ? { waited_ms: Math.round(waited.ended_ms - waited.started_ms) } : {}),
      });
    }
    if (error) return { error };
    await db.query("SELECT pg_stat_force_next_flush()");
    const after = await traced(db, false);
    // Outside a transaction nothing is held once the statement returns; attribute the sampled modes.
    const heldSample: TraceSample = { ...after, locks: [...seen.values()] };
    // The cumulative counters are cluster-wide: a relation this backend was never seen locking (nor the
    // table of an index) was scanned by another session — the load, a background session — not by it.
    // A statement too short for the sampler to see any of its locks keeps every delta (held_mode null).
    const mine: StatementEffect[] = [];
    recordEffects(step, i, before, heldSample, opts.hotOids, mine);
    const lockedOids = new Set([...seen.values()].map((l) => l.oid));
    const lockedNames = new Set([...seen.values()].map((l) => l.relation));
    effects.push(
      ...mine.filter(
        (e) =>
          seen.size === 0 ||
          lockedOids.has(e.relation_oid) ||
          (e.table !== undefined && lockedNames.has(e.table)),
      ),
    );
  }
  return {};
}

function recordEffects(
  step: ResolvedSqlStep,
  statement: number,
  before: TraceSample,
  after: TraceSample,
  hotOids: Set<number>,
  effects: StatementEffect[],
): void {
  const modesOn = (oid: number) => after.locks.filter((l) => l.oid === oid).map((l) => l.mode);
  for (const e of diffSamples(before, after)) {
    const modes = modesOn(e.oid);
    // An index is judged by what was held on its table too: that lock is what blocks the application.
    const table =
      e.table_oid === undefined
        ? {}
        : {
            table: after.filenodes.get(e.table_oid)?.name ?? `oid:${e.table_oid}`,
            table_hot: hotOids.has(e.table_oid),
            table_mode: strongest(modesOn(e.table_oid)),
          };
    effects.push({
      section: step.section,
      phase: step.phase,
      step: step.name,
      statement,
      relation: e.relation,
      relation_oid: e.oid,
      seq_scans: e.seq_scans,
      seq_tup_read: e.seq_tup_read,
      idx_tup_fetch: e.idx_tup_fetch,
      rewritten: e.rewritten,
      held_mode: strongest(modes),
      hot: hotOids.has(e.oid),
      ...(e.relkind ? { relkind: e.relkind } : {}),
      ...(e.built ? { built: true } : {}),
      ...table,
    });
  }
}

function stmtResult(
  index: number,
  stmt: SqlStatement,
  step: ResolvedSqlStep,
  duration: number,
  status: StatementResult["status"],
): StatementResult {
  return {
    index,
    sql: shorten(stmt.sql),
    file: step.sqlText.file,
    line: stmt.line,
    duration_ms: duration,
    status,
    ...(stmt.operations ? { operations: stmt.operations } : {}),
  };
}
