import { lockBudgetId } from "../scenario/ids.ts";
import type { Budget } from "./budget.ts";
import { ms, where } from "./budget.ts";

const TABLE_KINDS = new Set(["r", "p", null]);

/** A budget's relation pattern: "*", a qualified name, or a bare name in public. */
export function matches(relation: string, pattern: string): boolean {
  if (pattern === "*") return true;
  const qualifiedPattern = pattern.includes(".") ? pattern : `public.${pattern}`;
  return relation === qualifiedPattern;
}

/**
 * Longest hold of a lock mode on matching tables (per phase when the budget names one): from the moment the
 * lock was granted to commit or rollback. Time spent waiting to acquire it is judged by budget.lock_wait.
 */
export const lockHoldBudget: Budget = (budgets, facts) =>
  budgets.locks.map((b) => {
    const holds = facts.locks
      .filter((l) => l.mode === b.mode && TABLE_KINDS.has(l.relkind) && matches(l.relation, b.relation))
      .filter((l) => !b.phase || l.phase === b.phase)
      // At equal holds, name a relation a person knows over a transient one (a rewrite's new heap shows as oid:…).
      .sort(
        (x, y) =>
          y.held_ms - x.held_ms ||
          Number(x.relation.startsWith("oid:")) - Number(y.relation.startsWith("oid:")),
      );
    const worst = holds[0];
    const over = holds.filter((h) => h.held_ms > b.max);
    const scope = `${b.mode} on ${b.relation === "*" ? "any table" : b.relation}${b.phase ? ` in ${b.phase}` : ""}`;
    return {
      id: lockBudgetId(b),
      kind: "budget" as const,
      status: over.length > 0 ? ("fail" as const) : ("pass" as const),
      summary: worst
        ? `longest ${scope}: ${ms(worst.held_ms)} (${worst.relation}, ${worst.phase}/${worst.step}); limit ${ms(b.max)}`
        : `${scope}: never held; limit ${ms(b.max)}`,
      findings: over.map((h) => `${h.mode} on ${h.relation} held ${ms(h.held_ms)} from ${where(facts, h)}`),
      remediation:
        over.length > 0
          ? "The migration itself held the lock this long: make the step smaller — do scans and index builds before it (CHECK … NOT VALID + VALIDATE, CREATE INDEX CONCURRENTLY), keep only catalog changes inside the transaction, and split batches of work into shorter transactions."
          : undefined,
      measured: worst ? Math.round(worst.held_ms) : 0,
      limit: b.max,
      unit: "ms",
    };
  });
