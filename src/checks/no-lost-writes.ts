/**
 * no_lost_writes: every write the load saw acknowledged (COMMIT returned) is in `table.column` after the
 * migration, exactly once. This is the invariant a swap-based cutover breaks (seeds/004): writes that land
 * in the old table after the last sync pass are acknowledged to the application and then gone with the swap.
 *
 * Where the keys come from: the load engine appends each acknowledged write's key to the ack ledger, one per
 * line, and the keys of writes whose outcome it could not know (connection lost mid-COMMIT, timeout) to
 * `<ledger>.indeterminate`. Those are reported, never counted as lost or present: they may or may not have
 * committed, so neither outcome is a finding.
 *
 * How the check learns the ledger's path: `setAckLedger(path)`, which the harness calls when it creates the
 * ledger (and with undefined when the run is over). The check interface passes only (db, invariant, stage),
 * and the path is a fact of the run, not of the scenario, so it does not belong in the invariant. A module
 * setting means one rehearsal at a time per process, which is how the harness runs; callers that need
 * otherwise (tests) pass the ledger explicitly as gatherNoLostWrites' fourth argument.
 *
 * Scale: the ledger can hold tens of millions of keys. It is streamed into a temporary table with COPY (memory
 * bounded by the stream's buffers, not the ledger's size), and one query hash-joins it with the table:
 * PostgreSQL spills to disk past work_mem. The column is cast to text and compared with the key as the load
 * wrote it, so any column type works (uuid, bigint, text) at the price of not using the column's index; one
 * sequential scan of the table is cheaper than millions of index probes anyway.
 *
 * Needs a single connection (temporary tables are per session) and the load stopped: the harness gathers at
 * stage "after", once the load has drained.
 */
import { stat } from "node:fs/promises";
import { relationKey } from "../catalog/types.ts";
import { copyLinesFromFile } from "../db/copy.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, inconclusive, lookupRelation, type Outcome, pass, plural, relationColumns } from "./common.ts";

type Inv = Extract<Invariant, { check: "no_lost_writes" }>;

/** Examples of missing and of duplicated keys carried into the report, each. */
export const NO_LOST_WRITES_EXAMPLES = 10;

/** Suffix of the file listing keys of writes whose outcome the load could not know. */
export const INDETERMINATE_SUFFIX = ".indeterminate";

let ackLedger: string | undefined;

/**
 * Tells no_lost_writes where this run's ack ledger is. The harness calls it before gathering the invariants
 * (with the path it gave the load engine as `ackFile`), and with undefined when the run ends. Without a
 * ledger the check reports that no load ran (status error: it cannot judge).
 */
export function setAckLedger(file: string | undefined): void {
  ackLedger = file;
}

