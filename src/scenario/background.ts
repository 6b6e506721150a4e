/**
 * Resolves the `background:` sessions: where each starts (a phase or phase/step that must exist, or a
 * schedule), the table its kind needs, and its SQL read and parsed — every problem located in scenario.yaml
 * before anything runs, so a typo never silently drops the session that was meant to be in the way.
 */
import type { Problem, YamlPath } from "./problem.ts";
import type { ResolvedBackground } from "./resolved.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import type { Scenario } from "./schema.ts";
import { readSql } from "./sql-source.ts";
import type { ResolvedSteps } from "./steps.ts";

/** Every background session resolved, or the problems that stop it. Call loadSqlParser() first. */
export async function resolveBackground(
  scenario: Scenario,
  steps: ResolvedSteps,
  yaml: ScenarioYaml,
  now?: Date,
): Promise<{ sessions: ResolvedBackground[]; problems: Problem[] }> {
  const sessions: ResolvedBackground[] = [];
  const problems: Problem[] = [];
  const names = new Set<string>();
  for (const [i, s] of scenario.background.entries()) {
    const at: YamlPath = ["background", i];
    if (names.has(s.name)) {
      problems.push({
        ...where(yaml, [...at, "name"]),
        message: `two background sessions share the name "${s.name}"`,
        fix: "give each session a unique name (it becomes its application_name)",
      });
    }
    names.add(s.name);
    problems.push(...startProblems(s, steps, yaml, at), ...shapeProblems(s, yaml, at));
    if (s.kind !== "sql" || s.sql === undefined) {
      sessions.push({ ...s, sqlText: undefined });
      continue;
    }
    const read = await readSql(yaml, s.sql, [...at, "sql"], now);
    problems.push(...read.problems);
    if (read.sql) sessions.push({ ...s, sqlText: read.sql });
  }
  return { sessions, problems };
}

type Session = Scenario["background"][number];

/** `at` names a phase or phase/step of the migration; exactly one of `at` and `every`. */
function startProblems(s: Session, steps: ResolvedSteps, yaml: ScenarioYaml, at: YamlPath): Problem[] {
  if ((s.at === undefined) === (s.every === undefined)) {
    return [
      {
        ...where(yaml, at),
        message:
          s.at === undefined
            ? `background session "${s.name}" has no start: neither at: nor every:`
            : `background session "${s.name}" has both at: and every:`,
        fix: "start it just before a phase or step (at: cutover, or at: cutover/swap) or on a schedule (every: 30s), not both",
      },
    ];
  }
  if (s.at === undefined || steps.phaseNames.has(s.at) || steps.stepKeys.has(s.at)) return [];
  return [
    {
      ...where(yaml, [...at, "at"]),
      message: `no phase or step "${s.at}" in the migration`,
      fix: `use a phase or "phase/step" from migration.phases: ${[...steps.phaseNames, ...steps.stepKeys].join(", ")}`,
    },
  ];
}

/** The fields each kind needs, and a duration range that is one. */
function shapeProblems(s: Session, yaml: ScenarioYaml, at: YamlPath): Problem[] {
  const problems: Problem[] = [];
  if (s.kind === "sql" && s.sql === undefined) {
    problems.push({
      ...where(yaml, at),
      message: `background session "${s.name}" of kind sql has no sql`,
      fix: 'add sql: "…" (or sql: {file: background/report.sql}), or use a kind like long_read with a table',
    });
  }
  if (s.kind !== "sql" && s.sql !== undefined) {
    problems.push({
      ...where(yaml, [...at, "sql"]),
      message: `sql: is only for kind sql; a ${s.kind} session runs its own statements`,
      fix: "remove sql:, or set kind: sql",
    });
  }
  if (s.kind !== "sql" && s.table === undefined) {
    problems.push({
      ...where(yaml, at),
      message: `background session "${s.name}" of kind ${s.kind} needs the table it works on`,
      fix: "add table: <name> (a table of the dataset's schema)",
    });
  }
  if (typeof s.duration === "object" && s.duration.min > s.duration.max) {
    problems.push({
      ...where(yaml, [...at, "duration"]),
      message: `the duration range runs backwards (min ${s.duration.min} ms > max ${s.duration.max} ms)`,
      fix: "write {min: …, max: …} with min at most max",
    });
  }
  return problems;
}
