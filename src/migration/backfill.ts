/**
 * The backfill engine (000, 002): copies — or, with custom SQL, moves — rows from `source` to `target` in
 * key-range batches [lo, lo + batch), by N workers over disjoint ranges, each batch one statement in its own
 * transaction. Progress lives in the clone (`_rehearse.backfill_state`) and is updated in the same transaction
 * as the batch, so a worker killed at any instant — or a whole run stopped — resumes with no duplicate and no
 * gap. A worker whose connection dies is reconnected (bounded, with backoff) and resumes from its committed
 * state. Never throws for the step's own failures: those come back as an `error` result; a rejection means
 * the harness itself could not work (the clone is unreachable).
 */
import pg from "pg";
import type { BackfillFacts, SqlErrorInfo, StatementResult, StepResult } from "../report/model.ts";
import type { ResolvedBackfillStep } from "../scenario/load.ts";
import { parseTemplate, TemplateError } from "../load/template.ts";
import { ident, qualified } from "../db/sql.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { BackfillFaults } from "./backfill-faults.ts";
import { createThrottle, type ReplicaLagSource, ThrottleRefusal, ThrottleStopped } from "./throttle.ts";

/** Progress of a running backfill, reported at most once a second. */
export interface BackfillProgress {
  /** "phase/step". */
  step: string;
  rows: number;
  rowsPerS: number;
  /** Share of the key range done, 0…1. */
  fraction: number;
  /** Estimated ms left, from the key range still to cover; absent until there is a rate. */
  etaMs?: number;
}

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
  reconnect?: { attempts: number; backoffMs: number; maxBackoffMs: number };
  /** Where a path of scenario.yaml is (file, line), for located errors. */
  locate?: (at: (string | number)[]) => { file?: string; line?: number; column?: number };
  /** Lag waits give up after this long unsafe (see ThrottleDeps.maxLagWaitMs). */
  maxLagWaitMs?: number;
}

export type BackfillResult = Omit<StepResult, "section" | "phase" | "name">;

export const STATE_SCHEMA = "_rehearse";
export const STATE_TABLE = "backfill_state";
const STATE = `${ident(STATE_SCHEMA)}.${ident(STATE_TABLE)}`;

type PgError = Error & { code?: string; detail?: string; hint?: string; position?: string };

/** A step-level failure, already described for the report. */
class StepFailure extends Error {
  constructor(readonly info: SqlErrorInfo) {
    super(info.message);
  }
}

function isServerError(err: unknown): err is PgError {
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

interface Range {
  worker: number;
  from: number;
  to: number;
  next: number;
}

/** Splits [from, to) into at most `n` contiguous, disjoint, non-empty ranges. */
export function splitRange(from: number, to: number, n: number): { from: number; to: number }[] {
  const span = to - from;
  if (span <= 0) return [];
  const size = Math.ceil(span / Math.min(n, span));
  const out: { from: number; to: number }[] = [];
  for (let lo = from; lo < to; lo += size) out.push({ from: lo, to: Math.min(to, lo + size) });
  return out;
}

function toInt(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    throw new StepFailure({ message: `${what} ${String(v)} is not an integer JavaScript can count exactly` });
  }
  return n;
}

/** The backend's pid (pg keeps it from the connection's BackendKeyData; its types do not declare it). */
function backendPid(c: pg.Client): number {
  return (c as unknown as { processID: number }).processID;
}

function shorten(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}