export interface NoLostWritesGathered {
  table: string;
  column: string;
  /** Why nothing was counted: no load ran, no ledger file, no such table or column. */
  problem?: string;
  ledger?: string;
  /** Acknowledged writes (non-empty ledger lines) and distinct keys among them. */
  acknowledged: number;
  distinct: number;
  /** Distinct acknowledged keys found nowhere in table.column. */
  missing: number;
  /** Distinct acknowledged keys found more than `rows_per_write` times. */
  duplicated: number;
  /** Distinct acknowledged keys found, but fewer than `rows_per_write` times (absent in older facts). */
  partial?: number;
  partialExamples?: { key: string; present: number }[];
  missingExamples: string[];
  duplicatedExamples: { key: string; present: number; acknowledged: number }[];
  /**
   * Where the missing keys are: other tables with a column of that name holding some of them (the old table
   * a swap left behind), with the user triggers on each and the events they fire on. Absent in older facts.
   */
  missingFoundIn?: {
    table: string;
    keys: number;
    /** `syncs`: the trigger's function names the target table (a sync trigger, not the application's own). */
    triggers: { name: string; events: string[]; syncs: boolean }[];
  }[];
  /** Lines of the indeterminate file, and how many of those keys are in the table (informational). */
  indeterminate: number;
  indeterminatePresent: number;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Streams a key-per-line file into a fresh one-column temporary table. */
async function copyKeys(db: Queryable, file: string, tempTable: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS pg_temp.${ident(tempTable)}`);
  await db.query(`CREATE TEMP TABLE ${ident(tempTable)} (key text)`);
  await copyLinesFromFile(db, `COPY pg_temp.${ident(tempTable)} (key) FROM STDIN`, file);
  // Temporary tables get no autovacuum statistics: without them the planner guesses the join sizes.
  await db.query(`ANALYZE pg_temp.${ident(tempTable)}`);
}

/** Tables searched for the missing keys, at most. */
const MISSING_SEARCH_TABLES = 10;

/**
 * Where acknowledged keys missing from the target are: every other table (not a partition, not a system or
 * temporary one) with a column of the invariant's name, with its user triggers, for the remediation to name
 * the cause the evidence shows rather than guess it.
 */
async function findMissingKeys(
  db: Queryable,
  inv: Inv,
  targetOid: number,
  targetName: string,
): Promise<NonNullable<NoLostWritesGathered["missingFoundIn"]>> {
  const candidates = await db.query<{ oid: number; name: string }>(
    `SELECT c.oid, n.nspname || '.' || c.relname AS name
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
        AND NOT c.relispartition AND c.oid <> $2
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_rehearse')
        AND n.nspname NOT LIKE 'pg\\_temp%' AND n.nspname NOT LIKE 'pg\\_toast%'
      ORDER BY 2 LIMIT ${MISSING_SEARCH_TABLES}`,
    [inv.column, targetOid],
  );
  const col = ident(inv.column);
  const out: NonNullable<NoLostWritesGathered["missingFoundIn"]> = [];
  for (const c of candidates.rows) {
    const res = await db.query<{ n: string }>(
      `SELECT count(DISTINCT a.key)::text AS n FROM pg_temp.${ident(ACKED)} a
        WHERE a.key <> '' AND NOT EXISTS (SELECT 1 FROM ${qualified(inv.table)} t WHERE (t.${col})::text = a.key)
          AND EXISTS (SELECT 1 FROM ${qualified(c.name)} o WHERE (o.${col})::text = a.key)`,
    );
    const keys = Number(res.rows[0]!.n);
    if (keys === 0) continue;
    // tgtype bits: 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE.
    const triggers = await db.query<{ name: string; events: string[]; syncs: boolean }>(
      `SELECT t.tgname::text AS name,
              array_remove(ARRAY[CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END, CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END,
                                 CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END], NULL) AS events,
              coalesce(p.prosrc ~* $2, false) AS syncs
         FROM pg_trigger t LEFT JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND t.tgenabled <> 'D' ORDER BY t.tgname`,
      [c.oid, `\\m${targetName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\M`],
    );
    out.push({ table: c.name, keys, triggers: triggers.rows });
  }
  return out;
}

const ACKED = "rehearse_acked";
const INDETERMINATE = "rehearse_indeterminate";

export async function gatherNoLostWrites(
  db: Queryable,
  inv: Inv,
  _stage: Stage,
  ledger: string | undefined = ackLedger,
): Promise<NoLostWritesGathered> {
  const table = relationKey(inv.table);
  const empty: NoLostWritesGathered = {
    table,
    column: inv.column,
    ledger,
    acknowledged: 0,
    distinct: 0,
    missing: 0,
    duplicated: 0,
    missingExamples: [],
    duplicatedExamples: [],
    indeterminate: 0,
    indeterminatePresent: 0,
  };
  if (!ledger) return { ...empty, problem: "no load ran, so there are no acknowledged writes to look for" };
  if (!(await exists(ledger))) return { ...empty, problem: `the load's ack ledger ${ledger} does not exist` };
  const rel = await lookupRelation(db, inv.table);
  if (!rel) return { ...empty, problem: `table ${table} does not exist after the migration` };
  if (!(await relationColumns(db, rel.oid)).includes(inv.column))
    return { ...empty, problem: `table ${table} has no column ${inv.column} after the migration` };

  const indeterminateFile = `${ledger}${INDETERMINATE_SUFFIX}`;
  try {
    await copyKeys(db, ledger, ACKED);
    // An absent indeterminate file means no indeterminate write; an empty table keeps the query uniform.
    if (await exists(indeterminateFile)) await copyKeys(db, indeterminateFile, INDETERMINATE);
    else {
      await db.query(`DROP TABLE IF EXISTS pg_temp.${ident(INDETERMINATE)}`);
      await db.query(`CREATE TEMP TABLE ${ident(INDETERMINATE)} (key text)`);
    }
    const target = qualified(inv.table);
    const col = ident(inv.column);
    const n = NO_LOST_WRITES_EXAMPLES;
    // A validated integer (schema: 1..1000), interpolated as a number.
    const per = Math.max(1, Math.trunc(inv.rows_per_write ?? 1));
    // p: one row per distinct acknowledged key with how often it was acknowledged and how often it is in
    // the table. Materialized once, read by the counts and the two example lists.
    const res = await db.query<{
      acknowledged: string;
      distinct_keys: string;
      missing: string;
      duplicated: string;
      partial: string;
      partial_examples: { key: string; present: number }[];
      missing_examples: string[];
      duplicated_examples: { key: string; present: number; acknowledged: number }[];
      indeterminate: string;
      indeterminate_present: string;
    }>(`
      WITH a AS (
        SELECT key, count(*) AS acks FROM pg_temp.${ident(ACKED)} WHERE key <> '' GROUP BY key),
      p AS MATERIALIZED (
        SELECT a.key, a.acks, count(t.k) AS present
          FROM a LEFT JOIN (SELECT (${col})::text AS k FROM ${target}) t ON t.k = a.key
         GROUP BY a.key, a.acks)
      SELECT coalesce(sum(acks), 0)::text AS acknowledged,
             count(*)::text AS distinct_keys,
             count(*) FILTER (WHERE present = 0)::text AS missing,
             count(*) FILTER (WHERE present > ${per})::text AS duplicated,
             count(*) FILTER (WHERE present > 0 AND present < ${per})::text AS partial,
             (SELECT coalesce(json_agg(json_build_object('key', key, 'present', present) ORDER BY key), '[]'::json)
                FROM (SELECT key, present FROM p WHERE present > 0 AND present < ${per} ORDER BY key LIMIT ${n}) s)
               AS partial_examples,
             (SELECT coalesce(json_agg(key ORDER BY key), '[]'::json)
                FROM (SELECT key FROM p WHERE present = 0 ORDER BY key LIMIT ${n}) s) AS missing_examples,
             (SELECT coalesce(json_agg(json_build_object('key', key, 'present', present, 'acknowledged', acks)
                                       ORDER BY key), '[]'::json)
                FROM (SELECT key, present, acks FROM p WHERE present > ${per} ORDER BY key LIMIT ${n}) s)
               AS duplicated_examples,
             (SELECT count(*) FROM pg_temp.${ident(INDETERMINATE)} WHERE key <> '')::text AS indeterminate,
             (SELECT count(*) FROM pg_temp.${ident(INDETERMINATE)} i
               WHERE i.key <> '' AND EXISTS (SELECT 1 FROM ${target} t WHERE (t.${col})::text = i.key))::text
               AS indeterminate_present
        FROM p`);
    const r = res.rows[0]!;
    const missingFoundIn =
      Number(r.missing) > 0
        ? await findMissingKeys(
            db,
            inv,
            rel.oid,
            rel.qualifiedName.slice(rel.qualifiedName.lastIndexOf(".") + 1),
          )
        : undefined;
    return {
      ...empty,
      ...(missingFoundIn ? { missingFoundIn } : {}),
      acknowledged: Number(r.acknowledged),
      distinct: Number(r.distinct_keys),
      missing: Number(r.missing),
      duplicated: Number(r.duplicated),
      partial: Number(r.partial),
      partialExamples: r.partial_examples.map((d) => ({ key: d.key, present: Number(d.present) })),
      missingExamples: r.missing_examples,
      duplicatedExamples: r.duplicated_examples.map((d) => ({
        key: d.key,
        present: Number(d.present),
        acknowledged: Number(d.acknowledged),
      })),
      indeterminate: Number(r.indeterminate),
      indeterminatePresent: Number(r.indeterminate_present),
    };
  } finally {
    // Tens of millions of keys: do not leave them in the session for the next check.
    await db
      .query(`DROP TABLE IF EXISTS pg_temp.${ident(ACKED)}, pg_temp.${ident(INDETERMINATE)}`)
      .catch(() => {});
  }
}

/**
 * The remediation for what the evidence shows, not a guess: where the missing keys are (and what that table's
 * triggers fire on), whether keys are short of rows_per_write, or present too often.
 */
function remediation(inv: Inv, g: NoLostWritesGathered, duplicatesJudged: boolean): string {
  const out: string[] = [];
  const where = `${relationKey(inv.table)}.${inv.column}`;
  if (g.missing > 0) {
    const found = g.missingFoundIn ?? [];
    const partialSync = found.flatMap((f) =>
      f.triggers
        .filter((t) => t.syncs && t.events.length > 0 && t.events.length < 3)
        .map((t) => `${f.table}'s trigger ${t.name} fires on ${t.events.join(" OR ")} only`),
    );
    if (partialSync.length > 0)
      out.push(
        `The missing writes are in ${found.map((f) => f.table).join(", ")}, whose sync trigger does not carry every operation over (${partialSync.join("; ")}): the application's other writes (an UPDATE, a DELETE) never reached ${where}. Make the trigger fire on INSERT OR UPDATE OR DELETE and apply each operation to the target (an upsert for UPDATE), then re-run.`,
      );
    else if (found.length > 0)
      out.push(
        `The missing writes landed in ${found.map((f) => `${f.table} (${plural(f.keys, "key")})`).join(", ")} and were not carried over: writes arriving after the last sync were dropped by the swap: pause writers (a pause_writes step) around the final sync and the rename, or keep a sync trigger on the old table until the rename, as in write-up 004.`,
      );
    else
      out.push(
        `The missing writes are in no table with a ${inv.column} column: a step deleted, truncated or dropped them after they were acknowledged (the old table dropped before its rows were copied, a DELETE/TRUNCATE during the cutover). Copy before dropping, and drop the old table only in a later, separate step.`,
      );
  }
  if ((g.partial ?? 0) > 0)
    out.push(
      `Some writes left fewer than the ${inv.rows_per_write} rows one write creates under its key: part of the write path stopped working (a trigger or a second INSERT not recreated on the new table). Compare the triggers and rules of the old and new tables.`,
    );
  if (duplicatesJudged && g.duplicated > 0)
    out.push(
      `A key present more often than one write creates means a catch-up copied rows the trigger had already copied: make the copy skip keys already in the target (ON CONFLICT DO NOTHING on a unique key). If one write legitimately creates several rows under its key, say so with rows_per_write (or at_least_once).`,
    );
  return out.join(" ");
}

export function evaluateNoLostWrites(inv: Inv, input: CheckInput<NoLostWritesGathered>): Outcome {
  const g = input.gathered.after;
  const where = `${relationKey(inv.table)}.${inv.column}`;
  if (!g)
    return inconclusive(
      `The acknowledged writes were not looked for in ${where} after the migration.`,
      "Re-run; a rehearse bug if it persists.",
    );
  if (g.problem)
    return inconclusive(
      `Cannot check for lost writes: ${g.problem}.`,
      g.problem.startsWith("no load")
        ? "no_lost_writes needs a load: add a load: section whose write.ack_key is the value stored in the invariant's column."
        : g.problem.includes("ack ledger")
          ? "The load did not leave its ledger; a rehearse bug if the load ran."
          : "Point the invariant at the table and column the writes end up in after the migration.",
    );
  const indeterminate =
    g.indeterminate > 0
      ? `${plural(g.indeterminate, "indeterminate write")} not counted; ${g.indeterminatePresent} of them landed`
      : "0 indeterminate not counted";
  if (g.acknowledged === 0)
    return inconclusive(
      `The load acknowledged no writes (${indeterminate}), so nothing shows that writes survive the migration.`,
      "Check the load: its writes must succeed during the rehearsal (see the load errors) for this invariant to mean anything.",
    );
  const repeats = g.acknowledged - g.distinct;
  const repeatNote =
    repeats > 0
      ? ` ${plural(repeats, "acknowledgement")} repeated a key: the ack_key does not identify one write (a wrapped history?).`
      : "";
  const per = inv.rows_per_write ?? 1;
  const atLeast = inv.at_least_once ?? false;
  const partial = g.partial ?? 0;
  const duplicated = atLeast ? 0 : g.duplicated;
  const expected = `${atLeast ? "at least" : "exactly"} ${per === 1 ? "once" : `${per} times`}`;
  if (g.missing === 0 && partial === 0 && duplicated === 0)
    return pass(
      `${plural(g.acknowledged, "acknowledged write")}, each present ${expected} in ${where} (${indeterminate}).${atLeast && g.duplicated > 0 ? ` ${plural(g.duplicated, "key")} present more often (at_least_once).` : ""}${repeatNote}`,
      { measured: 0, limit: 0, unit: "writes" },
    );

  const findings: string[] = [];
  if (g.missing > 0) {
    findings.push(
      `${plural(g.missing, "acknowledged key")} of ${g.distinct} missing from ${where}` +
        (g.missing > g.missingExamples.length ? ` (first ${g.missingExamples.length} below)` : ""),
    );
    // Where they are comes before the examples, so a reporter that cuts the list still shows it.
    for (const f of g.missingFoundIn ?? [])
      findings.push(`${plural(f.keys, "missing key")} found in ${f.table}`);
    for (const k of g.missingExamples) findings.push(`missing: ${JSON.stringify(k)}`);
  }
  if (partial > 0) {
    findings.push(
      `${plural(partial, "acknowledged key")} present fewer than the ${per} times one write creates in ${where}` +
        (partial > (g.partialExamples ?? []).length
          ? ` (first ${(g.partialExamples ?? []).length} below)`
          : ""),
    );
    for (const d of g.partialExamples ?? [])
      findings.push(`partial: ${JSON.stringify(d.key)} present ${d.present} of ${per} times`);
  }
  if (duplicated > 0) {
    findings.push(
      `${plural(g.duplicated, "acknowledged key")} present more than ${per === 1 ? "once" : `${per} times`} in ${where}` +
        (g.duplicated > g.duplicatedExamples.length ? ` (first ${g.duplicatedExamples.length} below)` : ""),
    );
    for (const d of g.duplicatedExamples)
      findings.push(
        `duplicated: ${JSON.stringify(d.key)} present ${d.present} times (acknowledged ${d.acknowledged === 1 ? "once" : `${d.acknowledged} times`})`,
      );
  }
  // Keys counted beyond the examples listed: the reporters' "… and N more" must say how many there are.
  const unlisted =
    g.missing -
    g.missingExamples.length +
    (partial - (g.partialExamples ?? []).length) +
    (duplicated > 0 ? duplicated - g.duplicatedExamples.length : 0);
  const parts = [
    g.missing > 0 ? `${g.missing} of ${g.distinct} acknowledged writes are missing` : "",
    partial > 0 ? `${plural(partial, "key")} present fewer than ${per} times` : "",
    duplicated > 0
      ? `${plural(duplicated, "key")} present more than ${per === 1 ? "once" : `${per} times`}`
      : "",
  ].filter(Boolean);
  return fail(
    `${parts.join(" and ")} in ${where} (${indeterminate}).${repeatNote}`,
    findings,
    remediation(inv, g, !atLeast),
    {
      measured: g.missing + partial + duplicated,
      limit: 0,
      unit: "writes",
      ...(unlisted > 0 ? { unlisted } : {}),
    },
  );
}

export const noLostWrites: InvariantCheck<Inv, NoLostWritesGathered> = {
  kind: "no_lost_writes",
  readsOnly: true,
  stages: ["after"],
  gather: (db, inv, stage) => gatherNoLostWrites(db, inv, stage),
  evaluate: evaluateNoLostWrites,
};
