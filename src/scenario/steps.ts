/**
 * Resolves the migration's phases and the rollback into runnable steps (SQL read and parsed), with the problems
 * of each step and of their order: duplicate names, a step that needs a load the scenario lacks, a fault that
 * arms no backfill.
 */
import { backfillProblems } from "./backfill-checks.ts";
import { SOAK_PHASE } from "./ids.ts";
import { pathString, type Problem, type YamlPath } from "./problem.ts";
import type { ResolvedScenario, ResolvedStep } from "./resolved.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import { isSqlStep, type Scenario, type SqlStep, type Step } from "./schema.ts";
import type { SqlText } from "./sql.ts";
import { readSql } from "./sql-source.ts";

export interface ResolvedSteps {
  phases: ResolvedScenario["phases"];
  rollback: ResolvedStep[];
  /** Names a budget may give as a phase. */
  phaseNames: Set<string>;
  /** "phase/step" keys a step budget may give. */
  stepKeys: Set<string>;
  problems: Problem[];
}

interface StepContext {
  scenario: Scenario;
  yaml: ScenarioYaml;
  /** For date placeholders in the steps' SQL; default: now. */
  now?: Date;
}

/** Every step of the migration and the rollback. Call loadSqlParser() first. */
export async function resolveSteps(
  scenario: Scenario,
  yaml: ScenarioYaml,
  now?: Date,
): Promise<ResolvedSteps> {
  const ctx: StepContext = { scenario, yaml, now };
  const problems: Problem[] = [];
  const phases: ResolvedScenario["phases"] = [];
  const phaseNames = new Set<string>();
  const stepKeys = new Set<string>();
  for (const [pi, phase] of scenario.migration.phases.entries()) {
    if (phaseNames.has(phase.name)) {
      problems.push({
        ...where(yaml, ["migration", "phases", pi, "name"]),
        message: `duplicate phase name "${phase.name}"`,
        fix: "give each phase a unique name",
      });
    }
    // The load's own windows carry these names: a phase so named would be judged as (and reported with) them.
    if (scenario.load && ["warmup", "cooldown", SOAK_PHASE].includes(phase.name)) {
      problems.push({
        ...where(yaml, ["migration", "phases", pi, "name"]),
        message: `phase name "${phase.name}" is the load's own window (before or after the migration)`,
        fix: `rename the phase, e.g. "${phase.name}_step"`,
      });
    }
    phaseNames.add(phase.name);
    const steps: ResolvedStep[] = [];
    for (const [si, step] of phase.steps.entries()) {
      const at = ["migration", "phases", pi, "steps", si];
      const key = `${phase.name}/${step.name}`;
      if (stepKeys.has(key)) {
        problems.push({
          ...where(yaml, [...at, "name"]),
          message: `duplicate step "${key}"`,
          fix: "give each step in a phase a unique name",
        });
      }
      stepKeys.add(key);
      const resolved = await resolveStep(ctx, step, "migration", phase.name, at);
      problems.push(...resolved.problems);
      if (resolved.step) steps.push(resolved.step);
    }
    phases.push({ name: phase.name, steps });
  }
  const rollback: ResolvedStep[] = [];
  for (const [si, step] of (scenario.rollback?.steps ?? []).entries()) {
    const resolved = await resolveStep(ctx, step, "rollback", "rollback", ["rollback", "steps", si]);
    problems.push(...resolved.problems);
    if (resolved.step) rollback.push(resolved.step);
  }
  problems.push(
    ...killsWithoutBackfill(
      scenario.migration.phases.flatMap((ph, pi) =>
        ph.steps.map((st, si) => ({ step: st, at: ["migration", "phases", pi, "steps", si] })),
      ),
      yaml,
    ),
    ...killsWithoutBackfill(
      (scenario.rollback?.steps ?? []).map((st, si) => ({ step: st, at: ["rollback", "steps", si] })),
      yaml,
    ),
  );
  return { phases, rollback, phaseNames, stepKeys, problems };
}

/** The step, absent when its SQL could not be read or parsed. */
async function resolveStep(
  ctx: StepContext,
  step: Step,
  section: "migration" | "rollback",
  phase: string,
  at: YamlPath,
): Promise<{ step?: ResolvedStep; problems: Problem[] }> {
  const base = { section, phase, name: step.name };
  if ("backfill" in step) {
    return {
      step: { ...base, kind: "backfill", backfill: step.backfill, at },
      problems: backfillProblems(step.backfill, at, ctx.yaml, ctx.scenario.target.replica),
    };
  }
  if ("fault" in step) {
    const problems: Problem[] = [];
    if (step.fault === "terminate_load_connections" && !ctx.scenario.load) {
      problems.push({
        ...where(ctx.yaml, [...at, "fault"]),
        message: `fault "terminate_load_connections" needs a load, but the scenario has no load section`,
        fix: "add a load: section, or remove the step",
      });
    }
    return {
      step: { ...base, kind: "fault", fault: step.fault, after_batches: step.after_batches },
      problems,
    };
  }
  if (!isSqlStep(step)) {
    const problems: Problem[] = [];
    if (!ctx.scenario.load) {
      problems.push({
        ...where(ctx.yaml, at),
        message: `step "${step.name}" controls the load, but the scenario has no load section`,
        fix: "add a load: section, or remove the step",
      });
    }
    if ("flag" in step) return { step: { ...base, kind: "flag", flags: step.flag }, problems };
    if ("pause_writes" in step) return { step: { ...base, kind: "pause_writes" }, problems };
    return { step: { ...base, kind: "resume_writes" }, problems };
  }
  const read = await readSql(ctx.yaml, step.sql, [...at, "sql"], ctx.now);
  if (!read.sql) return { problems: read.problems };
  const { sql: _sql, name: _name, ...rest } = step;
  return {
    step: { ...rest, ...base, kind: "sql", sqlText: read.sql },
    problems: [...read.problems, ...transactionModeProblems(step, read.sql, at)],
  };
}

function transactionModeProblems(step: SqlStep, sqlText: SqlText, at: YamlPath): Problem[] {
  const nonTx = sqlText.statements.find((s) => s.nonTransactional);
  if (step.transaction !== true || !nonTx) return [];
  return [
    {
      file: sqlText.file,
      line: nonTx.line,
      path: pathString([...at, "transaction"]),
      message: `"${nonTx.sql.slice(0, 60)}" cannot run inside a transaction block, but the step sets transaction: true`,
      fix: "move the statement to its own step, or set transaction: false",
    },
  ];
}

/** A kill_backfill_worker fault arms the next backfill step of its section: with none after it, it never fires. */
function killsWithoutBackfill(steps: { step: Step; at: YamlPath }[], yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  for (const [i, { step, at }] of steps.entries()) {
    if (!("fault" in step) || step.fault !== "kill_backfill_worker") continue;
    if (steps.slice(i + 1).some((s) => "backfill" in s.step)) continue;
    problems.push({
      ...where(yaml, [...at, "fault"]),
      message: "fault kill_backfill_worker arms the next backfill step, but no backfill step follows it",
      fix: "put the fault step before the backfill step it should hit, or remove it",
    });
  }
  return problems;
}
