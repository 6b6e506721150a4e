/** Progress lives in the clone, committed with each batch, so a killed worker or a rerun resumes exactly. */
import type pg from "pg";
import { ident } from "../../db/sql.ts";
import type { Queries } from "./connect.ts";
import { isServerError, toInt } from "./errors.ts";

export const STATE_SCHEMA = "_rehearse";
export const STATE_TABLE = "backfill_state";
const STATE = `${ident(STATE_SCHEMA)}.${ident(STATE_TABLE)}`;

/** One worker's key range [from, to) and the first key it has not copied yet: a row of the state table. */
export interface Range {
  worker: number;
  from: number;
  to: number;
  next: number;
}

/** Whose rows in the state table: the scenario section, and the step as "phase/step". */
export interface StateKey {
  section: string;
  stepId: string;
}

/** How many keys the ranges cover in all. */
export function keysIn(ranges: Range[]): number {
  return ranges.reduce((n, r) => n + (r.to - r.from), 0);
}

/** Creates _rehearse.backfill_state if missing; concurrent creators (another run, the load) are tolerated. */
export async function ensureStateTable(c: pg.Client): Promise<void> {
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

/** The ranges an earlier run of the step recorded, with how far each got; none for a fresh start. */
export async function recordedRanges(q: Queries, key: StateKey): Promise<Range[]> {
  const existing = await q.query(
    `SELECT worker, range_from, range_to, next_key, rows_copied FROM ${STATE}
      WHERE section = $1 AND step = $2 ORDER BY worker`,
    [key.section, key.stepId],
  );
  return existing.rows.map((r) => ({
    worker: r.worker as number,
    from: toInt(r.range_from, "range_from"),
    to: toInt(r.range_to, "range_to"),
    next: toInt(r.next_key, "next_key"),
  }));
}

/** Records a fresh plan, each worker at the start of its range. */
export async function recordRanges(q: Queries, key: StateKey, ranges: Range[]): Promise<void> {
  await q.query(
    `INSERT INTO ${STATE} (section, step, worker, range_from, range_to, next_key)
     SELECT $1, $2, w, f, t, f FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS u(w, f, t)`,
    [
      key.section,
      key.stepId,
      ranges.map((r) => r.worker),
      ranges.map((r) => String(r.from)),
      ranges.map((r) => String(r.to)),
    ],
  );
}

/** The first key `worker` has not committed yet. */
export async function committedNext(q: Queries, key: StateKey, worker: number): Promise<number> {
  const st = await q.query(
    `SELECT next_key, range_to FROM ${STATE} WHERE section = $1 AND step = $2 AND worker = $3`,
    [key.section, key.stepId, worker],
  );
  return toInt(st.rows[0].next_key, "next_key");
}

/** Moves `worker` past a batch of `rows` rows ending at `hi`; runs inside the batch's transaction. */
export async function recordBatch(
  q: Queries,
  key: StateKey,
  worker: number,
  hi: number,
  rows: number,
): Promise<void> {
  await q.query(
    `UPDATE ${STATE} SET next_key = $4, rows_copied = rows_copied + $5, batches = batches + 1,
            updated_at = now()
      WHERE section = $1 AND step = $2 AND worker = $3`,
    [key.section, key.stepId, worker, String(hi), rows],
  );
}

/** Rows and batches committed by every run of the step so far. */
export async function totals(q: Queries, key: StateKey): Promise<{ rows: number; batches: number }> {
  const r = (
    await q.query(
      `SELECT coalesce(sum(rows_copied), 0)::text AS rows, coalesce(sum(batches), 0)::text AS batches
         FROM ${STATE} WHERE section = $1 AND step = $2`,
      [key.section, key.stepId],
    )
  ).rows[0] as { rows: string; batches: string };
  return { rows: Number(r.rows), batches: Number(r.batches) };
}
