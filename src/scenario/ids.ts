/**
 * The ids of budget checks, named in one pure place: src/budgets gives its results these ids and the loader
 * checks expect.failing against them, without either depending on the other.
 */
import type { Scenario } from "./schema.ts";

/** Ids of the budget checks a scenario produces (see src/budgets). */
export function budgetCheckIds(s: Scenario): string[] {
  const ids = s.budgets.locks.map((l) => lockBudgetId(l));
  ids.push(...s.budgets.lock_waits.map((l) => lockWaitBudgetId(l)));
  if (s.load && s.budgets.lock_queue !== false)
    for (const p of s.migration.phases) ids.push(lockQueueBudgetId(p.name));
  if (s.budgets.no_scan_under_access_exclusive) ids.push("budget.no_scan_under_access_exclusive");
  if (s.budgets.no_rewrite_under_access_exclusive) ids.push("budget.no_rewrite_under_access_exclusive");
  if (s.budgets.no_scan_blocking_writes) ids.push("budget.no_scan_blocking_writes");
  for (const p of Object.keys(s.budgets.phases)) ids.push(`budget.phase_duration.${p}`);
  for (const k of Object.keys(s.budgets.steps)) ids.push(`budget.step_duration.${k}`);
  const phases = loadBudgetPhases(s);
  // With a load, every phase and the soak get error_rate 0 unless the scenario says otherwise.
  if (s.load) for (const p of phases) ids.push(`budget.load.error_rate.${p}`);
  for (const [phase, limits] of Object.entries(s.budgets.load)) {
    for (const [metric, value] of Object.entries(limits)) {
      if (value === undefined) continue;
      for (const p of phase === "*" ? phases : [phase]) ids.push(`budget.load.${metric}.${p}`);
    }
  }
  return [...new Set(ids)];
}

/** The window after the last step, in which the load keeps running and is judged like a phase. */
export const SOAK_PHASE = "soak";

/** What budgets.load "*" covers: every migration phase, and the soak when there is a load. */
function loadBudgetPhases(s: Scenario): string[] {
  const phases = s.migration.phases.map((p) => p.name);
  return s.load ? [...phases, SOAK_PHASE] : phases;
}

export function lockBudgetId(l: { mode: string; relation: string; phase?: string }): string {
  return `budget.lock_hold.${l.mode}${l.relation !== "*" ? `.${l.relation}` : ""}${l.phase ? `.${l.phase}` : ""}`;
}

export function lockWaitBudgetId(l: { mode: string; relation: string; phase?: string }): string {
  return `budget.lock_wait.${l.mode}${l.relation !== "*" ? `.${l.relation}` : ""}${l.phase ? `.${l.phase}` : ""}`;
}

export function lockQueueBudgetId(phase: string): string {
  return `budget.lock_queue.${phase}`;
}
