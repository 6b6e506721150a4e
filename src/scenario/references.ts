/**
 * Names one part of a scenario gives that another part must define: budgets and expectations naming phases,
 * steps and checks, load statements naming flags that steps set, settings that need a replica or a load, and
 * extensions the embedded binaries must bundle. A typo in any of them would silently disable what it names.
 */
import { budgetCheckIds } from "./ids.ts";
import type { Problem } from "./problem.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import { type Load, type Scenario, writeOperations } from "./schema.ts";
import type { ResolvedSteps } from "./steps.ts";

/**
 * The extensions a clone's binaries bring, handed in by the caller: this layer knows no binaries
 * (src/clone/extensions.ts has the embedded ones).
 */
export interface BundledExtensions {
  /** Undefined when they cannot be found: the check is then left to the rehearsal, which asks the server. */
  names(): Promise<Set<string> | undefined>;
  /** What to do about one the binaries lack. */
  fix(extension: string): Promise<string>;
}

/** Every reference problem, in the order a reader meets the sections they concern. */
export async function referenceProblems(
  scenario: Scenario,
  steps: ResolvedSteps,
  yaml: ScenarioYaml,
  /** What the embedded binaries bring; without it an extension is checked only once a clone runs. */
  embedded?: BundledExtensions,
): Promise<Problem[]> {
  return [
    ...phaseBudgetProblems(scenario, steps.phaseNames, yaml),
    ...(scenario.load ? loadProblems(scenario.load, steps, yaml) : []),
    ...(scenario.target.replica ? [] : replicaProblems(scenario, yaml)),
    ...budgetReferenceProblems(scenario, steps, yaml),
    ...checkIdProblems(scenario, yaml),
    ...(embedded ? await extensionProblems(scenario, yaml, embedded) : []),
  ];
}

function phaseBudgetProblems(scenario: Scenario, phaseNames: Set<string>, yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  for (const phase of Object.keys(scenario.budgets.phases)) {
    if (!phaseNames.has(phase)) {
      problems.push({
        ...where(yaml, ["budgets", "phases", phase]),
        message: `no phase named "${phase}"`,
        fix: `use one of: ${[...phaseNames].join(", ")}`,
      });
    }
  }
  for (const phase of Object.keys(scenario.budgets.load)) {
    if (phase !== "*" && !phaseNames.has(phase)) {
      problems.push({
        ...where(yaml, ["budgets", "load", phase]),
        message: `no phase named "${phase}"`,
        fix: `use "*" or one of: ${[...phaseNames].join(", ")}`,
      });
    }
  }
  return problems;
}

/** Write statements gated on flags no step sets, and a ramp that never sends anything. */
function loadProblems(load: Load, steps: ResolvedSteps, yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  const setFlags = new Set<string>();
  for (const st of [...steps.phases.flatMap((p) => p.steps), ...steps.rollback]) {
    if (st.kind === "flag") for (const f of Object.keys(st.flags)) setFlags.add(f);
  }
  for (const op of writeOperations(load))
    for (const [i, w] of op.statements.entries()) {
      if (w.unless && !setFlags.has(w.unless)) {
        problems.push({
          ...where(yaml, [...op.at, i, "unless"]),
          message: `no step ever sets the flag "${w.unless}", so this statement would never stop`,
          fix: `add a step like {name: stop_${w.unless}, flag: {${w.unless}: on}}, fix the flag name, or remove unless:`,
        });
      }
      if (w.when && w.unless && w.when === w.unless) {
        problems.push({
          ...where(yaml, [...op.at, i, "unless"]),
          message: `when: and unless: name the same flag "${w.when}", so this statement would never run`,
          fix: "name two different flags, or keep only one of when: / unless:",
        });
      }
      if (w.when && !setFlags.has(w.when)) {
        problems.push({
          ...where(yaml, [...op.at, i, "when"]),
          message: `no step ever sets the flag "${w.when}", so this statement would never run`,
          fix: `add a step like {name: enable_${w.when}, flag: {${w.when}: on}}, or fix the flag name`,
        });
      }
    }
  const rate = load.rate;
  if (typeof rate === "object" && rate.stages.every((st) => st.target === 0)) {
    problems.push({
      ...where(yaml, ["load", "rate", "stages"]),
      message: "every stage's target is 0: the load would send nothing",
      fix: "give at least one stage a target above 0 operations per second",
    });
  }
  return problems;
}

