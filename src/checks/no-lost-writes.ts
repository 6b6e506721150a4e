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
  /** Distinct acknowledged keys found more than once. */
  duplicated: number;
  missingExamples: string[];
  duplicatedExamples: { key: string; present: number; acknowledged: number }[];
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
    // p: one row per distinct acknowledged key with how often it was acknowledged and how often it is in
    // the table. Materialized once, read by the counts and the two example lists.
    const res = await db.query<{
      acknowledged: string;
      distinct_keys: string;
      missing: string;
      duplicated: string;
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
             count(*) FILTER (WHERE present > 1)::text AS duplicated,
             (SELECT coalesce(json_agg(key ORDER BY key), '[]'::json)
                FROM (SELECT key FROM p WHERE present = 0 ORDER BY key LIMIT ${n}) s) AS missing_examples,
             (SELECT coalesce(json_agg(json_build_object('key', key, 'present', present, 'acknowledged', acks)
                                       ORDER BY key), '[]'::json)
                FROM (SELECT key, present, acks FROM p WHERE present > 1 ORDER BY key LIMIT ${n}) s)
               AS duplicated_examples,
             (SELECT count(*) FROM pg_temp.${ident(INDETERMINATE)} WHERE key <> '')::text AS indeterminate,
             (SELECT count(*) FROM pg_temp.${ident(INDETERMINATE)} i
               WHERE i.key <> '' AND EXISTS (SELECT 1 FROM ${target} t WHERE (t.${col})::text = i.key))::text
               AS indeterminate_present
        FROM p`);
    const r = res.rows[0]!;
    return {
      ...empty,
      acknowledged: Number(r.acknowledged),
      distinct: Number(r.distinct_keys),
      missing: Number(r.missing),
      duplicated: Number(r.duplicated),
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

const REMEDIATION =
  "Writes arriving after the last sync were dropped by the swap: pause writers (a pause_writes step) around the " +
  "final sync and the rename, or keep a sync trigger on the old table until the rename, as in write-up 004; " +
  "a key present twice means a catch-up copied rows the trigger had already copied — make the copy skip keys " +
  "already in the target (ON CONFLICT DO NOTHING on a unique key).";

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
  if (g.missing === 0 && g.duplicated === 0)
    return pass(
      `${plural(g.acknowledged, "acknowledged write")}, each present exactly once in ${where} (${indeterminate}).${repeatNote}`,
      { measured: 0, limit: 0, unit: "writes" },
    );

  const findings: string[] = [];
  if (g.missing > 0) {
    findings.push(
      `${plural(g.missing, "acknowledged key")} of ${g.distinct} missing from ${where}` +
        (g.missing > g.missingExamples.length ? ` (first ${g.missingExamples.length} below)` : ""),
    );
    for (const k of g.missingExamples) findings.push(`missing: ${JSON.stringify(k)}`);
  }
  if (g.duplicated > 0) {
    findings.push(
      `${plural(g.duplicated, "acknowledged key")} present more than once in ${where}` +
        (g.duplicated > g.duplicatedExamples.length ? ` (first ${g.duplicatedExamples.length} below)` : ""),
    );
    for (const d of g.duplicatedExamples)
      findings.push(
        `duplicated: ${JSON.stringify(d.key)} present ${d.present} times (acknowledged ${d.acknowledged === 1 ? "once" : `${d.acknowledged} times`})`,
      );
  }
  const parts = [
    g.missing > 0 ? `${g.missing} of ${g.distinct} acknowledged writes are missing` : "",
    g.duplicated > 0 ? `${plural(g.duplicated, "key")} present more than once` : "",
  ].filter(Boolean);
  return fail(`${parts.join(" and ")} in ${where} (${indeterminate}).${repeatNote}`, findings, REMEDIATION, {
    measured: g.missing + g.duplicated,
    limit: 0,
    unit: "writes",
  });
}

export const noLostWrites: InvariantCheck<Inv, NoLostWritesGathered> = {
  kind: "no_lost_writes",
  stages: ["after"],
  gather: (db, inv, stage) => gatherNoLostWrites(db, inv, stage),
  evaluate: evaluateNoLostWrites,
};
