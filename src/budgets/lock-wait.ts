/**
 * Waiting, judged apart from holding. A statement that waits for its lock behind a long-running session does
 * little harm by itself; the harm is the queue: every later request for a conflicting lock — the
 * application's reads and writes included — lines up behind the waiting statement (seed 000's logins were
 * down for 85 s that way). budget.lock_wait judges how long a statement waited; budget.lock_queue how long
 * the load's requests waited behind a statement that was itself waiting.
 */
import type { CheckResult, LockWait } from "../report/model.ts";
import { lockQueueBudgetId, lockWaitBudgetId } from "../scenario/ids.ts";
import type { Budget, RunFacts } from "./budget.ts";
import { ms, where } from "./budget.ts";
import { matches } from "./lock-hold.ts";

const WAIT_FIX =
  "The statement waited for another session, not for its own work: set lock_timeout on the step (e.g. lock_timeout: 500ms) with retry: {attempts: 10, backoff: 200ms}, so it gives up before the queue behind it grows and tries again; and end or move what it waited for (a long report, an idle transaction, a pg_dump) before the cutover.";

/** "background session report (pid 812)", or the blockers' names; "an unidentified session" when none was seen. */
export function blockersText(w: LockWait): string {
  if (w.blockers.length === 0) return "an unidentified session";
  return w.blockers.map((b) => (b.kind === "query" ? b.name : `${b.name} (pid ${b.pid})`)).join(", ");
}

function outcomeText(w: LockWait): string {
  return w.outcome === "granted"
    ? "then acquired it"
    : w.outcome === "timeout"
      ? "then gave up (lock_timeout)"
      : "then failed";
}

function describeWait(facts: RunFacts, w: LockWait): string {
  const attempt = w.attempt > 1 ? ` (attempt ${w.attempt})` : "";
  return `${where(facts, w)}${attempt} waited ${ms(w.wait_ms)} for ${w.mode} on ${w.relation} behind ${blockersText(w)}, ${outcomeText(w)}`;
}

/** Longest wait to acquire a lock mode on matching relations (per phase when the budget names one). */
export const lockWaitBudget: Budget = (budgets, facts) =>
  budgets.lock_waits.map((b) => {
    const waits = (facts.lock_waits ?? [])
      .filter((w) => w.mode === b.mode && matches(w.relation, b.relation))
      .filter((w) => !b.phase || w.phase === b.phase)
      .sort((x, y) => y.wait_ms - x.wait_ms);
    const worst = waits[0];
    const over = waits.filter((w) => w.wait_ms > b.max);
    const scope = `wait for ${b.mode} on ${b.relation === "*" ? "any relation" : b.relation}${b.phase ? ` in ${b.phase}` : ""}`;
    return {
      id: lockWaitBudgetId(b),
      kind: "budget" as const,
      status: over.length > 0 ? ("fail" as const) : ("pass" as const),
      summary: worst
        ? `longest ${scope}: ${ms(worst.wait_ms)} (${worst.relation}, ${worst.phase}/${worst.step}, behind ${blockersText(worst)}); limit ${ms(b.max)}`
        : `${scope}: never waited; limit ${ms(b.max)}`,
      findings: over.map((w) => describeWait(facts, w)),
      remediation: over.length > 0 ? WAIT_FIX : undefined,
      measured: worst ? Math.round(worst.wait_ms) : 0,
      limit: b.max,
      unit: "ms",
    };
  });

/**
 * Load requests queued behind a waiting migration statement, per migration phase. Needs a load: without one
 * nothing of the application's could queue. A phase that never ran is skipped.
 */
export const lockQueueBudget: Budget = (budgets, facts) => {
  const cfg = budgets.lock_queue;
  if (cfg === false || !facts.load) return [];
  const phases = facts.phases.filter((p) => p.section === "migration");
  return phases.map((p): CheckResult => {
    const id = lockQueueBudgetId(p.name);
    const limit = cfg.phases[p.name] ?? cfg.max;
    if (p.status === "not_executed") {
      return {
        id,
        kind: "budget",
        status: "skipped",
        summary: `phase ${p.name} did not run`,
        findings: [],
        limit,
        unit: "ms",
      };
    }
    const waits = (facts.lock_waits ?? [])
      .filter((w) => w.section === "migration" && w.phase === p.name && w.queued_load_requests > 0)
      .sort((x, y) => y.queued_load_max_ms - x.queued_load_max_ms);
    const worst = waits[0];
    const over = waits.filter((w) => w.queued_load_max_ms > limit);
    const requests = waits.reduce((n, w) => n + w.queued_load_requests, 0);
    return {
      id,
      kind: "budget",
      status: over.length > 0 ? "fail" : "pass",
      summary: worst
        ? `${requests} load request(s) queued behind a waiting migration statement in ${p.name}, the longest ${ms(worst.queued_load_max_ms)} (${worst.phase}/${worst.step}, waiting for ${worst.mode} on ${worst.relation}); limit ${ms(limit)}`
        : `no load request queued behind a waiting migration statement in ${p.name}; limit ${ms(limit)}`,
      findings: over.map(
        (w) =>
          `${w.queued_load_requests} load request(s) queued up to ${ms(w.queued_load_max_ms)} behind ${where(facts, w)}${w.attempt > 1 ? ` (attempt ${w.attempt})` : ""}, which waited ${ms(w.wait_ms)} for ${w.mode} on ${w.relation} behind ${blockersText(w)}`,
      ),
      remediation:
        over.length > 0
          ? `${WAIT_FIX} While a statement waits for a lock, every conflicting request of the application queues behind it; with every connection queued, new requests pile up in the pool.`
          : undefined,
      measured: worst ? worst.queued_load_max_ms : 0,
      limit,
      unit: "ms",
    };
  });
};