/** Runs one backfill step to completion (or to its first failure). */
export async function runBackfillStep(
  step: ResolvedBackfillStep,
  opts: BackfillOptions,
): Promise<BackfillResult> {
  const b = step.backfill;
  const clock = opts.clock ?? systemClock;
  const stepId = `${step.phase}/${step.name}`;
  const retry = opts.reconnect ?? { attempts: 8, backoffMs: 100, maxBackoffMs: 2000 };
  const where = opts.locate?.([...step.at, "backfill", ...(b.sql ? ["sql"] : [])]) ?? {};
  const t0 = clock.now().getTime();
  const elapsed = () => clock.now().getTime() - t0;

  const connect = async (label: string): Promise<pg.Client> => {
    const c = new pg.Client({ ...opts.connectionConfig, application_name: `rehearse backfill ${label}` });
    // A backend terminated while idle surfaces as an 'error' event; the next query then fails, and that
    // failure is what the worker handles.
    c.on("error", () => {});
    await c.connect();
    if (b.statement_timeout !== undefined)
      await c.query(`SET statement_timeout = ${Math.round(b.statement_timeout)}`);
    return c;
  };

  let stopped = false;
  let failedWith: StepFailure | undefined;
  const throttle = createThrottle(b.throttle, {
    clock,
    replicaLag: opts.replicaLag,
    shouldStop: () => failedWith !== undefined || (opts.shouldStop?.() ?? false),
    maxLagWaitMs: opts.maxLagWaitMs,
  });
  const facts: BackfillFacts = {
    source: b.source,
    target: b.target,
    rows: 0,
    batches: 0,
    workers: 0,
    resumed_rows: 0,
    restarts: 0,
    faults_injected: 0,
    rows_per_s: 0,
    throttled_ms: 0,
    waited_for_lag_ms: 0,
    stale_lag_readings: 0,
    window_wait_ms: 0,
  };
  let shownSql = b.sql ?? "";
  const result = (error?: SqlErrorInfo): BackfillResult => {
    const ms = elapsed();
    Object.assign(facts, throttle.stats);
    facts.rows_per_s = ms > 0 ? Math.round(facts.rows / (ms / 1000)) : 0;
    const summary: StatementResult = {
      index: 0,
      sql: shorten(shownSql || `backfill ${b.source} → ${b.target}`),
      file: where.file,
      line: where.line,
      duration_ms: ms,
      status: error ? "error" : "success",
    };
    return {
      status: error ? "error" : "success",
      transaction: false,
      attempts: 1,
      statements: [summary],
      error: error ? { file: where.file, line: where.line, column: where.column, ...error } : undefined,
      backfill: facts,
    };
  };

  // Without a coordinator connection nothing can be said about the step: the clone is unreachable.
  let coord = await connect("coordinator");
  const coordQuery = async (sql: string, params?: unknown[]): Promise<pg.QueryResult> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await coord.query(sql, params);
      } catch (err) {
        if (!isConnectionLoss(err) || attempt > retry.attempts) throw err;
        await coord.end().catch(() => {});
        await clock.sleep(Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** (attempt - 1)));
        coord = await connect("coordinator");
      }
    }
  };

  try {
    // ------------------------------------------------------------------ plan
    await ensureStateTable(coord);
    const srcOid = await oidOf(coord, b.source);
    const tgtOid = await oidOf(coord, b.target);
    const keyType = (
      await coord.query(
        `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute
          WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped`,
        [srcOid, b.key],
      )
    ).rows[0]?.t as string | undefined;
    if (!keyType) {
      throw new StepFailure({
        message: `the source "${b.source}" has no column "${b.key}" to cut key ranges on`,
        hint: "set backfill.key to an integer column of the source (usually the primary key)",
      });
    }
    if (!/^(smallint|integer|bigint)$/.test(keyType)) {
      throw new StepFailure({
        message: `the key "${b.key}" of "${b.source}" is ${keyType}; backfill ranges need an integer key`,
        hint: "key the backfill on an integer column (smallint, integer or bigint)",
      });
    }

    let batchSql: string;
    let paramsOf: (lo: number, hi: number) => string[];
    if (b.sql) {
      let parsed;
      try {
        parsed = parseTemplate(b.sql);
      } catch (err) {
        if (err instanceof TemplateError) throw new StepFailure({ message: `backfill.sql: ${err.message}` });
        throw err;
      }
      const unknown = parsed.names.filter((n) => n !== "lo" && n !== "hi");
      if (unknown.length > 0) {
        throw new StepFailure({
          message: `backfill.sql uses ${unknown.map((n) => `:${n}`).join(", ")}; only :lo and :hi are bound`,
          hint: "bound each batch with :lo and :hi (the range [lo, hi)); write any other value as a literal",
        });
      }
      batchSql = parsed.text;
      const names = parsed.names;
      paramsOf = (lo, hi) => names.map((n) => String(n === "lo" ? lo : hi));
    } else {
      const cols = await copiedColumns(coord, srcOid, tgtOid, b.columns);
      if (cols.names.length === 0) {
        throw new StepFailure({
          message: `"${b.source}" and "${b.target}" share no insertable column`,
          hint: "list the columns to copy in backfill.columns, or give the batch SQL in backfill.sql",
        });
      }
      const list = cols.names.map(ident).join(", ");
      batchSql =
        `INSERT INTO ${qualified(b.target)} (${list})${cols.overriding ? " OVERRIDING SYSTEM VALUE" : ""} ` +
        `SELECT ${list} FROM ${qualified(b.source)} WHERE ${ident(b.key)} >= $1 AND ${ident(b.key)} < $2` +
        (b.on_conflict === "skip" ? " ON CONFLICT DO NOTHING" : "");
      paramsOf = (lo, hi) => [String(lo), String(hi)];
      shownSql = batchSql.replace("$1", ":lo").replace("$2", ":hi");
    }

    const existing = await coordQuery(
      `SELECT worker, range_from, range_to, next_key, rows_copied FROM ${STATE}
        WHERE section = $1 AND step = $2 ORDER BY worker`,
      [step.section, stepId],
    );
    let ranges: Range[];
    let initial = { rows: 0, batches: 0 };
    if (existing.rows.length > 0) {
      // A rerun continues the plan it started with, whatever the bounds are now.
      ranges = existing.rows.map((r) => ({
        worker: r.worker as number,
        from: toInt(r.range_from, "range_from"),
        to: toInt(r.range_to, "range_to"),
        next: toInt(r.next_key, "next_key"),
      }));
      initial = await totals(coordQuery, step.section, stepId);
      facts.resumed_rows = initial.rows;
    } else {
      const planned = await planRanges(coord, b);
      ranges = planned.map((r, i) => ({ worker: i, from: r.from, to: r.to, next: r.from }));
      if (ranges.length > 0) {
        await coordQuery(
          `INSERT INTO ${STATE} (section, step, worker, range_from, range_to, next_key)
           SELECT $1, $2, w, f, t, f FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS u(w, f, t)`,
          [
            step.section,
            stepId,
            ranges.map((r) => r.worker),
            ranges.map((r) => String(r.from)),
            ranges.map((r) => String(r.to)),
          ],
        );
      }
    }
    facts.workers = ranges.length;
    if (ranges.length > 0) {
      facts.key_from = Math.min(...ranges.map((r) => r.from));
      facts.key_to = Math.max(...ranges.map((r) => r.to));
    }
    const keysTotal = ranges.reduce((n, r) => n + (r.to - r.from), 0);

    // ------------------------------------------------------------------ run
    const kill = opts.faults?.take();
    let killFired = false;
    const live = new Map<number, { pid: number; busy: boolean }>();
    let rowsThisRun = 0;
    let batchesThisRun = 0;
    let lastProgress = clock.now().getTime();

    const afterCommit = async (worker: number): Promise<void> => {
      const now = clock.now().getTime();
      if (opts.onProgress && now - lastProgress >= 1000) {
        lastProgress = now;
        const done = ranges.reduce((n, r) => n + (r.next - r.from), 0);
        const fraction = keysTotal > 0 ? done / keysTotal : 1;
        const ms = now - t0;
        opts.onProgress({
          step: stepId,
          rows: rowsThisRun,
          rowsPerS: ms > 0 ? rowsThisRun / (ms / 1000) : 0,
          fraction,
          etaMs: fraction > 0 && fraction < 1 ? (ms * (1 - fraction)) / fraction : undefined,
        });
      }
      if (kill && !killFired && batchesThisRun >= kill.afterBatches) {
        killFired = true;
        // Prefer another worker, caught mid-batch; with one worker, the worker itself between batches.
        const others = [...live.entries()].filter(([w]) => w !== worker);
        const victim = others.find(([, s]) => s.busy) ?? others[0] ?? [worker, live.get(worker)!];
        await coordQuery("SELECT pg_terminate_backend($1, 5000)", [victim[1].pid]);
        facts.faults_injected++;
      }
    };

    const runWorker = async (r: Range): Promise<void> => {
      let client: pg.Client | undefined;
      let failures = 0;
      try {
        for (;;) {
          try {
            if (!client) {
              client = await connect(`worker ${r.worker + 1}`);
              live.set(r.worker, { pid: backendPid(client), busy: false });
            }
            const st = await client.query(
              `SELECT next_key, range_to FROM ${STATE} WHERE section = $1 AND step = $2 AND worker = $3`,
              [step.section, stepId, r.worker],
            );
            r.next = toInt(st.rows[0].next_key, "next_key");
            failures = 0;
            while (r.next < r.to) {
              if (failedWith) return;
              if (opts.shouldStop?.()) {
                stopped = true;
                return;
              }
              await throttle.beforeBatch();
              const lo = r.next;
              const hi = Math.min(lo + b.batch, r.to);
              const me = live.get(r.worker)!;
              me.busy = true;
              let n: number;
              await client.query("BEGIN");
              try {
                n = (await client.query(batchSql, paramsOf(lo, hi))).rowCount ?? 0;
                await client.query(
                  `UPDATE ${STATE} SET next_key = $4, rows_copied = rows_copied + $5, batches = batches + 1,
                          updated_at = now()
                    WHERE section = $1 AND step = $2 AND worker = $3`,
                  [step.section, stepId, r.worker, String(hi), n],
                );
                await client.query("COMMIT");
              } catch (err) {
                if (isConnectionLoss(err)) throw err;
                await client.query("ROLLBACK").catch(() => {});
                if (!isServerError(err)) throw err;
                throw new StepFailure(batchError(err, b, step, r, lo, hi, ranges.length));
              } finally {
                me.busy = false;
              }
              r.next = hi;
              rowsThisRun += n;
              batchesThisRun++;
              await afterCommit(r.worker);
              if (r.next < r.to) await throttle.afterBatch();
            }
            return;
          } catch (err) {
            if (!isConnectionLoss(err)) throw err;
            if (client) {
              // A connection that worked is lost: one restart, resumed from the committed state.
              facts.restarts++;
              live.delete(r.worker);
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
            await clock.sleep(Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** (failures - 1)));
          }
        }
      } finally {
        live.delete(r.worker);
        await client?.end().catch(() => {});
      }
    };

    const outcomes = await Promise.allSettled(
      ranges.map((r) =>
        runWorker(r).catch((err: unknown) => {
          if (err instanceof StepFailure && !failedWith) failedWith = err;
          if (err instanceof ThrottleRefusal && !failedWith)
            failedWith = new StepFailure({ message: err.message });
          if (err instanceof ThrottleStopped) stopped = true;
          throw err;
        }),
      ),
    );

    // The committed truth, read back: a batch whose COMMIT was cut off mid-reply is counted if it landed.
    const final = await totals(coordQuery, step.section, stepId);
    facts.rows = final.rows - initial.rows;
    facts.batches = final.batches - initial.batches;

    if (failedWith) return result(failedWith.info);
    const unexpected = outcomes.find(
      (o): o is PromiseRejectedResult => o.status === "rejected" && !(o.reason instanceof ThrottleStopped),
    );
    if (unexpected) throw unexpected.reason;
    if (stopped) {
      const left = ranges.reduce((n, r) => n + Math.max(0, r.to - r.next), 0);
      return result({
        message: `stopped before the backfill finished: ${keysTotal - left} of ${keysTotal} keys done`,
        detail: `progress is kept in ${STATE_SCHEMA}.${STATE_TABLE}; running the step again continues where it stopped`,
      });
    }
    return result();
  } catch (err) {
    if (err instanceof StepFailure) return result(err.info);
    if (isServerError(err)) {
      return result({ sqlstate: err.code, message: err.message, detail: err.detail, hint: err.hint });
    }
    throw err;
  } finally {
    await coord.end().catch(() => {});
  }
}

