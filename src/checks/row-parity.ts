/**
 * row_parity: the target holds exactly the source's rows (the declared columns), compared by count and by a
 * chunked hash: rows sorted by key (then by a hash of the row text, so duplicate keys sort deterministically),
 * cut into chunks of ROW_PARITY_CHUNK rows, each summarised as count + the sum of its rows' text hashes. Chunks
 * are by row position, so the first mismatching chunk pinpoints where the first difference is (later chunks
 * shift after a missing or extra row and are reported only as "and N more").
 *
 * The sum is order-independent, so a chunk's hash is a function of the multiset of its rows' text: two chunks
 * hash alike exactly when they hold the same rows (up to a 64-bit collision), as an ordered digest would, but
 * the per-row work (rendering, hashing) runs in the server's parallel workers and no second sort is needed.
 *
 * The chunks are only needed to say where a difference is. The source before the migration is read in chunks
 * (it cannot be read again later); everything read after it first as one whole-table count and hash sum, with
 * no sort (a parallel aggregate: about half the time of the chunked read at 1M rows), and in chunks only when
 * that total differs from the other side's, which is the failing case. Equal totals are equal chunks summed,
 * so the verdict is the same as comparing every chunk.
 *
 * `source_at: before` gathers the source in the before stage (the same table, relabelled by the migration:
 * ledger before vs ledger after); `after` gathers it at the end. An empty source is an error unless
 * `allow_empty_source` (migrations that move rows out of it), where it is accepted.
 */
import { relationKey } from "../catalog/types.ts";
import { ident, type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, inconclusive, lookupRelation, type Outcome, pass, plural, relationColumns } from "./common.ts";

type Inv = Extract<Invariant, { check: "row_parity" }>;

export const ROW_PARITY_CHUNK = 10_000;

export interface Chunk {
  index: number;
  rows: number;
  /** First and last key of the chunk (text form). */
  firstKey: string | null;
  lastKey: string | null;
  hash: string;
}

export interface TableDigest {
  table: string;
  exists: boolean;
  missingColumns: string[];
  rows: number;
  /** Sum of every row's hash (decimal text): the chunks' hashes summed. */
  hash: string;
  /** Highest key read (text form), null for an empty table. */
  lastKey: string | null;
  /** Null when only the whole-table totals were read (they matched the other side's). */
  chunks: Chunk[] | null;
}

export interface RowParityGathered {
  source?: TableDigest;
  target?: TableDigest;
}

export async function digestTable(
  db: Queryable,
  name: string,
  key: string,
  columns: string[],
  /** Only rows whose key is at most this (text form, cast to the key's type by the server). */
  upTo?: string,
  /** Read chunk by chunk (to locate differences), or only the whole-table totals. */
  chunked = true,
): Promise<TableDigest> {
  const table = relationKey(name);
  const empty = { rows: 0, hash: "0", lastKey: null, chunks: [] };
  const rel = await lookupRelation(db, name);
  if (!rel) return { table, exists: false, missingColumns: [], ...empty };
  const have = await relationColumns(db, rel.oid);
  const missingColumns = [key, ...columns].filter((c, i, all) => !have.includes(c) && all.indexOf(c) === i);
  if (missingColumns.length > 0) return { table, exists: true, missingColumns, ...empty };
  const from = { table: qualified(rel.qualifiedName), key: ident(key), columns, upTo };
  if (!chunked) {
    const t = await inSnapshot(db, () => totalRow(db, from));
    return {
      table,
      exists: true,
      missingColumns: [],
      rows: Number(t.n),
      hash: t.hash,
      lastKey: t.last_key,
      chunks: null,
    };
  }
  const rows = await inSnapshot(db, () => digestRows(db, from));
  const chunks = rows.map((r) => ({
    index: Number(r.idx),
    rows: r.n,
    firstKey: r.first_key,
    lastKey: r.last_key,
    hash: r.hash,
  }));
  return {
    table,
    exists: true,
    missingColumns: [],
    rows: chunks.reduce((s, c) => s + c.rows, 0),
    hash: chunks.reduce((s, c) => s + BigInt(c.hash), 0n).toString(),
    lastKey: chunks.at(-1)?.lastKey ?? null,
    chunks,
  };
}

interface DigestFrom {
  table: string;
  key: string;
  columns: string[];
  upTo: string | undefined;
}

function rowsOf(f: DigestFrom): { sql: string; params: string[] } {
  const where = f.upTo !== undefined ? ` WHERE ${f.key} <= $1` : "";
  return {
    sql: `SELECT ${f.key} AS k, hashtextextended(ROW(${f.columns.map(ident).join(", ")})::text, 0) AS h FROM ${f.table}${where}`,
    params: f.upTo !== undefined ? [f.upTo] : [],
  };
}

