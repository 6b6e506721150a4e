/**
 * sequence: after the migration the id column still draws from the intended sequence, the next id cannot
 * collide with any existing row, and no more ids were skipped than the sequence cache explains (seeds/000
 * "setval(GREATEST(max old, max new))", seeds/001 "reuse the sequence", seeds/004 "fix the sequence").
 *
 *  - intended sequence: `sequence` from the invariant, else the one the column used before (compared by
 *    OID, so a renamed sequence still counts as the same one).
 *  - no collision: the id the next INSERT gets (gathered after by calling nextval() on the clone, then
 *    restoring the sequence with setval()) is above max(column) over the table and the `also` tables.
 *  - gap: the largest step between consecutive ids above the pre-migration maximum — the ids present in the
 *    table and the `also` tables, bounded below by max(id) before and above by the next id — is at most
 *    max_gap (default: the sequence's CACHE × INCREMENT, the ids another session may legitimately hold; with
 *    CACHE 1 that is exactly one step), plus one INCREMENT per load write that failed (a failed INSERT still
 *    consumed its id). Comparing only the next id with the new max(id) misses a jump under load:
 *    `setval(max(id) + 1000)` leaves a 1000-id hole, and the writes after it raise max(id) past the hole.
 *    Without load nothing lies above the old max and the step is next id − max before, as it always was.
 * Values are compared as BigInt (ids beyond 2^53 are common with time-sortable ids, seeds/003).
 */
import { sequenceFromDefault } from "../catalog/parse.ts";
import { relationKey } from "../catalog/types.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, findTable, inconclusive, listSome, lookupRelation, type Outcome, pass } from "./common.ts";

type Inv = Extract<Invariant, { check: "sequence" }>;

export interface SequenceState {
  oid: number;
  name: string;
  lastValue: string;
  isCalled: boolean;
  increment: string;
  cache: string;
}

export interface SequenceGathered {
  /** max(column) per table that exists at this stage (null: no rows); tables not existing are left out. */
  maxima: Array<{ table: string; max: string | null }>;
  /** Set when the table's column has no such column. */
  missingColumn?: boolean;
  /** Whether the invariant's `table` exists at this stage. */
  tableExists: boolean;
  /** The sequence the column's DEFAULT/identity uses now (null: none). Read before calling nextval. */
  sequence: SequenceState | null;
  /** After only: nextval() of that sequence, i.e. the id the next INSERT would get. */
  nextId?: string;
  /**
   * After only (with a max before and a positive INCREMENT): the largest step between consecutive ids from the
   * pre-migration maximum up to the next id, over the table and the `also` tables, and how many ids lie above
   * the old maximum. Absent in facts gathered before it existed.
   */
  largestStep?: { from: string; to: string; above: number };
}

// Same resolution as the snapshot: the attrdef's dependency on the sequence, or the identity sequence.
const COLUMN_SEQUENCE_SQL = `
SELECT s.oid, sn.nspname::text AS schema, s.relname::text AS name, sq.seqincrement::text AS increment,
       sq.seqcache::text AS cache
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
JOIN LATERAL (
  SELECT dep.refobjid AS seq FROM pg_depend dep
  WHERE d.oid IS NOT NULL AND dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
    AND dep.refclassid = 'pg_class'::regclass
  UNION ALL
  SELECT dep.objid FROM pg_depend dep
  WHERE a.attidentity <> '' AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid = a.attrelid
    AND dep.refobjsubid = a.attnum AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i'
) dep ON true
JOIN pg_class s ON s.oid = dep.seq AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_sequence sq ON sq.seqrelid = s.oid
WHERE a.attrelid = $1 AND a.attname = $2 AND NOT a.attisdropped
LIMIT 1`;

