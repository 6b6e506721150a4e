/**
 * grants_preserved: every privilege any role held on the original (including WITH GRANT OPTION) is held on
 * the target parent and on every one of its partitions. Through the parent PostgreSQL checks only the
 * parent's privileges, but anything that names a partition directly (maintenance jobs, archiving, reports on
 * the history partition) needs the partition's own grants, and CREATE TABLE … PARTITION OF copies none.
 * The parent must also keep the original's owner: only the owner may ALTER it or create partitions of it.
 */
import type { CatalogSnapshot, TableInfo } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import {
  descendants,
  fail,
  findTable,
  listSome,
  missingTable,
  missingTarget,
  type Outcome,
  pass,
  plural,
} from "./common.ts";

type Inv = Extract<Invariant, { check: "grants_preserved" }>;

/** Findings for one table of the target family compared to the original's ACL. */
function compareGrants(original: TableInfo, table: TableInfo): string[] {
  const findings: string[] = [];
  for (const g of original.grants) {
    const have = table.grants.find((x) => x.grantee === g.grantee);
    const missing = g.privileges.filter((p) => !have?.privileges.includes(p));
    if (missing.length > 0) {
      findings.push(
        `${g.grantee} lacks ${missing.join(", ")} on ${table.qualifiedName} (had it on ${original.qualifiedName})`,
      );
    }
    const lostOption = g.grantable.filter((p) => have?.privileges.includes(p) && !have.grantable.includes(p));
    if (lostOption.length > 0) {
      findings.push(
        `${g.grantee} lost WITH GRANT OPTION for ${lostOption.join(", ")} on ${table.qualifiedName}`,
      );
    }
  }
  return findings;
}

export function evaluateGrantsPreserved(
  after: CatalogSnapshot,
  original: TableInfo,
  target: TableInfo,
): Outcome {
  const family = [target, ...descendants(after, target)];
  const findings: string[] = [];
  if (target.owner !== original.owner) {
    findings.push(
      `${target.qualifiedName} is owned by ${target.owner}, ${original.qualifiedName} was owned by ${original.owner}`,
    );
  }
  for (const t of family) findings.push(...compareGrants(original, t));
  const grantees = original.grants.map((g) => g.grantee);
  if (findings.length === 0) {
    return pass(
      `The privileges of ${listSome(grantees)} on ${original.qualifiedName} hold on ${target.qualifiedName} and its ${plural(family.length - 1, "partition")}.`,
    );
  }
  return fail(
    `${plural(findings.length, "privilege problem")} on ${target.qualifiedName} and its partitions compared with ${original.qualifiedName}.`,
    findings,
    `Re-issue the original's GRANTs on ${target.qualifiedName} and on each partition (including partitions created later: make the partition-creating job GRANT too), and ALTER TABLE … OWNER TO the original owner.`,
  );
}

export const grantsPreserved: InvariantCheck<Inv> = {
  kind: "grants_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "grants");
    return evaluateGrantsPreserved(after, original, target);
  },
};
