/**
 * The migration's lock waits as the reporters show them: kept apart from the holds, because the fix differs
 * (a wait is cured by lock_timeout + retry and by ending what it waited for; a hold by a smaller step).
 */
import { formatDuration, formatNumber, phaseLabel } from "./format.ts";
import type { LockWait, RunReport } from "./model.ts";

/** Waits worth showing (a few ms behind the load's own short transactions is normal), longest first. */
export const SHOWN_WAIT_MS = 50;

export function notableWaits(r: RunReport): LockWait[] {
  return (r.lock_waits ?? [])
    .filter((w) => w.wait_ms >= SHOWN_WAIT_MS || w.outcome !== "granted" || w.queued_load_requests > 0)
    .sort((a, b) => b.wait_ms - a.wait_ms);
}

/** "background session report (pid 812)", a query's own text, or "an unidentified session". */
export function waitedFor(w: LockWait): string {
  if (w.blockers.length === 0) return "an unidentified session";
  return w.blockers.map((b) => (b.kind === "query" ? b.name : `${b.name} (pid ${b.pid})`)).join(", ");
}

export const OUTCOME_WORD: Record<LockWait["outcome"], string> = {
  granted: "acquired",
  timeout: "gave up (lock_timeout)",
  error: "failed",
};

/** "cutover/swap statement 1, attempt 2". */
export function waitWhere(w: LockWait): string {
  return `${phaseLabel(w.section, w.phase)}/${w.step} statement ${w.statement + 1}${w.attempt > 1 ? `, attempt ${w.attempt}` : ""}`;
}

/** "3 load requests queued, longest 1.8 s", or "-" when none did. */
export function queueText(w: LockWait): string {
  if (w.queued_load_requests === 0) return "-";
  return `${formatNumber(w.queued_load_requests)} load request${w.queued_load_requests === 1 ? "" : "s"} queued, longest ${formatDuration(w.queued_load_max_ms)}`;
}

/** One line: "waited 3.8 s for AccessExclusiveLock on public.orders in cutover/swap statement 1 behind …". */
export function waitLine(w: LockWait): string {
  const queue = w.queued_load_requests > 0 ? `; ${queueText(w)} behind it` : "";
  return (
    `waited ${formatDuration(w.wait_ms)} for ${w.mode} on ${w.relation} in ${waitWhere(w)} behind ${waitedFor(w)}, ` +
    `${OUTCOME_WORD[w.outcome]}${queue}`
  );
}