/** Creates _rehearse.backfill_state if missing; concurrent creators (another run, the load) are tolerated. */
async function ensureStateTable(c: pg.Client): Promise<void> {
  const ddl = `CREATE SCHEMA IF NOT EXISTS ${ident(STATE_SCHEMA)};
    CREATE TABLE IF NOT EXISTS ${STATE} (
      section text NOT NULL,
      step text NOT NULL,
      worker int NOT NULL,
      range_from bigint NOT NULL,
      range_to bigint NOT NULL,
      next_key bigint NOT NULL,
      rows_copied bigint NOT NULL DEFAULT 0,
      batches bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (section, step, worker)
    )`;
  try {
    await c.query(ddl);
  } catch (err) {
    // Two sessions creating the same schema or table at once: the loser sees a unique violation; it exists now.
    if (!isServerError(err) || !["23505", "42P06", "42P07"].includes(err.code!)) throw err;
    await c.query(ddl);
  }
}

async function oidOf(c: pg.Client, table: string): Promise<number> {
  const oid = (await c.query("SELECT to_regclass($1)::oid AS oid", [qualified(table)])).rows[0]?.oid as
    number | null;
  if (!oid) {
    throw new StepFailure({
      message: `the table "${table}" does not exist when the backfill starts`,
      hint: "create it in an earlier step, or check the name (schema-qualify it if it is not in public)",
    });
  }
  return oid;
}