async function columnSequence(
  db: Queryable,
  tableOid: number,
  column: string,
): Promise<SequenceState | null> {
  let row = (
    await db.query<{ oid: number; schema: string; name: string; increment: string; cache: string }>(
      COLUMN_SEQUENCE_SQL,
      [tableOid, column],
    )
  ).rows[0];
  if (!row) {
    // nextval('x'::text) records no dependency: fall back to the name the DEFAULT text gives.
    const def = await db.query<{ expr: string | null }>(
      `SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a
       JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = $1 AND a.attname = $2`,
      [tableOid, column],
    );
    const seq = sequenceFromDefault(def.rows[0]?.expr ?? null);
    if (!seq) return null;
    const [schema, name] = [seq.slice(0, seq.indexOf(".")), seq.slice(seq.indexOf(".") + 1)];
    row = (
      await db.query<{ oid: number; schema: string; name: string; increment: string; cache: string }>(
        `SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, s.seqincrement::text AS increment,
                s.seqcache::text AS cache
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
         WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, name],
      )
    ).rows[0];
    if (!row) return null;
  }
  const state = await db.query<{ last_value: string; is_called: boolean }>(
    `SELECT last_value::text AS last_value, is_called FROM ${ident(row.schema)}.${ident(row.name)}`,
  );
  return {
    oid: row.oid,
    name: `${row.schema}.${row.name}`,
    lastValue: state.rows[0]!.last_value,
    isCalled: state.rows[0]!.is_called,
    increment: row.increment,
    cache: row.cache,
  };
}

/**
 * The largest step between consecutive ids in [floor, next] over the tables: the ids above the old maximum are
 * the rows written during the migration (thousands, not the table), read through the column's index.
 */
async function largestStep(
  db: Queryable,
  column: string,
  tables: string[],
  floor: string,
  next: string,
): Promise<SequenceGathered["largestStep"]> {
  const col = ident(column);
  const above = tables
    .map(
      (t) => `SELECT ${col}::bigint FROM ${qualified(t)} WHERE ${col} > $1::bigint AND ${col} < $2::bigint`,
    )
    .join(" UNION ALL ");
  const res = await db.query<{ from: string; to: string; above: string }>(
    `WITH ids AS (SELECT DISTINCT v FROM (SELECT $1::bigint UNION ALL SELECT $2::bigint${above ? ` UNION ALL ${above}` : ""}) u(v)),
          steps AS (SELECT v, lead(v) OVER (ORDER BY v) AS nxt FROM ids)
     SELECT v::text AS from, nxt::text AS to, (SELECT count(*) - 2 FROM ids)::text AS above
       FROM steps WHERE nxt IS NOT NULL ORDER BY nxt - v DESC, v LIMIT 1`,
    [floor, next],
  );
  const row = res.rows[0];
  return row ? { from: row.from, to: row.to, above: Number(row.above) } : undefined;
}

export async function gatherSequence(
  db: Queryable,
  inv: Inv,
  stage: Stage,
  earlier?: SequenceGathered,
): Promise<SequenceGathered> {
  const maxima: SequenceGathered["maxima"] = [];
  let tableOid: number | null = null;
  let missingColumn = false;
  for (const name of [inv.table, ...inv.also]) {
    const rel = await lookupRelation(db, name);
    if (!rel) continue;
    if (name === inv.table) tableOid = rel.oid;
    const hasColumn = await db.query(
      "SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped",
      [rel.oid, inv.column],
    );
    if (hasColumn.rowCount === 0) {
      if (name === inv.table) missingColumn = true;
      continue;
    }
    // max() over a partitioned table uses each partition's index on the column (the PK) when there is one.
    const res = await db.query<{ max: string | null }>(
      `SELECT max(${ident(inv.column)})::text AS max FROM ${qualified(rel.qualifiedName)}`,
    );
    maxima.push({ table: rel.qualifiedName, max: res.rows[0]?.max ?? null });
  }
  const sequence =
    tableOid !== null && !missingColumn ? await columnSequence(db, tableOid, inv.column) : null;
  const out: SequenceGathered = { maxima, tableExists: tableOid !== null, sequence };
  if (missingColumn) out.missingColumn = true;
  if (stage === "after" && sequence) {
    // nextval() is the only exact way to see the id the next INSERT gets (caches, increments, cycling);
    // setval() then puts the sequence back so a second invariant, or the re-check after a rollback, sees
    // the same state. The database is idle while checks gather.
    const next = await db.query<{ v: string }>("SELECT nextval($1::oid::regclass)::text AS v", [
      sequence.oid,
    ]);
    await db.query("SELECT setval($1::oid::regclass, $2::bigint, $3)", [
      sequence.oid,
      sequence.lastValue,
      sequence.isCalled,
    ]);
    out.nextId = next.rows[0]!.v;
    const floor = earlier ? maxOf(earlier.maxima.map((m) => m.max)) : null;
    if (floor !== null && BigInt(sequence.increment) > 0n && BigInt(out.nextId) > floor)
      out.largestStep = await largestStep(
        db,
        inv.column,
        maxima.map((m) => m.table),
        floor.toString(),
        out.nextId,
      );
  }
  return out;
}

function maxOf(values: Array<string | null>): bigint | null {
  let best: bigint | null = null;
  for (const v of values) {
    if (v === null) continue;
    const b = BigInt(v);
    if (best === null || b > best) best = b;
  }
  return best;
}

export function evaluateSequence(inv: Inv, input: CheckInput<SequenceGathered>): Outcome {
  const before = input.gathered.before;
  const after = input.gathered.after;
  const table = relationKey(inv.table);
  if (!after || !before) {
    return inconclusive(
      `Sequence facts for ${table} were not gathered ${!before ? "before" : "after"} the migration.`,
      "Re-run; this is a rehearse bug if it persists.",
    );
  }
  if (!after.tableExists) {
    return inconclusive(
      `Table ${table} (the invariant's \`table\`) does not exist after the migration; fix the scenario's invariant.`,
      "Fix the table name in the scenario's invariant.",
    );
  }
  if (after.missingColumn) {
    return inconclusive(
      `Column ${inv.column} does not exist on ${table}; fix the invariant's \`column\`.`,
      "Fix the column name in the scenario's invariant.",
    );
  }

  // Which sequence was intended: the configured one, else the one the column used before (by OID).
  const snapBefore =
    findTable(input.before, inv.table)?.columns.find((c) => c.name === inv.column)?.sequence ?? null;
  const intendedName = inv.sequence ? relationKey(inv.sequence) : (before.sequence?.name ?? snapBefore);
  if (!intendedName) {
    return inconclusive(
      `Cannot tell which sequence ${table}.${inv.column} should use: it used none before the migration.`,
      "Name the sequence in the invariant (`sequence: …`).",
    );
  }

  const findings: string[] = [];
  const seq = after.sequence;
  if (!seq || after.nextId === undefined) {
    return fail(
      `${table}.${inv.column} has no sequence default after the migration: inserts that omit ${inv.column} fail.`,
      [`${table}.${inv.column} has no DEFAULT nextval()/identity (intended: ${intendedName})`],
      `Set ALTER TABLE ${table} ALTER COLUMN ${inv.column} SET DEFAULT nextval('${intendedName}') in the cutover (CREATE TABLE … (LIKE …) copies no serial default unless INCLUDING DEFAULTS).`,
    );
  }
  const sameSequence = inv.sequence
    ? seq.name === intendedName
    : before.sequence
      ? seq.oid === before.sequence.oid
      : seq.name === intendedName;
  if (!sameSequence) {
    findings.push(`${table}.${inv.column} draws from ${seq.name}, intended ${intendedName}`);
  }

  const maxAfter = maxOf(after.maxima.map((m) => m.max));
  const maxBefore = maxOf(before.maxima.map((m) => m.max));
  const nextId = BigInt(after.nextId);
  const tablesAfter = after.maxima.map((m) => m.table);
  if (maxAfter !== null && nextId <= maxAfter) {
    findings.push(
      `next id ${nextId} from ${seq.name} (last_value ${seq.lastValue}, is_called ${seq.isCalled}) ≤ max(${inv.column}) ${maxAfter} over ${listSome(tablesAfter)}: the next inserts collide`,
    );
  }

  const highest = maxOf([maxBefore?.toString() ?? null, maxAfter?.toString() ?? null]);
  // One cached block spans CACHE values of INCREMENT ids each: with cache 1, increment 5 the next id is 5 up.
  const step = BigInt(seq.increment) < 0n ? -BigInt(seq.increment) : BigInt(seq.increment);
  const base = inv.max_gap !== undefined ? BigInt(inv.max_gap) : BigInt(seq.cache) * step;
  const failed = BigInt(input.run?.failed_writes ?? 0);
  // Each failed load write may have consumed an id that no row holds: a run of them is not a jump.
  const limit = base + failed * step;
  const allowed = `allowed gap ${limit}${inv.max_gap === undefined ? " (the sequence CACHE × INCREMENT" : ` (max_gap ${base}`}${failed > 0n ? ` + ${failed} failed load writes × ${step})` : ")"}`;
  let gap: bigint | null = null;
  const run = after.largestStep;
  if (run && maxBefore !== null && (maxAfter === null || nextId > maxAfter)) {
    gap = BigInt(run.to) - BigInt(run.from);
    if (gap > limit) {
      const missing = gap / (step === 0n ? 1n : step) - 1n;
      const where =
        BigInt(run.to) === nextId
          ? `between ${run.from} and the next id ${nextId}`
          : `between ${run.from} and ${run.to}, with ${run.above} ids written above the pre-migration max since, the next id ${nextId}`;
      findings.push(
        `${missing} ids skipped ${where}: a jump of ${gap} above the pre-migration max ${maxBefore} (${allowed})`,
      );
    }
  } else if (highest !== null) {
    gap = nextId - highest;
    if (gap > limit) {
      findings.push(
        `next id ${nextId} is ${gap} above the highest id ${highest} (max before ${maxBefore ?? "none"}, after ${maxAfter ?? "none"}); ${allowed}`,
      );
    }
  }
  const measure = gap !== null ? { measured: Number(gap), limit: Number(limit), unit: "ids" } : {};

  if (findings.length === 0) {
    const shown =
      highest === null
        ? " (no rows)"
        : run && gap !== null && maxBefore !== null
          ? `; largest step ${gap} between consecutive ids above the max before ${maxBefore} (${run.above} ids written during the migration)`
          : `, ${gap} above the highest id ${highest}`;
    return pass(`${table}.${inv.column} draws from ${seq.name}; next id ${nextId}${shown}.`, measure);
  }
  // Only the jump is wrong: the sequence is the right one and ahead of every id, but was set too far.
  const onlyJump = findings.length === 1 && sameSequence && (maxAfter === null || nextId > maxAfter);
  return fail(
    `Sequence for ${table}.${inv.column} is not safe after the migration: ${findings.length === 1 ? findings[0] : `${findings.length} problems`}.`,
    findings,
    onlyJump
      ? `The sequence was moved past max(${inv.column}) by more than the ids it handed out: sync it to the largest id, not beyond it — SELECT setval('${intendedName}', GREATEST((SELECT max(${inv.column}) FROM <old>), (SELECT max(${inv.column}) FROM <new>), (SELECT last_value FROM ${intendedName}))) — and never add a margin: a skipped range breaks consumers that page or reconcile by id.`
      : `In the cutover, point the default at the intended sequence (ALTER TABLE … ALTER COLUMN ${inv.column} SET DEFAULT nextval('${intendedName}'), ALTER SEQUENCE … OWNED BY the new table) and sync it: SELECT setval('${intendedName}', GREATEST((SELECT max(${inv.column}) FROM <old>), (SELECT max(${inv.column}) FROM <new>))).`,
    measure,
  );
}

export const sequenceCheck: InvariantCheck<Inv, SequenceGathered> = {
  kind: "sequence",
  stages: ["before", "after"],
  gather: gatherSequence,
  evaluate: evaluateSequence,
};
