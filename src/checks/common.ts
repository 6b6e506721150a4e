/** Helpers shared by the invariant checks: result builders, snapshot navigation, relation lookups. */
import { type CatalogSnapshot, relationKey, type TableInfo } from "../catalog/types.ts";
import { ident, type Queryable, splitName } from "../db/sql.ts";
import type { CheckResult } from "../report/model.ts";
import type { Stage } from "./check.ts";

/** What evaluate() returns: a CheckResult without the id/kind the runner fills in. */
export type Outcome = Omit<CheckResult, "id" | "kind">;

export function pass(summary: string, extra: Partial<Outcome> = {}): Outcome {
  return { status: "pass", summary, findings: [], ...extra };
}

export function fail(
  summary: string,
  findings: string[],
  remediation: string,
  extra: Partial<Outcome> = {},
): Outcome {
  return { status: "fail", summary, findings, remediation, ...extra };
}

/** The check could not decide (bad configuration, unexpected database error): the run is inconclusive. */
export function inconclusive(summary: string, remediation: string, findings: string[] = []): Outcome {
  return { status: "error", summary, findings, remediation };
}

const FIX_INVARIANT =
  "Fix the table name in the scenario's invariant (names are schema-qualified, default public).";

/**
 * A table the invariant names is missing where it must exist: a configuration error, not a finding about
 * the migration.
 */
export function missingTable(field: string, name: string, stage: Stage): Outcome {
  return inconclusive(
    `Table ${relationKey(name)} (the invariant's \`${field}\`) does not exist ${stage} the migration; fix the scenario's invariant.`,
    FIX_INVARIANT,
  );
}

/** The target is gone after the migration: for checks about what the target must carry, that is the failure. */
export function missingTarget(name: string, what: string): Outcome {
  return fail(
    `Target ${relationKey(name)} does not exist after the migration, so none of the original's ${what} survive.`,
    [
      `table ${relationKey(name)} is missing after the migration (if the name is wrong, fix the invariant's \`target\`)`,
    ],
    "Make the migration create the target table under the name the invariant gives (or correct `target`).",
  );
}

export function findTable(snapshot: CatalogSnapshot, name: string): TableInfo | undefined {
  return snapshot.tables[relationKey(name)];
}

/** Every partition below `table`, depth first (sub-partitions included), as far as the snapshot covers. */
export function descendants(snapshot: CatalogSnapshot, table: TableInfo): TableInfo[] {
  const out: TableInfo[] = [];
  const walk = (t: TableInfo) => {
    for (const p of t.partitioning?.partitions ?? []) {
      const child = snapshot.tables[p.name];
      if (!child) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(table);
  return out;
}

/** The plain-column part of a table's partition key (expression parts cannot be added to a UNIQUE key). */
export function partitionKeyColumns(table: TableInfo): string[] {
  return (table.partitioning?.key ?? []).flatMap((k) => (k.column ? [k.column] : []));
}

/**
 * True when `target` is `original`, or `original` with extra elements inserted that `mayAdd` accepts and that
 * the original does not already contain, the relative order of the rest unchanged. PostgreSQL makes a
 * partitioned table's PRIMARY KEY/UNIQUE carry the partition key columns, so a UNIQUE (k) becomes
 * UNIQUE (k, created_at): the same constraint as far as the migration could keep it.
 */
export function sameWithAdditions<T>(
  original: readonly T[],
  target: readonly T[],
  same: (a: T, b: T) => boolean,
  mayAdd: (t: T) => boolean,
): boolean {
  let i = 0;
  for (const t of target) {
    if (i < original.length && same(original[i]!, t)) i++;
    else if (mayAdd(t) && !original.some((o) => same(o, t))) continue;
    else return false;
  }
  return i === original.length;
}

/** "a, b, c and 4 more". */
export function listSome(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

export function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** Looks a scenario table name up as the snapshot keys it (schema + exact name, default public). */
export async function lookupRelation(
  db: Queryable,
  name: string,
): Promise<{ oid: number; relkind: string; qualifiedName: string } | null> {
  const { schema, name: rel } = splitName(name);
  const res = await db.query<{ oid: number; relkind: string }>(
    `SELECT c.oid, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schema, rel],
  );
  const row = res.rows[0];
  return row ? { oid: row.oid, relkind: row.relkind, qualifiedName: `${schema}.${rel}` } : null;
}

/** Column names of a relation (non-dropped, user columns), in order. */
export async function relationColumns(db: Queryable, oid: number): Promise<string[]> {
  const res = await db.query<{ attname: string }>(
    "SELECT attname::text AS attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    [oid],
  );
  return res.rows.map((r) => r.attname);
}

/** SQLSTATE and message of a database error (anything else: its message). */
export function pgError(err: unknown): { sqlstate?: string; message: string } {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; message?: unknown };
    return {
      sqlstate: typeof e.code === "string" ? e.code : undefined,
      message: typeof e.message === "string" ? e.message : String(err),
    };
  }
  return { message: String(err) };
}

export interface SequenceState {
  oid: number;
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

/**
 * last_value/is_called of every user sequence this role may read and set. nextval() is not undone by
 * ROLLBACK, so a probe that writes inside a rolled-back transaction restores these afterwards
 * (restoreSequences): otherwise the sequence check would see ids the probe burnt as a gap.
 */
export async function readSequenceStates(db: Queryable): Promise<SequenceState[]> {
  const seqs = (
    await db.query<{ oid: number; schema: string; name: string }>(
      `SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_%' 
         -- CASE: the planner may evaluate the privilege test before the relkind test.
         AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'SELECT, UPDATE') ELSE false END`,
    )
  ).rows;
  if (seqs.length === 0) return [];
  const sql = seqs
    .map(
      (s, i) =>
        `SELECT $${i + 1}::oid AS oid, last_value::text AS last_value, is_called FROM ${ident(s.schema)}.${ident(s.name)}`,
    )
    .join(" UNION ALL ");
  const res = await db.query<{ oid: number; last_value: string; is_called: boolean }>(
    sql,
    seqs.map((s) => s.oid),
  );
  const byOid = new Map(res.rows.map((r) => [r.oid, r]));
  return seqs.flatMap((s) => {
    const r = byOid.get(s.oid);
    return r ? [{ ...s, lastValue: r.last_value, isCalled: r.is_called }] : [];
  });
}

/** Puts back every sequence whose state differs from `saved`. */
export async function restoreSequences(db: Queryable, saved: SequenceState[]): Promise<void> {
  if (saved.length === 0) return;
  const now = new Map((await readSequenceStates(db)).map((s) => [s.oid, s]));
  for (const s of saved) {
    const cur = now.get(s.oid);
    if (cur && (cur.lastValue !== s.lastValue || cur.isCalled !== s.isCalled)) {
      await db.query("SELECT setval($1::oid::regclass, $2::bigint, $3)", [s.oid, s.lastValue, s.isCalled]);
    }
  }
}
