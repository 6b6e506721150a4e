import { lockBudgetId } from "../scenario/ids.ts";
import type { Budget } from "./budget.ts";
import { ms, where } from "./budget.ts";

const TABLE_KINDS = new Set(["r", "p", null]);

function matches(relation: string, pattern: string): boolean {
  if (pattern === "*") return true;
  const qualifiedPattern = pattern.includes(".") ? pattern : `public.${pattern}`;
  return relation === qualifiedPattern;
}

/** Longest hold of a lock mode on matching tables (per phase when the budget names one). */
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
          ? "Shorten the transaction that holds the lock: do scans and index builds before it (CHECK … NOT VALID + VALIDATE, CREATE INDEX CONCURRENTLY), keep only catalog changes inside it, and set lock_timeout with retries."
          : undefined,
      measured: worst ? Math.round(worst.held_ms) : 0,
      limit: b.max,
      unit: "ms",
    };
  });
