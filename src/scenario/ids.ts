/**
 * The ids of budget checks, named in one pure place: src/budgets gives its results these ids and the loader
 * checks expect.failing against them, without either depending on the other.
 */
import type { Scenario } from "./schema.ts";

/** Ids of the budget checks a scenario produces (see src/budgets). */
export function budgetCheckIds(s: Scenario): string[] {
  const ids = s.budgets.locks.map((l) => lockBudgetId(l));
  if (s.budgets.no_scan_under_access_exclusive) ids.push("budget.no_scan_under_access_exclusive");
  if (s.budgets.no_rewrite_under_access_exclusive) ids.push("budget.no_rewrite_under_access_exclusive");
  for (const p of Object.keys(s.budgets.phases)) ids.push(`budget.phase_duration.${p}`);
  for (const k of Object.keys(s.budgets.steps)) ids.push(`budget.step_duration.${k}`);
  const phases = s.migration.phases.map((p) => p.name);
  for (const [phase, limits] of Object.entries(s.budgets.load)) {
    for (const [metric, value] of Object.entries(limits)) {
      if (value === undefined) continue;
      for (const p of phase === "*" ? phases : [phase]) ids.push(`budget.load.${metric}.${p}`);
    }
  }
  return ids;
}

export function lockBudgetId(l: { mode: string; relation: string; phase?: string }): string {
  return `budget.lock_hold.${l.mode}${l.relation !== "*" ? `.${l.relation}` : ""}${l.phase ? `.${l.phase}` : ""}`;
}
