/**
 * report.json: the RunReport itself, for machines (CI gates, `rehearse report` re-rendering, diffs between
 * runs). Keys come out in a fixed order regardless of the order the run filled the object in, so two
 * reports of the same scenario diff line by line.
 */
import { redactDeep } from "../util/redact.ts";
import type { RunReport } from "./model.ts";
import type { Reporter } from "./reporter.ts";

// Top level in reading order (what ran, how it ended, then the evidence); nested objects are alphabetical.
const TOP_LEVEL_ORDER: readonly string[] = [
  "schema_version",
  "tool",
  "run_id",
  "scenario",
  "status",
  "exit_code",
  "reason",
  "failing",
  "expectation",
  "started_at",
  "finished_at",
  "duration_ms",
  "context",
  "timings",
  "seeding",
  "checks",
  "phases",
  "steps",
  "locks",
  "lock_waits",
  "effects",
  // Last: the load's per-second series is by far the longest part and would push the verdict's evidence
  // (checks, steps, locks) out of view in a diff.
  "load",
  "observations",
] satisfies readonly (keyof RunReport)[];

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
  return out;
}

/** Renders report.json. Exported separately from the reporter for callers that want the object. */
export function toStableJson(report: RunReport): Record<string, unknown> {
  const src = redactDeep(report) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // Fields added to the model later but not to TOP_LEVEL_ORDER still appear, alphabetically, at the end.
  const rest = Object.keys(src)
    .filter((k) => !TOP_LEVEL_ORDER.includes(k))
    .sort();
  for (const k of [...TOP_LEVEL_ORDER, ...rest]) {
    if (k in src) out[k] = sortKeys(src[k]);
  }
  return out;
}

export const jsonReporter: Reporter = {
  format: "json",
  fileName: "report.json",
  render(report) {
    // Redacted as data (in toStableJson), never as text: a short secret such as "1" replaced in the JSON
    // text would corrupt numbers and keys, and a secret containing a quote is escaped there and not found.
    return `${JSON.stringify(toStableJson(report), null, 2)}\n`;
  },
};
