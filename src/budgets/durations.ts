import type { CheckResult } from "../report/model.ts";
import type { Budget } from "./budget.ts";
import { ms } from "./budget.ts";

/** Phase and step wall-clock budgets. A phase or step that never ran cannot be shown to be within budget. */
export const durationBudgets: Budget = (budgets, facts) => {
  const out: CheckResult[] = [];
  for (const [phase, limit] of Object.entries(budgets.phases)) {
    const p = facts.phases.find((x) => x.section === "migration" && x.name === phase);
    out.push(judge(`budget.phase_duration.${phase}`, `phase ${phase}`, p?.duration_ms, limit, p?.status));
  }
  for (const [key, limit] of Object.entries(budgets.steps)) {
    const [phase, step] = key.split("/");
    const s = facts.steps.find((x) => x.section === "migration" && x.phase === phase && x.name === step);
    out.push(judge(`budget.step_duration.${key}`, `step ${key}`, s?.duration_ms, limit, s?.status));
  }
  return out;
};

function judge(
  id: string,
  what: string,
  took: number | undefined,
  limit: number,
  status?: string,
): CheckResult {
  if (took === undefined || status === "not_executed") {
    return {
      id,
      kind: "budget",
      status: "skipped",
      summary: `${what} did not run`,
      findings: [],
      limit,
      unit: "ms",
    };
  }
  const fail = took > limit;
  return {
    id,
    kind: "budget",
    status: fail ? "fail" : "pass",
    summary: `${what} took ${ms(took)}; limit ${ms(limit)}`,
    findings: fail ? [`${what} took ${ms(took)}, over its ${ms(limit)} budget`] : [],
    remediation: fail ? "Split the work into smaller steps or move it out of the critical phase." : undefined,
    measured: Math.round(took),
    limit,
    unit: "ms",
  };
}
