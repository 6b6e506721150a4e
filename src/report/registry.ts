/**
 * Every output format, keyed by the name `--format` takes. Adding a format is one file and one line here;
 * nothing else switches on format names.
 */
import { htmlReporter } from "./html.ts";
import { jsonReporter } from "./json.ts";
import { junitReporter } from "./junit.ts";
import { markdownReporter } from "./markdown.ts";
import type { Reporter } from "./reporter.ts";
import { terminalReporter } from "./terminal.ts";

export const reporters = {
  json: jsonReporter,
  markdown: markdownReporter,
  junit: junitReporter,
  html: htmlReporter,
  // Uncoloured: use createTerminalReporter({ color }) from terminal.ts to print to a TTY.
  terminal: terminalReporter,
} as const satisfies Record<string, Reporter>;

export type ReportFormat = keyof typeof reporters;

export const REPORT_FORMATS = Object.keys(reporters) as ReportFormat[];

export function isReportFormat(name: string): name is ReportFormat {
  return Object.hasOwn(reporters, name);
}

/** The reporter for a format name, or an error listing the formats there are. */
export function getReporter(format: string): Reporter {
  if (!isReportFormat(format)) {
    throw new Error(`unknown report format "${format}"; expected one of: ${REPORT_FORMATS.join(", ")}`);
  }
  return reporters[format];
}

/** The reporters that write a file into the report directory (all but terminal). */
export function fileReporters(): Reporter[] {
  return Object.values(reporters).filter((r: Reporter) => r.fileName !== undefined);
}
