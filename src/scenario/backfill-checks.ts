/**
 * A backfill step's settings that the format accepts one by one but that contradict each other (an empty key
 * range, overlapping worker ranges, batch SQL its key range cannot bound): refused before anything is copied.
 */
import type { Problem, YamlPath } from "./problem.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import type { Backfill } from "./schema.ts";

/** Problems of the backfill at `at` (the step); `replica` is whether the scenario configures one. */
export function backfillProblems(b: Backfill, at: YamlPath, yaml: ScenarioYaml, replica: boolean): Problem[] {
  const problems: Problem[] = [];
  const field = (...p: YamlPath) => where(yaml, [...at, "backfill", ...p]);
  if (b.from !== undefined && b.to !== undefined && b.from >= b.to) {
    problems.push({
      ...field("to"),
      message: `the key range is empty: from ${b.from} is not below to ${b.to}`,
      fix: "set to above from (the range is [from, to))",
    });
  }
  if (b.ranges) problems.push(...rangeProblems(b.ranges, b.workers, field));
  if (b.sql) {
    for (const p of ["lo", "hi"]) {
      if (!new RegExp(`:${p}\\b`).test(b.sql)) {
        problems.push({
          ...field("sql"),
          message: `the batch SQL does not use :${p}, so batches would not be bounded by their key range`,
          fix: "bound the batch with  WHERE <key> >= :lo AND <key> < :hi",
        });
      }
    }
  }
  if (b.throttle?.replica_lag && !replica) {
    problems.push({
      ...field("throttle", "replica_lag"),
      message: "the throttle waits on replica lag, but the scenario configures no replica",
      fix: "set target.replica: true, or remove throttle.replica_lag",
    });
  }
  return problems;
}

/** Explicit worker ranges: one per worker, each non-empty, none overlapping (a key copied twice). */
function rangeProblems(
  ranges: NonNullable<Backfill["ranges"]>,
  workers: number,
  field: (...p: YamlPath) => ReturnType<typeof where>,
): Problem[] {
  const problems: Problem[] = [];
  if (ranges.length !== workers && workers !== 1) {
    problems.push({
      ...field("ranges"),
      message: `${ranges.length} ranges for ${workers} workers`,
      fix: "give one range per worker, or leave out workers (each range gets its own worker)",
    });
  }
  const sorted = ranges.map((r, i) => ({ ...r, i })).sort((x, y) => x.from - y.from);
  for (const r of sorted) {
    if (r.from >= r.to) {
      problems.push({
        ...field("ranges", r.i),
        message: `range ${r.i} is empty: from ${r.from} is not below to ${r.to}`,
        fix: "each range is [from, to) with from below to",
      });
    }
  }
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!;
    const c = sorted[k]!;
    if (c.from < a.to) {
      problems.push({
        ...field("ranges", c.i),
        message: `worker ranges overlap: [${a.from}, ${a.to}) and [${c.from}, ${c.to}) would copy keys ${c.from}…${Math.min(a.to, c.to) - 1} twice`,
        fix: "make the ranges disjoint: each [from, to) starts at or after the previous one's to",
      });
    }
  }
  return problems;
}
