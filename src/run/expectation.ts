/** The verdict against the scenario's `expect`: pure, so the CLI, the reports and the tests judge alike. */
import { performance } from "node:perf_hooks";
import type { RunReport } from "../report/model.ts";

/** Stamps the end of the run and judges it: also called by the interrupt listener, on a report cut short. */
export function finish(report: RunReport, t0: number): void {
  report.finished_at = new Date().toISOString();
  report.duration_ms = Math.round(performance.now() - t0);
  report.expectation = judgeExpectation(report);
}

/** Did the run reach the scenario's `expect`? A hazard must fail for exactly the named checks. */
export function judgeExpectation(report: RunReport): RunReport["expectation"] {
  const e = report.expectation;
  if (report.status === "inconclusive" || report.status === "aborted") {
    return { ...e, met: false, explanation: `the run is ${report.status}: ${report.reason ?? ""}` };
  }
  if (e.verdict === "pass") {
    const met = report.status === "passed";
    return {
      ...e,
      met,
      explanation: met
        ? "expected to pass and passed"
        : `expected to pass; failing: ${report.failing.join(", ")}`,
    };
  }
  const want = new Set(e.failing);
  const got = new Set(report.failing);
  const missing = [...want].filter((id) => !got.has(id));
  const extra = [...got].filter((id) => !want.has(id));
  const met = missing.length === 0 && extra.length === 0;
  return {
    ...e,
    met,
    explanation: met
      ? `failed as expected, for ${e.failing.join(", ")} and nothing else`
      : [
          missing.length ? `expected to fail but passed: ${missing.join(", ")}` : "",
          extra.length ? `failed unexpectedly: ${extra.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; "),
  };
}
