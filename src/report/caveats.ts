/**
 * What a run did not establish, said under the verdict before anything else: the scale it ran at, the checks
 * a migration of this kind usually needs that the scenario did not configure, percentiles over too few
 * requests to be percentiles, and a load that did not run at its rate. A green run is read as "safe"; these
 * are the ways it may not be. Pure over the report, so every reporter says the same.
 */
import { formatNumber } from "./format.ts";
import type { RunReport } from "./model.ts";

/** Below this many requests a p99 is (nearly) the maximum: one slow request moves it. */
export const SMALL_SAMPLE = 100;
/** Late or dropped warmup requests above this share mean the load did not run at its rate. */
const BEHIND_SHARE = 0.01;

function scale(r: RunReport): string {
  const rows = Object.entries(r.context.rows)
    .sort(([, a], [, b]) => b - a)
    .map(([t, n]) => `${t} ${formatNumber(n)}`);
  const tables = rows.length > 0 ? rows.join(", ") : "no seeded tables";
  const source = Object.entries(r.context.source_rows ?? {})
    .sort(([, a], [, b]) => b - a)
    .map(([t, n]) => `${t} ${formatNumber(n)}`);
  const production = source.length ? `; production (the source at init): ${source.join(", ")} rows` : "";
  return (
    `scale: rehearsed at ${tables} rows (scale ${formatNumber(r.context.scale)})${production}; locks, scans and lost or ` +
    `skipped writes are judged by what happened and hold at any size, durations and latencies grow with it ` +
    `(rehearse run --project-to <production rows> projects them)`
  );
}

function hasCheck(r: RunReport, id: string): boolean {
  return r.checks.some((c) => c.id === id || c.id.startsWith(`${id}.`) || c.id.startsWith(`${id}@`));
}

function operations(r: RunReport): Set<string> {
  return new Set(r.steps.flatMap((s) => s.statements.flatMap((st) => st.operations ?? [])));
}

function notConfigured(r: RunReport): string[] {
  const out: string[] = [];
  if (!r.load)
    out.push(
      "not rehearsed: no load section, so no lock queue, no application error and no lost write could be seen",
    );
  else if (!hasCheck(r, "no_lost_writes"))
    out.push(
      "not checked: the load ran but the scenario has no no_lost_writes invariant, so an acknowledged write the migration lost would pass",
    );
  if (operations(r).has("attach_partition") && !hasCheck(r, "unique_across_partitions"))
    out.push(
      "not checked: the migration attaches partitions but the scenario has no unique_across_partitions invariant; a unique key that now includes the partition key accepts duplicates across partitions",
    );
  return out;
}

function smallSamples(r: RunReport): string[] {
  const small = (r.load?.windows ?? []).filter(
    (w) => w.step === null && w.kind === "write" && w.count > 0 && w.count < SMALL_SAMPLE,
  );
  if (small.length === 0) return [];
  const list = small.map((w) => `${w.phase} (${formatNumber(w.count)})`).join(", ");
  return [
    `small samples: write percentiles over fewer than ${SMALL_SAMPLE} requests are close to the maximum, read them as such: ${list}`,
  ];
}

/**
 * Judged in the warmup, where nothing is in the load's way: requests late or dropped there mean the engine or
 * the clone could not keep up (during the migration they are the migration's doing, judged by the budgets).
 */
function behindRate(r: RunReport): string[] {
  const ws = (r.load?.windows ?? []).filter((w) => w.section === "warmup" && w.step === null);
  const attempted = ws.reduce((n, w) => n + w.count + (w.dropped ?? 0), 0);
  if (attempted === 0) return [];
  const late = ws.reduce((n, w) => n + (w.late ?? 0), 0);
  const dropped = ws.reduce((n, w) => n + (w.dropped ?? 0), 0);
  if ((late + dropped) / attempted <= BEHIND_SHARE) return [];
  const rate = typeof r.load!.rate === "number" ? ` of ${formatNumber(r.load!.rate)}/s` : "";
  return [
    `load behind its rate${rate}: in the warmup, before any migration step, ${formatNumber(late + dropped)} of ${formatNumber(attempted)} requests were dropped or answered past drop_after (${formatNumber(dropped)} dropped, ${formatNumber(late)} late): the engine or the clone could not keep up, so the migration ran under lighter traffic than planned`,
  ];
}

/** The caveats of a run, scale first; never empty (the scale is always a caveat). */
export function caveats(r: RunReport): string[] {
  return [scale(r), ...notConfigured(r), ...smallSamples(r), ...behindRate(r)];
}