/** The columns the default INSERT copies: the given ones, or every non-generated column both tables have. */
async function copiedColumns(
  c: pg.Client,
  srcOid: number,
  tgtOid: number,
  given: string[] | undefined,
): Promise<{ names: string[]; overriding: boolean }> {
  const rows = (
    await c.query(
      `SELECT t.attname AS name, t.attidentity = 'a' AS always_identity,
              s.attname IS NOT NULL AND s.attgenerated = '' AS in_source
         FROM pg_attribute t
         LEFT JOIN pg_attribute s ON s.attrelid = $1 AND s.attname = t.attname AND s.attnum > 0 AND NOT s.attisdropped
        WHERE t.attrelid = $2 AND t.attnum > 0 AND NOT t.attisdropped AND t.attgenerated = ''
        ORDER BY t.attnum`,
      [srcOid, tgtOid],
    )
  ).rows as { name: string; always_identity: boolean; in_source: boolean }[];
  const names = given ?? rows.filter((r) => r.in_source).map((r) => r.name);
  const overriding = rows.some((r) => r.always_identity && names.includes(r.name));
  return { names, overriding };
}

/** Key ranges per worker: the explicit ones, or [from, to) split evenly; default bounds from the source. */
async function planRanges(
  c: pg.Client,
  b: ResolvedBackfillStep["backfill"],
): Promise<{ from: number; to: number }[]> {
  if (b.ranges) return [...b.ranges].sort((x, y) => x.from - y.from);
  let { from, to } = b;
  if (from === undefined || to === undefined) {
    const r = (
      await c.query(
        `SELECT min(${ident(b.key)})::text AS lo, (max(${ident(b.key)}) + 1)::text AS hi FROM ${qualified(b.source)}`,
      )
    ).rows[0] as { lo: string | null; hi: string | null };
    if (r.lo === null || r.hi === null) {
      if (from === undefined || to === undefined) return []; // an empty source: nothing to copy
    } else {
      from ??= toInt(r.lo, "min(key)");
      to ??= toInt(r.hi, "max(key) + 1");
    }
  }
  return splitRange(from!, to!, b.workers);
}

async function totals(
  q: (sql: string, params?: unknown[]) => Promise<pg.QueryResult>,
  section: string,
  stepId: string,
): Promise<{ rows: number; batches: number }> {
  const r = (
    await q(
      `SELECT coalesce(sum(rows_copied), 0)::text AS rows, coalesce(sum(batches), 0)::text AS batches
         FROM ${STATE} WHERE section = $1 AND step = $2`,
      [section, stepId],
    )
  ).rows[0] as { rows: string; batches: string };
  return { rows: Number(r.rows), batches: Number(r.batches) };
}

function batchError(
  err: PgError,
  b: ResolvedBackfillStep["backfill"],
  step: ResolvedBackfillStep,
  r: Range,
  lo: number,
  hi: number,
  workers: number,
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
      `in ${step.phase}/${step.name}: worker ${r.worker + 1} of ${workers}, batch [${lo}, ${hi}) of ${b.source} → ${b.target}`,
      err.detail,
    ]
      .filter(Boolean)
      .join("\n"),
    hint,
  };
}
