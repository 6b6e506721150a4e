/**
 * One line per background-session run, shared by summary.md and the terminal: when it ran against the run's
 * clock, what it held, and who waited behind it — so a reader sees at once whether the reporting query really
 * overlapped the cutover and what it cost.
 */
import { formatDuration } from "./format.ts";
import type { BackgroundRun, RunReport } from "./model.ts";

/** "reporting (long_read on ledger, before cutover/swap): 12.3 s → 15.3 s (3.0 s, completed); held …; blocked …". */
export function backgroundLine(b: BackgroundRun): string {
  const what = `${b.kind}${b.table ? ` on ${b.table}` : ""}`;
  const when = b.trigger === "schedule" ? `scheduled, run ${b.occurrence}` : `before ${b.trigger}`;
  const end = b.ended_ms ?? b.started_ms;
  const ran =
    `${formatDuration(b.started_ms)} → ${formatDuration(end)} ` +
    `(${formatDuration(Math.max(0, end - b.started_ms))}, ${endWord(b)})`;
  const parts = [`${b.name} (${what}, ${when}): at ${ran}`];
  parts.push(b.held.length > 0 ? `held ${b.held.join(", ")}` : "held no table lock when sampled");
  parts.push(blockedText(b));
  if (b.waited_ms > 0) parts.push(`itself waited up to ${formatDuration(b.waited_ms)} for a lock`);
  if (b.error) parts.push(`error ${b.error.sqlstate ? `${b.error.sqlstate} ` : ""}${b.error.message}`);
  return parts.join("; ");
}

function endWord(b: BackgroundRun): string {
  if (b.ended === "ended_by_harness") return "ended by the harness";
  return b.ended ?? "still running";
}

function blockedText(b: BackgroundRun): string {
  const { migration_wait_ms, load_backends, max_waiters, others } = b.blocked;
  const who: string[] = [];
  if (migration_wait_ms > 0) who.push(`the migration for ${formatDuration(migration_wait_ms)}`);
  if (load_backends > 0) who.push(`${load_backends} load backend${load_backends === 1 ? "" : "s"}`);
  if (others.length > 0) who.push(others.join(", "));
  if (who.length === 0) return "blocked nothing";
  return `blocked ${who.join(", ")} (at most ${max_waiters} waiting at once)`;
}

/** summary.md's "Background sessions" section, each line escaped by the markdown reporter's `inline`. */
export function backgroundSection(r: RunReport, inline: (text: string) => string): string[] {
  if (!r.background?.length) return [];
  return ["### Background sessions", "", ...r.background.map((b) => `- ${inline(backgroundLine(b))}`), ""];
}
