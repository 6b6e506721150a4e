import type { CheckResult } from "../report/model.ts";
import type { Scenario } from "../scenario/schema.ts";
import type { Budget, RunFacts } from "./budget.ts";
import { durationBudgets } from "./durations.ts";
import { loadBudgets } from "./load.ts";
import { lockHoldBudget } from "./lock-hold.ts";
import { lockQueueBudget, lockWaitBudget } from "./lock-wait.ts";
import { noRewriteUnderAccessExclusive, noScanUnderAccessExclusive } from "./under-access-exclusive.ts";
import { noScanBlockingWrites } from "./blocking-writes.ts";

export type { RunFacts } from "./budget.ts";

const BUDGETS: Budget[] = [
  lockHoldBudget,
  lockWaitBudget,
  lockQueueBudget,
  noScanUnderAccessExclusive,
  noRewriteUnderAccessExclusive,
  noScanBlockingWrites,
  durationBudgets,
  loadBudgets,
];

/** Every budget's verdict on a run. Pure. */
export function evaluateBudgets(budgets: Scenario["budgets"], facts: RunFacts): CheckResult[] {
  return BUDGETS.flatMap((b) => b(budgets, facts));
}
