/**
 * indexes_preserved: every index the original table had (before the migration) has an equivalent on the
 * target (after it). Indexes are matched by definition, never by name: a cutover renames tables and
 * indexes, and an index rebuilt on the new parent gets a new name. The one tolerated difference is the
 * partition key columns a UNIQUE/PRIMARY KEY index must gain on a partitioned table (whether uniqueness
 * still holds across partitions is unique_across_partitions' business).
 */
import type { IndexInfo, IndexKey, TableInfo } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import {
  fail,
  findTable,
  missingTable,
  missingTarget,
  type Outcome,
  partitionKeyColumns,
  pass,
  plural,
  sameWithAdditions,
} from "./common.ts";

type Inv = Extract<Invariant, { check: "indexes_preserved" }>;

export function sameKey(a: IndexKey, b: IndexKey): boolean {
  return (
    a.column === b.column &&
    a.expression === b.expression &&
    a.opclass === b.opclass &&
    a.collation === b.collation &&
    a.desc === b.desc &&
    a.nullsFirst === b.nullsFirst
  );
}

/** "UNIQUE btree (idempotency_key) WHERE (…)": the definition without the name and table, which change. */
export function describeIndex(ix: IndexInfo): string {
  const at = ix.definition.indexOf(" USING ");
  const body = at >= 0 ? ix.definition.slice(at + 7) : ix.definition;
  return `${ix.primary ? "PRIMARY KEY " : ix.unique ? "UNIQUE " : ""}${body}`;
}

/** Do the key lists match, allowing a unique index on a partitioned target to gain partition key columns? */
function keysMatch(original: IndexInfo, candidate: IndexInfo, target: TableInfo): boolean {
  if (
    original.keys.length === candidate.keys.length &&
    original.keys.every((k, i) => sameKey(k, candidate.keys[i]!))
  )
    return true;
  if (!original.unique || !candidate.unique || target.relkind !== "partitioned") return false;
  const partCols = new Set(partitionKeyColumns(target));
  return sameWithAdditions(
    original.keys,
    candidate.keys,
    sameKey,
    (k) => k.column !== null && partCols.has(k.column) && !k.desc,
  );
}

const sortedJoin = (xs: string[]) => [...xs].sort().join(",");

/** What differs between an original index and a target index with matching keys ([] = equivalent). */
function differences(original: IndexInfo, candidate: IndexInfo): string[] {
  const diffs: string[] = [];
  if (original.method !== candidate.method)
    diffs.push(`method ${candidate.method} instead of ${original.method}`);
  if (original.primary !== candidate.primary)
    diffs.push(original.primary ? "it is not the PRIMARY KEY" : "it is a PRIMARY KEY");
  else if (original.unique !== candidate.unique)
    diffs.push(original.unique ? "it is not UNIQUE" : "it is UNIQUE");
  if (original.unique && original.nullsNotDistinct !== candidate.nullsNotDistinct)
    diffs.push(original.nullsNotDistinct ? "it lost NULLS NOT DISTINCT" : "it gained NULLS NOT DISTINCT");
  if (original.predicate !== candidate.predicate)
    diffs.push(`predicate ${candidate.predicate ?? "(none)"} instead of ${original.predicate ?? "(none)"}`);
  if (sortedJoin(original.include) !== sortedJoin(candidate.include))
    diffs.push(`INCLUDE (${candidate.include.join(", ")}) instead of (${original.include.join(", ")})`);
  return diffs;
}

export function evaluateIndexesPreserved(before: TableInfo, after: TableInfo): Outcome {
  const findings: string[] = [];
  const originals = before.indexes;
  for (const o of originals) {
    const sameKeys = after.indexes.filter((c) => keysMatch(o, c, after));
    if (sameKeys.some((c) => differences(o, c).length === 0)) continue;
    const near = sameKeys[0];
    if (near) {
      findings.push(
        `${o.name} (${describeIndex(o)}): closest on ${after.qualifiedName} is ${near.name}, but ${differences(o, near).join("; ")}`,
      );
    } else {
      findings.push(`${o.name} (${describeIndex(o)}) has no equivalent on ${after.qualifiedName}`);
    }
  }
  if (findings.length === 0) {
    return pass(
      `${plural(originals.length, "index", "indexes")} of ${before.qualifiedName}: each has an equivalent on ${after.qualifiedName}.`,
    );
  }
  return fail(
    `${plural(findings.length, "index", "indexes")} of ${before.qualifiedName} (of ${originals.length}) are missing or different on ${after.qualifiedName}.`,
    findings,
    after.relkind === "partitioned"
      ? "Recreate each index on the partitioned parent: CREATE INDEX … ON ONLY the parent, build each partition's index CONCURRENTLY beforehand, then ALTER INDEX … ATTACH PARTITION (metadata only)."
      : `Recreate the missing indexes on ${after.qualifiedName} (CREATE INDEX CONCURRENTLY) with the original definitions.`,
  );
}

export const indexesPreserved: InvariantCheck<Inv> = {
  kind: "indexes_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "indexes");
    return evaluateIndexesPreserved(original, target);
  },
};
