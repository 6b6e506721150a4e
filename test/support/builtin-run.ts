/**
 * A built-in scenario (scenarios/) rehearsed in-process, as `rehearse run` would, for tests that need a real
 * report: the browser tests render its index.html.
 */
import path from "node:path";
import type { RunReport } from "../../src/report/model.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const SCENARIOS = path.resolve(import.meta.dirname, "../../scenarios");

/** `rows` overrides row counts as `--rows` does (table → rows). */
export function rehearseBuiltin(name: string, rows?: Record<string, number>): Promise<RunReport> {
  return rehearse({
    scenarioPath: path.join(SCENARIOS, name),
    logger: silentLogger,
    ...(rows ? { rows } : {}),
  });
}

/** Why a run did not come out as expected, in one line: a CI log is often all there is to go on. */
export function failingChecks(report: RunReport): string {
  const failed = report.checks.filter((c) => c.status === "fail").map((c) => `${c.id}: ${c.summary}`);
  return [report.reason, ...failed].filter(Boolean).join("; ");
}
