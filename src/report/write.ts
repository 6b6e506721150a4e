/**
 * Writes the report directory: report.json, summary.md, junit.xml — and, under GitHub Actions, appends the
 * summary to the job's step summary page.
 */
import { appendFile, mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { redact, redactDeep } from "../util/redact.ts";
import type { RunReport } from "./model.ts";
import { fileReporters } from "./registry.ts";

/** GitHub refuses a step summary over 1 MiB (and then shows none of it). Leave room for other steps. */
export const STEP_SUMMARY_MAX_BYTES = 900 * 1024;

/**
 * Writes one file atomically: a run interrupted mid-write (Ctrl-C writes an aborted report) must leave
 * the previous complete file or the new complete file, never a truncated report.json a CI gate then
 * fails to parse.
 */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Cuts markdown at a line boundary under `maxBytes` (UTF-8) and says so, rather than letting GitHub drop it. */
export function truncateForStepSummary(markdown: string, maxBytes = STEP_SUMMARY_MAX_BYTES): string {
  if (Buffer.byteLength(markdown, "utf8") <= maxBytes) return markdown;
  const note = "\n\n_Summary truncated for the GitHub step summary; the full report is in summary.md._\n";
  const budget = maxBytes - Buffer.byteLength(note, "utf8");
  let cut = Buffer.from(markdown, "utf8").subarray(0, budget).toString("utf8");
  // A partial multi-byte character decodes as U+FFFD; the line cut below drops it with the partial line.
  const nl = cut.lastIndexOf("\n");
  if (nl > 0) cut = cut.slice(0, nl);
  // An unclosed code fence would swallow the note: close it.
  const fences = cut.match(/^`{3,}/gm) ?? [];
  if (fences.length % 2 === 1) cut += `\n${fences[fences.length - 1]}`;
  return cut + note;
}

/**
 * Writes every file reporter's output into `dir` (created if missing) and returns the paths written, in
 * registry order. Appends summary.md to $GITHUB_STEP_SUMMARY when set (that file is not in the result).
 */
export async function writeReports(
  report: RunReport,
  dir: string,
  /** Re-rendering an old run must not add its summary to this job's step summary a second time. */
  options: { stepSummary?: boolean } = {},
): Promise<string[]> {
  // Reporters redact too; redacting the data here as well keeps the guarantee if one is added that forgets.
  const safe = redactDeep(report);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  let markdown: string | undefined;
  for (const reporter of fileReporters()) {
    const text = reporter.render(safe);
    const file = path.join(dir, reporter.fileName!);
    await writeAtomic(file, text);
    written.push(file);
    if (reporter.format === "markdown") markdown = text;
  }
  const stepSummary = process.env.GITHUB_STEP_SUMMARY;
  if (stepSummary && markdown !== undefined && options.stepSummary !== false) {
    // Appended, not written: other steps of the same job add their own sections to this file.
    await appendFile(stepSummary, `${truncateForStepSummary(redact(markdown))}\n`, "utf8");
  }
  return written;
}
