/**
 * fks_preserved: foreign keys survive the cutover in both directions.
 *  - Outgoing: each FK the original declared exists on the target (same columns, referenced table and
 *    columns, ON UPDATE/ON DELETE), validated if the original's was. A self-reference must now point at the
 *    target.
 *  - Incoming: each FK that referenced the original from another table now references the target. This is
 *    the silent one: an FK follows its table's OID, so after "RENAME ledger TO ledger_history" every
 *    referencing FK points at the history table and rows written to the new parent are unprotected.
 * A partitioned target can only be referenced through a key that includes its partition key, so an FK
 * referencing it may gain column pairs whose referenced column is a partition key column.
 */
import type { CatalogSnapshot, ForeignKeyInfo, TableInfo } from "../catalog/types.ts";
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
} from "./common.ts";

type Inv = Extract<Invariant, { check: "fks_preserved" }>;

export function describeFk(fk: ForeignKeyInfo): string {
  return `${fk.from} (${fk.fromColumns.join(", ")}) → ${fk.to} (${fk.toColumns.join(", ")})`;
}

function pairs(fk: ForeignKeyInfo): string[] {
  return fk.fromColumns.map((c, i) => `${c}\u0000${fk.toColumns[i]}`);
}

/**
 * Does `candidate` enforce what `original` did, given where it must point? Extra column pairs are accepted
 * when their referenced column belongs to the (partitioned) referenced table's partition key.
 */
function fkMatches(
  original: ForeignKeyInfo,
  candidate: ForeignKeyInfo,
  from: string,
  to: string,
  extraTo: Set<string>,
) {
  if (candidate.parentOid !== null || candidate.from !== from || candidate.to !== to) return false;
  if (candidate.onDelete !== original.onDelete || candidate.onUpdate !== original.onUpdate) return false;
  const have = new Set(pairs(candidate));
  const want = pairs(original);
  if (!want.every((p) => have.has(p))) return false;
  const extra = [...have].filter((p) => !want.includes(p));
  return extra.every((p) => extraTo.has(p.split("\u0000")[1]!));
}

export function evaluateFksPreserved(
  before: CatalogSnapshot,
  after: CatalogSnapshot,
  original: TableInfo,
  target: TableInfo,
): Outcome {
  const findings: string[] = [];
  const targetPartCols = new Set(target.relkind === "partitioned" ? partitionKeyColumns(target) : []);
  const noExtra = new Set<string>();
  const topLevel = (fks: ForeignKeyInfo[]) => fks.filter((f) => f.parentOid === null);

  const outgoing = topLevel(original.foreignKeys.outgoing);
  for (const o of outgoing) {
    const selfRef = o.to === original.qualifiedName;
    const to = selfRef ? target.qualifiedName : o.to;
    const extraTo = selfRef ? targetPartCols : noExtra;
    const match = after.foreignKeys.find((c) => fkMatches(o, c, target.qualifiedName, to, extraTo));
    if (!match) {
      findings.push(
        `FK ${o.name} (${describeFk(o)}, ON DELETE ${o.onDelete}) is missing on ${target.qualifiedName}`,
      );
    } else if (o.validated && !match.validated) {
      findings.push(
        `FK ${match.name} on ${target.qualifiedName} is NOT VALID: run ALTER TABLE … VALIDATE CONSTRAINT ${match.name}`,
      );
    }
  }

  const incoming = topLevel(before.foreignKeys).filter(
    (f) => f.to === original.qualifiedName && f.from !== original.qualifiedName,
  );
  for (const o of incoming) {
    const match = after.foreignKeys.find((c) =>
      fkMatches(o, c, o.from, target.qualifiedName, targetPartCols),
    );
    if (match) {
      if (o.validated && !match.validated) {
        findings.push(
          `FK ${match.name} on ${o.from} referencing ${target.qualifiedName} is NOT VALID: VALIDATE it`,
        );
      }
      continue;
    }
    const sameName = after.foreignKeys.find(
      (c) => c.from === o.from && c.name === o.name && c.parentOid === null,
    );
    if (sameName) {
      findings.push(
        `FK ${o.name} on ${o.from} now references ${sameName.to} instead of ${target.qualifiedName} (it followed the table it was declared on)`,
      );
    } else if (!after.tables[o.from]) {
      findings.push(`FK ${o.name} (${describeFk(o)}) is gone: its table ${o.from} no longer exists`);
    } else {
      findings.push(
        `FK ${o.name} (${describeFk(o)}) no longer exists and nothing on ${o.from} references ${target.qualifiedName}`,
      );
    }
  }

  const total = `${plural(outgoing.length, "outgoing FK")} and ${plural(incoming.length, "incoming FK")}`;
  if (findings.length === 0) {
    return pass(`The ${total} of ${original.qualifiedName} are in place on ${target.qualifiedName}.`);
  }
  return fail(
    `${plural(findings.length, "foreign key problem")} among the ${total} of ${original.qualifiedName}.`,
    findings,
    `In the cutover, re-create the original's FKs on ${target.qualifiedName}, and drop and re-add every FK that referenced ${original.qualifiedName} so it REFERENCES ${target.qualifiedName} (a partitioned table is referenced through a key including its partition key), NOT VALID then VALIDATE CONSTRAINT.`,
  );
}

export const fksPreserved: InvariantCheck<Inv> = {
  kind: "fks_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "foreign keys");
    return evaluateFksPreserved(before, after, original, target);
  },
};
