import type { RunReport } from "./model.ts";

/**
 * Turns a RunReport into one output format. Reporters are pure: no I/O, no clock, no environment (beyond
 * $PGPASSWORD for redaction), so the same report always renders to the same text and unit-tests without a
 * database. Each one redacts its own output, so a caller that prints `render()` directly cannot leak.
 */
export interface Reporter {
  /** Registry key and `--format` value: "json", "markdown", "junit", "terminal". */
  format: string;
  /** File written into the report directory; absent for reporters that only print (terminal). */
  fileName?: string;
  render(report: RunReport): string;
}
