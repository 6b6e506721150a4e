/**
 * constraints_preserved: the original's PRIMARY KEY, UNIQUE, CHECK and EXCLUDE constraints and its NOT NULL
 * columns exist on the target, matched by definition (not name), and are validated wherever the original's
 * were. PRIMARY KEY/UNIQUE may gain the partition key columns (PostgreSQL requires it on a partitioned table).
 * Foreign keys are fks_preserved's business.
 *
 * Partition-range CHECKs. Attach-style migrations prove a range with CHECK (created_at < …) NOT VALID +
 * VALIDATE on the old table, then attach it. Such a CHECK cannot be on the parent (it would reject new
 * rows). Decision: a CHECK of the original that references only partition key columns and has no
 * counterpart on the target is accepted when it still exists on one of the target's partitions (typically
 * the relabelled original, where it proves that partition's range). If it vanished altogether it is reported:
 * we cannot tell a range proof from a business rule on the same column (CHECK (created_at >= '2015-01-01')),
 * and silently accepting the loss of a business rule is the worse mistake. Usually the CHECK is added by the
 * migration itself and so is not in the before snapshot at all.
 */
import type { CatalogSnapshot, ConstraintInfo, TableInfo } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import {
  descendants,
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

type Inv = Extract<Invariant, { check: "constraints_preserved" }>;

const TYPE_NAMES: Record<string, string> = { p: "PRIMARY KEY", u: "UNIQUE", c: "CHECK", x: "EXCLUDE" };

/** The definition without " NOT VALID" (validation is compared separately). */
export function normalizedDefinition(c: ConstraintInfo): string {
  return c.definition.replace(/\s+NOT VALID$/, "");
}

/** PRIMARY KEY/UNIQUE definition with the first (key) column list blanked: the options that must match. */
function keyModifiers(c: ConstraintInfo): string {
  return normalizedDefinition(c).replace(/\([^)]*\)/, "()");
}

function findCounterpart(o: ConstraintInfo, target: TableInfo): ConstraintInfo | undefined {
  const candidates = target.constraints.filter((c) => c.type === o.type);
  if (o.type === "p" || o.type === "u") {
    const partCols = new Set(target.relkind === "partitioned" ? partitionKeyColumns(target) : []);
    return candidates.find(
      (c) =>
        keyModifiers(c) === keyModifiers(o) &&
        sameWithAdditions(
          o.columns,
          c.columns,
          (a, b) => a === b,
          (col) => partCols.has(col),
        ),
    );
  }
  return candidates.find((c) => normalizedDefinition(c) === normalizedDefinition(o));
}

export function evaluateConstraintsPreserved(
  after: CatalogSnapshot,
  original: TableInfo,
  target: TableInfo,
): Outcome {
  const findings: string[] = [];
  const notes: string[] = [];
  const partCols = new Set(partitionKeyColumns(target));
  const originals = original.constraints.filter((c) => c.type in TYPE_NAMES);

  for (const o of originals) {
    const counterpart = findCounterpart(o, target);
    if (counterpart) {
      if (o.validated && !counterpart.validated) {
        findings.push(
          `${TYPE_NAMES[o.type]} ${counterpart.name} on ${target.qualifiedName} is NOT VALID (${o.name} was validated): run ALTER TABLE … VALIDATE CONSTRAINT ${counterpart.name}`,
        );
      }
      continue;
    }
    if (o.type === "c" && o.columns.length > 0 && o.columns.every((col) => partCols.has(col))) {
      const onPartition = descendants(after, target).find((p) =>
        p.constraints.some((c) => c.type === "c" && normalizedDefinition(c) === normalizedDefinition(o)),
      );
      if (onPartition) {
        notes.push(`${o.name} kept on partition ${onPartition.qualifiedName} as its range proof`);
        continue;
      }
    }
    findings.push(
      `${TYPE_NAMES[o.type]} ${o.name} (${normalizedDefinition(o)}) has no counterpart on ${target.qualifiedName}`,
    );
  }

  let notNullCount = 0;
  for (const col of original.columns) {
    if (!col.notNull) continue;
    notNullCount++;
    const t = target.columns.find((c) => c.name === col.name);
    if (!t) findings.push(`column ${col.name} (NOT NULL) does not exist on ${target.qualifiedName}`);
    else if (!t.notNull)
      findings.push(
        `column ${col.name} is NOT NULL on ${original.qualifiedName} but nullable on ${target.qualifiedName}`,
      );
  }

  const total = `${plural(originals.length, "constraint")} and ${plural(notNullCount, "NOT NULL column")}`;
  if (findings.length === 0) {
    const note = notes.length > 0 ? ` (${notes.join("; ")})` : "";
    return pass(`${total} of ${original.qualifiedName}: each holds on ${target.qualifiedName}${note}.`);
  }
  return fail(
    `${plural(findings.length, "constraint problem")} among the ${total} of ${original.qualifiedName} on ${target.qualifiedName}.`,
    findings,
    `Recreate each constraint on ${target.qualifiedName} in the cutover (PRIMARY KEY/UNIQUE including the partition key columns), add CHECKs NOT VALID and VALIDATE them, and keep NOT NULL on the same columns (CREATE TABLE … (LIKE … INCLUDING ALL) carries NOT NULL and CHECKs).`,
  );
}

export const constraintsPreserved: InvariantCheck<Inv> = {
  kind: "constraints_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "constraints");
    return evaluateConstraintsPreserved(after, original, target);
  },
};
