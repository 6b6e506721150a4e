/**
 * row_parity: the target holds exactly the source's rows (the declared columns), compared by count and by a
 * chunked hash: rows sorted by key (then by the row text, so duplicate keys sort deterministically), cut
 * into chunks of ROW_PARITY_CHUNK rows, each summarised as count + md5 of its rows' text. Chunks are by row
 * position, so the first mismatching chunk pinpoints where the first difference is (later chunks shift
 * after a missing or extra row and are reported only as "and N more").
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
  chunks: Chunk[];
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
): Promise<TableDigest> {
  const table = relationKey(name);
  const rel = await lookupRelation(db, name);
  if (!rel) return { table, exists: false, missingColumns: [], rows: 0, chunks: [] };
  const have = await relationColumns(db, rel.oid);
  const missingColumns = [key, ...columns].filter((c, i, all) => !have.includes(c) && all.indexOf(c) === i);
  if (missingColumns.length > 0) return { table, exists: true, missingColumns, rows: 0, chunks: [] };
  const row = `ROW(${columns.map(ident).join(", ")})::text`;
  const res = await db.query<{
    idx: string;
    n: number;
    first_key: string | null;
    last_key: string | null;
    hash: string;
  }>(
    `SELECT (rn - 1) / ${ROW_PARITY_CHUNK} AS idx, count(*)::int AS n,
            (array_agg(k ORDER BY rn))[1] AS first_key, (array_agg(k ORDER BY rn DESC))[1] AS last_key,
            md5(string_agg(r, E'\\n' ORDER BY rn)) AS hash
     FROM (SELECT row_number() OVER (ORDER BY ${ident(key)}, ${row}) AS rn, ${ident(key)}::text AS k, ${row} AS r
           FROM ${qualified(rel.qualifiedName)}${upTo !== undefined ? ` WHERE ${ident(key)} <= $1` : ""}) s
     GROUP BY 1 ORDER BY 1`,
    upTo !== undefined ? [upTo] : [],
  );
  const chunks = res.rows.map((r) => ({
    index: Number(r.idx),
    rows: r.n,
    firstKey: r.first_key,
    lastKey: r.last_key,
    hash: r.hash,
  }));
  return { table, exists: true, missingColumns: [], rows: chunks.reduce((s, c) => s + c.rows, 0), chunks };
}

export async function gatherRowParity(
  db: Queryable,
  inv: Inv,
  stage: Stage,
  earlier?: RowParityGathered,
): Promise<RowParityGathered> {
  const out: RowParityGathered = {};
  if (stage === inv.source_at) out.source = await digestTable(db, inv.source, inv.key, inv.columns);
  if (stage === "after") {
    // Rows above the source's highest key are writes that arrived during or after the migration (the
    // replayed load; writers resumed after a swap): no_lost_writes judges those, not parity.
    const source = inv.source_at === "before" ? earlier?.source : out.source;
    const upTo = source?.chunks.at(-1)?.lastKey ?? undefined;
    out.target = await digestTable(db, inv.target, inv.key, inv.columns, upTo ?? undefined);
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

  const findings: string[] = [];
  if (src.rows !== tgt.rows) {
    const diff = tgt.rows - src.rows;
    findings.push(
      `${tgt.table} has ${tgt.rows} rows, ${src.table} had ${src.rows} (${diff > 0 ? "+" : ""}${diff})`,
    );
  }
  const mismatched: number[] = [];
  const n = Math.max(src.chunks.length, tgt.chunks.length);
  for (let i = 0; i < n; i++) {
    const a = src.chunks[i];
    const b = tgt.chunks[i];
    if (!a || !b || a.hash !== b.hash || a.rows !== b.rows) mismatched.push(i);
  }
  for (const i of mismatched.slice(0, 3)) {
    findings.push(
      `rows #${i * ROW_PARITY_CHUNK + 1}–${(i + 1) * ROW_PARITY_CHUNK} by ${inv.key} differ: source ${inv.key} ${range(src.chunks[i])}, target ${inv.key} ${range(tgt.chunks[i])}`,
    );
  }
  if (mismatched.length > 3)
    findings.push(
      `and ${mismatched.length - 3} more differing chunks (positions shift after a missing or extra row)`,
    );

  if (findings.length === 0) {
    return pass(
      `${tgt.table} (after) matches ${src.table} (${inv.source_at}): ${plural(src.rows, "row")} in ${plural(src.chunks.length, "chunk")}, identical hashes over ${inv.columns.join(", ")}.`,
    );
  }
  return fail(
    `${tgt.table} (after) does not match ${src.table} (${inv.source_at}): ${src.rows !== tgt.rows ? `${tgt.rows} vs ${src.rows} rows` : "same row count, different contents"}, first difference near ${inv.key} ${src.chunks[mismatched[0] ?? 0]?.firstKey ?? tgt.chunks[mismatched[0] ?? 0]?.firstKey ?? "?"}.`,
    findings,
    "Rows were lost, duplicated or changed: check the backfill's batch boundaries (off-by-one at batch edges), writes arriving during the copy (dual-write or sync trigger), ON CONFLICT DO NOTHING swallowing rows, and that the cutover happens after the last batch.",
  );
}

export const rowParity: InvariantCheck<Inv, RowParityGathered> = {
  kind: "row_parity",
  stages: ["before", "after"],
  gather: gatherRowParity,
  evaluate: evaluateRowParity,
};
