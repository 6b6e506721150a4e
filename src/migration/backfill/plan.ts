/** Settled before any row moves: what each batch runs, and which key range each worker covers. */
import type pg from "pg";
import { ident, qualified } from "../../db/sql.ts";
import { parseTemplate, TemplateError } from "../../load/template.ts";
import type { ResolvedBackfillStep } from "../../scenario/load.ts";
import type { Coordinator } from "./connect.ts";
import { StepFailure, toInt } from "./errors.ts";
import { type Range, recordedRanges, recordRanges, type StateKey, totals } from "./state.ts";

type Backfill = ResolvedBackfillStep["backfill"];

/** What one batch runs, and how the report shows it. */
export interface BatchStatement {
  sql: string;
  /** The bound parameters of the batch [lo, hi). */
  paramsOf: (lo: number, hi: number) => string[];
  /** The statement for the report, with :lo and :hi where it binds them. */
  shown: string;
}

/** Checks both tables and the key, then builds the batch statement. */
export async function resolveBatchStatement(c: pg.Client, b: Backfill): Promise<BatchStatement> {
  const srcOid = await oidOf(c, b.source);
  const tgtOid = await oidOf(c, b.target);
  await checkKey(c, srcOid, b);
  if (b.sql) return templateStatement(b.sql);
  return insertStatement(c, srcOid, tgtOid, b);
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

/** Key ranges are cut on an integer column of the source. */
async function checkKey(c: pg.Client, srcOid: number, b: Backfill): Promise<void> {
  const keyType = (
    await c.query(
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
}

/** The scenario's own batch SQL, which may bind only :lo and :hi. */
function templateStatement(sql: string): BatchStatement {
  let parsed;
  try {
    parsed = parseTemplate(sql);
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
  const names = parsed.names;
  return {
    sql: parsed.text,
    paramsOf: (lo, hi) => names.map((n) => String(n === "lo" ? lo : hi)),
    shown: sql,
  };
}

/** The default batch: INSERT … SELECT of the copied columns over [lo, hi) of the key. */
async function insertStatement(
  c: pg.Client,
  srcOid: number,
  tgtOid: number,
  b: Backfill,
): Promise<BatchStatement> {
  const cols = await copiedColumns(c, srcOid, tgtOid, b.columns);
  if (cols.names.length === 0) {
    throw new StepFailure({
      message: `"${b.source}" and "${b.target}" share no insertable column`,
      hint: "list the columns to copy in backfill.columns, or give the batch SQL in backfill.sql",
    });
  }
  const list = cols.names.map(ident).join(", ");
  const sql =
    `INSERT INTO ${qualified(b.target)} (${list})${cols.overriding ? " OVERRIDING SYSTEM VALUE" : ""} ` +
    `SELECT ${list} FROM ${qualified(b.source)} WHERE ${ident(b.key)} >= $1 AND ${ident(b.key)} < $2` +
    (b.on_conflict === "skip" ? " ON CONFLICT DO NOTHING" : "");
  return {
    sql,
    paramsOf: (lo, hi) => [String(lo), String(hi)],
    shown: sql.replace("$1", ":lo").replace("$2", ":hi"),
  };
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

/** The workers' ranges, and what earlier runs of the step had committed before this one starts. */
export interface RangePlan {
  ranges: Range[];
  initial: { rows: number; batches: number };
}

/** A rerun continues the plan it started with, whatever the bounds are now; a first run plans and records. */
export async function planWorkerRanges(coord: Coordinator, b: Backfill, key: StateKey): Promise<RangePlan> {
  const recorded = await recordedRanges(coord, key);
  if (recorded.length > 0) return { ranges: recorded, initial: await totals(coord, key) };
  const planned = await freshRanges(coord.client, b);
  const ranges = planned.map((r, i) => ({ worker: i, from: r.from, to: r.to, next: r.from }));
  if (ranges.length > 0) await recordRanges(coord, key, ranges);
  return { ranges, initial: { rows: 0, batches: 0 } };
}

/** Key ranges per worker: the explicit ones, or [from, to) split evenly; default bounds from the source. */
async function freshRanges(c: pg.Client, b: Backfill): Promise<{ from: number; to: number }[]> {
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

/** Splits [from, to) into at most `n` contiguous, disjoint, non-empty ranges. */
export function splitRange(from: number, to: number, n: number): { from: number; to: number }[] {
  const span = to - from;
  if (span <= 0) return [];
  const size = Math.ceil(span / Math.min(n, span));
  const out: { from: number; to: number }[] = [];
  for (let lo = from; lo < to; lo += size) out.push({ from: lo, to: Math.min(to, lo + size) });
  return out;
}
