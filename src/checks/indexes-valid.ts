/**
 * indexes_valid: after the migration every index on the listed tables and on all their partitions is valid
 * and ready, and every partitioned index has a child index attached on every partition. A failed
 * CREATE INDEX CONCURRENTLY leaves an INVALID index that the planner ignores but writes still maintain; a
 * partition without its child index keeps the parent index invalid and makes the next ATTACH build the index
 * under ACCESS EXCLUSIVE (seeds/003).
 */
import type { CatalogSnapshot, TableInfo } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import { descendants, fail, findTable, missingTable, type Outcome, pass, plural } from "./common.ts";

type Inv = Extract<Invariant, { check: "indexes_valid" }>;

export function evaluateIndexesValid(after: CatalogSnapshot, roots: TableInfo[]): Outcome {
  const findings: string[] = [];
  const seen = new Set<string>();
  let indexCount = 0;
  for (const root of roots) {
    for (const table of [root, ...descendants(after, root)]) {
      if (seen.has(table.qualifiedName)) continue;
      seen.add(table.qualifiedName);
      for (const ix of table.indexes) {
        indexCount++;
        const missingOn: string[] = [];
        if (ix.partitioned) {
          for (const p of table.partitioning?.partitions ?? []) {
            const child = after.tables[p.name];
            if (!child) continue; // outside the snapshot's schemas
            if (!child.indexes.some((c) => c.parentIndexOid === ix.oid)) missingOn.push(p.name);
          }
          for (const p of missingOn) {
            findings.push(
              `partition ${p} has no index attached to ${table.schema}.${ix.name} (${ix.definition})`,
            );
          }
        }
        // A partitioned index is invalid exactly while some partition lacks its child: already reported.
        if (!ix.valid && missingOn.length === 0) {
          findings.push(
            `index ${table.schema}.${ix.name} on ${table.qualifiedName} is INVALID (a failed or interrupted CREATE INDEX CONCURRENTLY, or an invalid child index)`,
          );
        }
        if (!ix.ready) {
          findings.push(
            `index ${table.schema}.${ix.name} on ${table.qualifiedName} is not ready (writes do not maintain it)`,
          );
        }
      }
    }
  }
  if (findings.length === 0) {
    return pass(
      `All ${plural(indexCount, "index", "indexes")} on ${plural(seen.size, "table")} are valid, ready and attached on every partition.`,
    );
  }
  return fail(
    `${plural(findings.length, "index problem")} on ${roots.map((r) => r.qualifiedName).join(", ")} and their partitions.`,
    findings,
    "For a partition missing its index: CREATE INDEX CONCURRENTLY on the partition, then ALTER INDEX <parent index> ATTACH PARTITION <child index>. For an INVALID index: REINDEX INDEX CONCURRENTLY (or drop it and CREATE INDEX CONCURRENTLY again).",
  );
}

export const indexesValid: InvariantCheck<Inv> = {
  kind: "indexes_valid",
  evaluate(inv, { after }) {
    const roots: TableInfo[] = [];
    for (const name of inv.tables) {
      const t = findTable(after, name);
      if (!t) return missingTable("tables", name, "after");
      roots.push(t);
    }
    return evaluateIndexesValid(after, roots);
  },
};
