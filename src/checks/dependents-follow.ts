/**
 * dependents_follow: what referenced the original table before the migration references the target after it.
 * Views, materialized views, foreign keys from other tables, triggers declared FROM it, other tables'
 * policies and publications all hold the table's OID, not its name: after "RENAME rental TO rental_history"
 * and a new partitioned "rental", every one of them still reads the history, so rows written to the new
 * table are invisible to the reports (issue 15: sales_by_store, rental_by_category) and unprotected by the
 * foreign keys — while every lock budget and every other invariant passes. A dependent the migration dropped
 * (and did not re-create) fails too.
 *
 * The table's own triggers and policies are triggers_preserved's and rls_preserved's; this check covers the
 * objects outside it. A dependent is matched after the migration by kind, name and the relation it is
 * declared on; failing that, by OID, to say what it now references.
 */
import { dependentsOf } from "../catalog/dependents.ts";
import { type DependentInfo, relationKey } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import { fail, findTable, inconclusive, missingTable, type Outcome, pass, plural } from "./common.ts";

type Inv = Extract<Invariant, { check: "dependents_follow" }>;

function describe(d: DependentInfo): string {
  return d.on ? `${d.kind} ${d.name} on ${d.on}` : `${d.kind} ${d.name}`;
}

const sameObject = (a: DependentInfo, b: DependentInfo) =>
  a.kind === b.kind && a.name === b.name && a.on === b.on;

/** What the dependent `d` (which referenced `original`) became after the migration, or null when it follows. */
function finding(d: DependentInfo, after: DependentInfo[], original: string, target: string): string | null {
  const named = after.filter((a) => sameObject(a, d));
  if (named.some((a) => a.references.includes(target))) return null;
  const now = named[0] ?? after.find((a) => a.kind === d.kind && a.oid === d.oid);
  if (!now) return `${describe(d)} (it referenced ${original}) was dropped and not re-created`;
  const renamed = now.name !== d.name ? ` (now named ${now.name})` : "";
  const instead = now.references.filter((r) => !d.references.includes(r));
  if (instead.length > 0)
    return `${describe(d)}${renamed} now references ${instead.join(", ")} instead of ${target}`;
  if (now.references.includes(original))
    return `${describe(d)}${renamed} still references ${original} instead of ${target}`;
  return `${describe(d)}${renamed} no longer references ${original} or ${target}`;
}

export function evaluateDependentsFollow(
  before: DependentInfo[],
  after: DependentInfo[],
  original: string,
  target: string,
): Outcome {
  const deps = dependentsOf(before, original);
  const findings = deps.flatMap((d) => finding(d, after, original, target) ?? []);
  if (findings.length === 0)
    return pass(
      deps.length === 0
        ? `Nothing outside ${original} referenced it (no view, materialized view, foreign key, trigger, policy or publication).`
        : `${plural(deps.length, "dependent")} of ${original} reference ${target} after the migration.`,
    );
  return fail(
    `${plural(findings.length, "dependent")} of ${original} (of ${deps.length}) no longer reference ${target} after the migration.`,
    findings,
    `In the cutover transaction, once ${target} exists: CREATE OR REPLACE VIEW each view with its original ` +
      `definition (the name now resolves to ${target}); DROP and re-CREATE each materialized view over ${target} ` +
      "(then REFRESH it, CONCURRENTLY if it has a unique index; re-grant it); drop and re-add each foreign key " +
      `with REFERENCES ${target} (NOT VALID, then VALIDATE CONSTRAINT); re-create the triggers and policies ` +
      `that name the old table; ALTER PUBLICATION … ADD TABLE ${target} (publish_via_partition_root = true for ` +
      "a partitioned table) and DROP TABLE the renamed one.",
  );
}

export const dependentsFollow: InvariantCheck<Inv> = {
  kind: "dependents_follow",
  evaluate(inv, { before, after }) {
    if (!findTable(before, inv.original)) return missingTable("original", inv.original, "before");
    if (!before.dependents || !after.dependents)
      return inconclusive(
        "The catalog snapshots carry no dependents (written by an older rehearse, or built without them).",
        "Re-run the rehearsal with this version of rehearse.",
      );
    return evaluateDependentsFollow(
      before.dependents,
      after.dependents,
      relationKey(inv.original),
      relationKey(inv.target ?? inv.original),
    );
  },
};
