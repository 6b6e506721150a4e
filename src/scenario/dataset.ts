/**
 * The dataset section's SQL (the schema to seed into, the SQL run after seeding) and whether there is anything
 * to seed at all.
 */
import type { Problem } from "./problem.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import type { Scenario } from "./schema.ts";
import type { SqlText } from "./sql.ts";
import { readSql } from "./sql-source.ts";

export interface DatasetSql {
  /** Absent only with a problem saying why. */
  schemaSql?: SqlText;
  afterSql?: SqlText;
  problems: Problem[];
}

/** dataset.schema and dataset.after, read and parsed. Call loadSqlParser() first. */
export async function readDatasetSql(
  scenario: Scenario,
  yaml: ScenarioYaml,
  now?: Date,
): Promise<DatasetSql> {
  const schema = await readSql(yaml, scenario.dataset.schema, ["dataset", "schema"], now);
  const after = scenario.dataset.after
    ? await readSql(yaml, scenario.dataset.after, ["dataset", "after"], now)
    : undefined;
  return {
    schemaSql: schema.sql,
    afterSql: after?.sql,
    problems: [...schema.problems, ...(after?.problems ?? [])],
  };
}

export function emptyDatasetProblems(scenario: Scenario, yaml: ScenarioYaml): Problem[] {
  if (scenario.dataset.tables.length > 0) return [];
  return [
    {
      ...where(yaml, ["dataset"]),
      path: "dataset.tables",
      message: "no table to seed",
      fix: "add at least one table with rows and column generators",
    },
  ];
}
