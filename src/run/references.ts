/** The scenario's names checked against the catalog before the migration: a typo is bad input. */
import type { CatalogSnapshot } from "../catalog/types.ts";
import { splitName } from "../db/sql.ts";
import type { ResolvedScenario, ResolvedStep } from "../scenario/load.ts";
import type { Invariant } from "../scenario/schema.ts";
import { Inconclusive, located } from "./errors.ts";

/** The key a catalog snapshot files a table under (schema.name, the schema defaulted). */
export function qualify(name: string): string {
  const { schema, name: n } = splitName(name);
  return `${schema}.${n}`;
}

/** Tables an invariant reads before the migration must exist before it: a typo is bad input, not a failure. */
export function checkReferences(rs: ResolvedScenario, before: CatalogSnapshot): void {
  const problems: string[] = [];
  /** A column the check reads from a table that exists before the migration (which cannot have added it yet). */
  const columnRefs = (inv: Invariant): [(string | number)[], string, string][] => {
    if (inv.check === "sequence" && !inv.sequence) return [[["column"], inv.table, inv.column]];
    if (inv.check === "row_parity" && inv.source_at === "before")
      return [
        [["key"], inv.source, inv.key],
        ...inv.columns.map((c, j): [(string | number)[], string, string] => [["columns", j], inv.source, c]),
      ];
    return [];
  };
  for (const [i, inv] of rs.scenario.invariants.entries()) {
    for (const [field, table, column] of columnRefs(inv)) {
      const t = before.tables[qualify(table)];
      if (t && !t.columns.some((c) => c.name === column))
        problems.push(
          located(
            rs,
            ["invariants", i, ...field],
            `table "${table}" has no column "${column}" before the migration`,
            `name a column of ${table} (have: ${t.columns.map((c) => c.name).join(", ")})`,
          ),
        );
    }
  }
  for (const [i, inv] of rs.scenario.invariants.entries()) {
    const refs: [string, string][] = [];
    if ("original" in inv) refs.push(["original", inv.original]);
    if (inv.check === "row_parity" && inv.source_at === "before") refs.push(["source", inv.source]);
    // Without `sequence:` the intended sequence is the one the table used before, so it must exist then; with
    // it, the table may be one the migration creates (000's events_partitioned, given the shared sequence).
    if (inv.check === "sequence" && !inv.sequence) refs.push(["table", inv.table]);
    for (const [field, table] of refs) {
      if (!before.tables[qualify(table)]) {
        problems.push(
          located(
            rs,
            ["invariants", i, field],
            `table "${table}" does not exist before the migration`,
            `name a table that schema.sql creates (have: ${Object.keys(before.tables).join(", ")})`,
          ),
        );
      }
    }
  }
  problems.push(...backfillReferenceProblems(rs, before));
  if (problems.length > 0)
    throw new Inconclusive(`the scenario names tables or columns that do not exist:\n${problems.join("\n")}`);
}

/**
 * A backfill's source, target and key must exist when it starts. A table or column that neither exists
 * before the migration nor is named by any SQL step before the backfill cannot come into being in time: bad
 * input, found before the first step rather than as a failed migration. (A name an earlier step mentions is
 * given the benefit of the doubt; the step itself then fails if it was wrong.)
 */
function backfillReferenceProblems(rs: ResolvedScenario, before: CatalogSnapshot): string[] {
  const problems: string[] = [];
  const earlierSql: string[] = [];
  const mentioned = (name: string) => {
    const word = new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "i");
    return earlierSql.some((sql) => word.test(sql));
  };
  const visit = (st: ResolvedStep) => {
    if (st.kind === "sql") earlierSql.push(st.sqlText.text);
    if (st.kind !== "backfill") return;
    const b = st.backfill;
    for (const field of ["source", "target"] as const) {
      const table = b[field];
      if (!before.tables[qualify(table)] && !mentioned(splitName(table).name))
        problems.push(
          located(
            rs,
            [...st.at, "backfill", field],
            `table "${table}" does not exist before the migration, and no step before the backfill creates it`,
            `name a table that schema.sql or an earlier step creates (have: ${Object.keys(before.tables).join(", ")})`,
          ),
        );
    }
    const source = before.tables[qualify(b.source)];
    if (source && !source.columns.some((c) => c.name === b.key) && !mentioned(b.key))
      problems.push(
        located(
          rs,
          [...st.at, "backfill", "key"],
          `table "${b.source}" has no column "${b.key}", and no step before the backfill adds it`,
          `name an integer column of ${b.source} (have: ${source.columns.map((c) => c.name).join(", ")})`,
        ),
      );
  };
  for (const phase of rs.phases) for (const st of phase.steps) visit(st);
  for (const st of rs.rollback) visit(st);
  return problems;
}

/** target.hot_tables by oid, resolved before the migration so a rename keeps a table hot. */
export function hotTableOids(rs: ResolvedScenario, before: CatalogSnapshot): Set<number> {
  const hotOids = new Set<number>();
  for (const t of rs.scenario.target.hot_tables) {
    const table = before.tables[qualify(t)];
    if (!table)
      throw new Inconclusive(
        located(
          rs,
          ["target", "hot_tables"],
          `hot table "${t}" does not exist after seeding`,
          "name a table that schema.sql creates",
        ),
      );
    hotOids.add(table.oid);
  }
  return hotOids;
}