/** Settings that only mean something with a replica, in a scenario that has none. */
function replicaProblems(scenario: Scenario, yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  for (const [phase, b] of Object.entries(scenario.budgets.load)) {
    if (b.max_replica_lag === undefined) continue;
    problems.push({
      ...where(yaml, ["budgets", "load", phase, "max_replica_lag"]),
      message: "a replica lag budget, but the scenario has no replica",
      fix: "set target.replica: true, or remove max_replica_lag",
    });
  }
  if (Object.keys(scenario.target.replica_settings).length > 0) {
    problems.push({
      ...where(yaml, ["target", "replica_settings"]),
      message: "replica settings, but the scenario has no replica",
      fix: "set target.replica: true, or remove target.replica_settings",
    });
  }
  return problems;
}

/** Load budgets without a load, step budgets and lock budgets naming steps and phases that do not exist. */
function budgetReferenceProblems(scenario: Scenario, steps: ResolvedSteps, yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  if (Object.keys(scenario.budgets.load).length > 0 && !scenario.load) {
    problems.push({
      ...where(yaml, ["budgets", "load"]),
      message: "load budgets, but the scenario has no load section",
      fix: "add a load: section, or remove budgets.load",
    });
  }
  for (const key of Object.keys(scenario.budgets.steps)) {
    if (!steps.stepKeys.has(key)) {
      problems.push({
        ...where(yaml, ["budgets", "steps", key]),
        message: `no step "${key}"`,
        fix: 'write "phase/step" with names from migration.phases',
      });
    }
  }
  for (const [i, l] of scenario.budgets.locks.entries()) {
    if (l.phase && !steps.phaseNames.has(l.phase)) {
      problems.push({
        ...where(yaml, ["budgets", "locks", i, "phase"]),
        message: `no phase named "${l.phase}"`,
        fix: `use one of: ${[...steps.phaseNames].join(", ")}`,
      });
    }
  }
  return problems;
}

/** Invariants sharing an id, and expected failures naming no check the scenario produces. */
function checkIdProblems(scenario: Scenario, yaml: ScenarioYaml): Problem[] {
  const problems: Problem[] = [];
  const ids = new Set<string>();
  for (const [i, inv] of scenario.invariants.entries()) {
    const id = inv.id ?? inv.check;
    if (ids.has(id)) {
      problems.push({
        ...where(yaml, ["invariants", i]),
        message: `two invariants share the id "${id}"`,
        fix: "give one of them an explicit id: field",
      });
    }
    ids.add(id);
  }
  const base = [...ids, "migration_completed"];
  const known = new Set([
    ...base,
    ...budgetCheckIds(scenario),
    "rollback_completed",
    ...base.map((id) => `${id}@rollback`),
  ]);
  for (const [i, id] of scenario.expect.failing.entries()) {
    if (!known.has(id)) {
      problems.push({
        ...where(yaml, ["expect", "failing", i]),
        message: `no check has the id "${id}"`,
        fix: `use one of: ${[...known].join(", ")}`,
      });
    }
  }
  return problems;
}

/** An extension the embedded binaries lack can never be created there: say so now, not after a cluster start. */
async function extensionProblems(
  scenario: Scenario,
  yaml: ScenarioYaml,
  embedded: BundledExtensions,
): Promise<Problem[]> {
  if (scenario.target.provider !== "embedded" || scenario.target.extensions.length === 0) return [];
  const bundled = await embedded.names();
  const problems: Problem[] = [];
  for (const [i, ext] of scenario.target.extensions.entries()) {
    if (!bundled || bundled.has(ext)) continue;
    problems.push({
      ...where(yaml, ["target", "extensions", i]),
      message: `the embedded PostgreSQL has no extension "${ext}"`,
      fix: await embedded.fix(ext),
    });
  }
  return problems;
}