/**
 * Runs `read` in one REPEATABLE READ transaction, so every query in it sees the same rows. Parallel workers
 * are made cheap to choose here (the clone is otherwise idle): the row text is rendered and hashed in them.
 */
async function inSnapshot<T>(db: Queryable, read: () => Promise<T>): Promise<T> {
  await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    await db.query("SET LOCAL parallel_setup_cost = 0");
    await db.query("SET LOCAL parallel_tuple_cost = 0");
    // The sorted (key, hash) pairs are 16 bytes a row: in memory up to ~2M rows instead of a disk merge.
    await db.query("SET LOCAL work_mem = '64MB'");
    const out = await read();
    await db.query("COMMIT");
    return out;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** Count, hash sum and highest key of the whole table: one parallel aggregate, no sort. */
async function totalRow(
  db: Queryable,
  f: DigestFrom,
): Promise<{ n: string; hash: string; last_key: string | null }> {
  const { sql, params } = rowsOf(f);
  const res = await db.query<{ n: string; hash: string; last_key: string | null }>(
    `SELECT count(*)::text AS n, coalesce(sum(h), 0)::text AS hash, max(k)::text AS last_key FROM (${sql}) t`,
    params,
  );
  return res.rows[0]!;
}

interface DigestRow {
  idx: string;
  n: number;
  first_key: string | null;
  last_key: string | null;
  hash: string;
}

/**
 * One row per chunk; called inside inSnapshot, so the row count that marks the last row and the digest see
 * the same rows. Only the window numbering the rows and the per-chunk sums run in this backend. Nested
 * subqueries keep the row text rendered once per row rather than once per use.
 */
async function digestRows(db: Queryable, f: DigestFrom): Promise<DigestRow[]> {
  const { sql, params } = rowsOf(f);
  const total = (await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM (${sql}) t`, params)).rows[0]!
    .n;
  const last = `rn % ${ROW_PARITY_CHUNK} = 0 OR rn = ${Number(total)}`;
  const res = await db.query<DigestRow>(
    `SELECT (rn - 1) / ${ROW_PARITY_CHUNK} AS idx, count(*)::int AS n,
            ((array_agg(k) FILTER (WHERE rn % ${ROW_PARITY_CHUNK} = 1))[1])::text AS first_key,
            ((array_agg(k) FILTER (WHERE ${last}))[1])::text AS last_key,
            sum(h)::text AS hash
       FROM (SELECT row_number() OVER (ORDER BY k, h) AS rn, k, h FROM (${sql}) t) s
      GROUP BY 1 ORDER BY 1`,
    params,
  );
  return res.rows;
}

/** Same rows by count and hash sum: the chunks would all match too. */
function sameTotals(a: TableDigest, b: TableDigest): boolean {
  return a.rows === b.rows && a.hash === b.hash;
}

export async function gatherRowParity(
  db: Queryable,
  inv: Inv,
  stage: Stage,
  earlier?: RowParityGathered,
): Promise<RowParityGathered> {
  const out: RowParityGathered = {};
  // Read before, the source is read in chunks: it cannot be read again once the migration has run.
  if (stage === "before" && inv.source_at === "before")
    out.source = await digestTable(db, inv.source, inv.key, inv.columns);
  if (stage === "after") {
    let source = inv.source_at === "before" ? earlier?.source : undefined;
    if (inv.source_at === "after")
      source = out.source = await digestTable(db, inv.source, inv.key, inv.columns, undefined, false);
    // Rows above the source's highest key are writes that arrived during or after the migration (the
    // replayed load; writers resumed after a swap): no_lost_writes judges those, not parity.
    const upTo = source?.lastKey ?? undefined;
    // With no source to compare against there is nothing to gain by reading the totals first.
    out.target = await digestTable(db, inv.target, inv.key, inv.columns, upTo, !source);
    if (source?.exists && out.target.exists && !sameTotals(source, out.target)) {
      // They differ: read both in chunks to say where (the source again only when read after).
      if (!source.chunks) source = out.source = await digestTable(db, inv.source, inv.key, inv.columns);
      out.target = await digestTable(db, inv.target, inv.key, inv.columns, source.lastKey ?? undefined);
    }
  }
  return out;
}

function range(c: Chunk | undefined): string {
  return c ? `${c.firstKey} … ${c.lastKey} (${plural(c.rows, "row")})` : "nothing";
}

export function evaluateRowParity(inv: Inv, input: CheckInput<RowParityGathered>): Outcome {
  const src = input.gathered[inv.source_at]?.source;
  const tgt = input.gathered.after?.target;
  if (!src || !tgt) {
    return inconclusive(
      `Row digests for ${inv.source} → ${inv.target} were not gathered.`,
      "Re-run; a rehearse bug if it persists.",
    );
  }
  if (!src.exists) {
    return inconclusive(
      `Table ${src.table} (the invariant's \`source\`) does not exist ${inv.source_at} the migration; fix the scenario's invariant (source or source_at).`,
      "Fix the source table name or `source_at` in the scenario's invariant.",
    );
  }
  if (src.missingColumns.length > 0) {
    return inconclusive(
      `Column(s) ${src.missingColumns.join(", ")} do not exist on ${src.table}; fix the invariant's \`key\`/\`columns\`.`,
      "Fix the column names in the scenario's invariant.",
    );
  }
  if (!tgt.exists) {
    return fail(
      `Target ${tgt.table} does not exist after the migration: none of the ${src.rows} source rows are there.`,
      [
        `table ${tgt.table} is missing after the migration (if the name is wrong, fix the invariant's \`target\`)`,
      ],
      "Make the migration create the target under the name the invariant gives.",
    );
  }
  if (tgt.missingColumns.length > 0) {
    return fail(
      `Target ${tgt.table} lacks column(s) ${tgt.missingColumns.join(", ")} the source has.`,
      [`${tgt.table} has no column ${tgt.missingColumns.join(", ")}`],
      "Create the target with every source column (CREATE TABLE … (LIKE source INCLUDING ALL)).",
    );
  }
  if (src.rows === 0) {
    if (inv.allow_empty_source) {
      return pass(
        `Source ${src.table} is empty (${inv.source_at} the migration), accepted by allow_empty_source; target has ${plural(tgt.rows, "row")}.`,
      );
    }
    return inconclusive(
      `Source ${src.table} is empty ${inv.source_at} the migration: parity would prove nothing.`,
      "Compare against the source as it was (`source_at: before`), or set `allow_empty_source: true` if the migration moves rows out of it.",
    );
  }

  if (sameTotals(src, tgt)) {
    return pass(
      `${tgt.table} (after) matches ${src.table} (${inv.source_at}): ${plural(src.rows, "row")}, identical hash over ${inv.columns.join(", ")}.`,
    );
  }
  if (!src.chunks || !tgt.chunks) {
    return inconclusive(
      `${tgt.table} and ${src.table} differ, but were not read in chunks to say where.`,
      "Re-run; a rehearse bug if it persists.",
    );
  }
  const findings: string[] = [];
  if (src.rows !== tgt.rows) {
    const diff = tgt.rows - src.rows;
    findings.push(
      `${tgt.table} has ${tgt.rows} rows, ${src.table} had ${src.rows} (${diff > 0 ? "+" : ""}${diff})`,
    );
  }
  const [a, b] = [src.chunks, tgt.chunks];
  const mismatched: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (!a[i] || !b[i] || a[i]!.hash !== b[i]!.hash || a[i]!.rows !== b[i]!.rows) mismatched.push(i);
  }
  for (const i of mismatched.slice(0, 3)) {
    findings.push(
      `rows #${i * ROW_PARITY_CHUNK + 1}–${(i + 1) * ROW_PARITY_CHUNK} by ${inv.key} differ: source ${inv.key} ${range(a[i])}, target ${inv.key} ${range(b[i])}`,
    );
  }
  if (mismatched.length > 3)
    findings.push(
      `and ${mismatched.length - 3} more differing chunks (positions shift after a missing or extra row)`,
    );
  return fail(
    `${tgt.table} (after) does not match ${src.table} (${inv.source_at}): ${src.rows !== tgt.rows ? `${tgt.rows} vs ${src.rows} rows` : "same row count, different contents"}, first difference near ${inv.key} ${a[mismatched[0] ?? 0]?.firstKey ?? b[mismatched[0] ?? 0]?.firstKey ?? "?"}.`,
    findings,
    "Rows were lost, duplicated or changed: check the backfill's batch boundaries (off-by-one at batch edges), writes arriving during the copy (dual-write or sync trigger), ON CONFLICT DO NOTHING swallowing rows, and that the cutover happens after the last batch.",
  );
}

export const rowParity: InvariantCheck<Inv, RowParityGathered> = {
  kind: "row_parity",
  readsOnly: true,
  stages: ["before", "after"],
  // 2: TableDigest gained hash and lastKey.
  keepBefore: { format: 2 },
  gather: gatherRowParity,
  evaluate: evaluateRowParity,
};
