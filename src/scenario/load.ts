/**
 * Reads a scenario folder into a resolved, validated scenario — or into the complete list of problems, each
 * with its file, line and path, so a user fixes them all in one pass. Nothing here touches a database.
 */
import { resolveBackground } from "./background.ts";
import { emptyDatasetProblems, readDatasetSql } from "./dataset.ts";
import { ScenarioError } from "./problem.ts";
import { type BundledExtensions, referenceProblems } from "./references.ts";
import type { ResolvedScenario } from "./resolved.ts";
import { readScenarioYaml } from "./scenario-yaml.ts";
import { loadSqlParser } from "./sql.ts";
import { resolveSteps } from "./steps.ts";
import { validateScenario } from "./validate.ts";

export { formatProblem, type Problem, ScenarioError } from "./problem.ts";
export type {
  ResolvedBackfillStep,
  ResolvedBackground,
  ResolvedControlStep,
  ResolvedFaultStep,
  ResolvedScenario,
  ResolvedSqlStep,
  ResolvedStep,
} from "./resolved.ts";

export interface LoadOptions {
  /** The time {{month}} / {{day}} placeholders in SQL are computed from; default: now. */
  now?: Date;
  /**
   * What the embedded binaries bring, so an extension they lack is refused before any cluster starts
   * (src/run/scenario.ts hands it in); without it that is found when the clone runs.
   */
  embedded?: BundledExtensions;
}

/** Loads `<dir>/scenario.yaml` (or a path to the yaml itself). Throws ScenarioError listing every problem. */
export async function loadScenario(dirOrFile: string, options: LoadOptions = {}): Promise<ResolvedScenario> {
  const yaml = await readScenarioYaml(dirOrFile);
  const scenario = await validateScenario(yaml, options.now);
  await loadSqlParser();
  const dataset = await readDatasetSql(scenario, yaml, options.now);
  const steps = await resolveSteps(scenario, yaml, options.now);
  const background = await resolveBackground(scenario, steps, yaml, options.now);
  const problems = [
    ...dataset.problems,
    ...steps.problems,
    ...background.problems,
    ...(await referenceProblems(scenario, steps, yaml, options.embedded)),
    ...emptyDatasetProblems(scenario, yaml),
  ];
  if (problems.length > 0 || !dataset.schemaSql) throw new ScenarioError(problems);
  const { dir, file, locate } = yaml;
  const { schemaSql, afterSql } = dataset;
  return {
    dir,
    file,
    scenario,
    schemaSql,
    afterSql,
    phases: steps.phases,
    rollback: steps.rollback,
    background: background.sessions,
    locate,
  };
}
