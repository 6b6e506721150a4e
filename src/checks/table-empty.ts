/**
 * table_empty: the table holds no rows at the end. 002 moved every row out of the renamed old table behind
 * its UNION ALL view; a row left there is a row the movers missed, still served by the view today and lost
 * the day the view and the old table are dropped. Counting stops at a cap: the question is "any?".
 */
import { relationKey } from "../catalog/types.ts";
import { type Queryable, qualified } from "../db/sql.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { CheckInput, InvariantCheck, Stage } from "./check.ts";
import { fail, inconclusive, lookupRelation, type Outcome, pass, plural } from "./common.ts";

type Inv = Extract<Invariant, { check: "table_empty" }>;

export const TABLE_EMPTY_COUNT_CAP = 10_000;

export interface TableEmptyGathered {
  table: string;
  exists: boolean;
  /** Rows, capped at TABLE_EMPTY_COUNT_CAP + 1. */
  rows: number;
}

export async function gatherTableEmpty(db: Queryable, inv: Inv, _stage: Stage): Promise<TableEmptyGathered> {
  const table = relationKey(inv.table);
  const rel = await lookupRelation(db, inv.table);
  if (!rel) return { table, exists: false, rows: 0 };
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${qualified(table)} LIMIT ${TABLE_EMPTY_COUNT_CAP + 1}) s`,
  );
  return { table, exists: true, rows: res.rows[0]!.n };
}

export function evaluateTableEmpty(inv: Inv, input: CheckInput<TableEmptyGathered>): Outcome {
  const g = input.gathered.after;
  const table = relationKey(inv.table);
  if (!g)
    return inconclusive(
      `${table} was not inspected after the migration.`,
      "Re-run; a rehearse bug if it persists.",
    );
  if (!g.exists)
    return inconclusive(
      `Table ${table} (the invariant's \`table\`) does not exist after the migration.`,
      "Fix the table name in the scenario's invariant.",
    );
  if (g.rows === 0) return pass(`${table} is empty.`, { measured: 0, limit: 0, unit: "rows" });
  const count =
    g.rows > TABLE_EMPTY_COUNT_CAP ? `more than ${TABLE_EMPTY_COUNT_CAP} rows` : plural(g.rows, "row");
  return fail(
    `${table} still holds ${count}: the move left rows behind.`,
    [`${table} holds ${count}`],
    "Check the movers' key ranges cover the whole table (min to max key at the time of the move, plus rows " +
      "written to the old table meanwhile), and re-run the move for what is left before dropping the table.",
    { measured: g.rows, limit: 0, unit: "rows" },
  );
}

export const tableEmpty: InvariantCheck<Inv, TableEmptyGathered> = {
  kind: "table_empty",
  readsOnly: true,
  stages: ["after"],
  gather: gatherTableEmpty,
  evaluate: evaluateTableEmpty,
};
