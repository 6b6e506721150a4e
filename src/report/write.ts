/**
 * Writes the report directory: report.json, summary.md, junit.xml — and, under GitHub Actions, appends the
 * summary to the job's step summary page.
 */
import { mkdirSync, mkdtempSync, rmdirSync, statSync } from "node:fs";
import { appendFile, rename, rm, writeFile } from "node:fs/promises";
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

/** A directory the reports cannot go to: `dir` (absolute), why, and what to do instead. */
export class OutputDirError extends Error {
  override name = "OutputDirError";
  constructor(
    readonly dir: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`${dir}: ${reason}`);
  }
}

const WRITABLE_FIX =
  "choose a directory this user can write to (it is created if missing), or make this one writable";

/** An errno as a person reads it: the code and what it means here. */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const meaning: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "read-only file system",
    ENOSPC: "no space left on the device",
    // mkdir under /proc, /sys…: the parent exists, yet that file system makes no new directories.
    ENOENT: "this file system does not let a directory be created there",
  };
  return code ? `${code}: ${meaning[code] ?? (err as Error).message}` : String(err);
}

/**
 * `mkdir -p` that always ends. Node's own recursive mkdir never returns where mkdir fails with ENOENT under
 * a parent that exists (/proc/x: it makes the parent, EEXIST, retries the child, ENOENT… at 100 % CPU), so
 * `--out /proc/x` hung at "writing the reports". Walks up to the first existing ancestor, then creates each
 * missing directory once; every failure is an OutputDirError naming the path and the reason.
 */
export function makeDirectory(dir: string): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = path.dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: an ancestor is a file; the walk reaches it and says so.
      if ((code === "ENOENT" || code === "ENOTDIR") && path.dirname(p) !== p) {
        missing.push(p);
        continue;
      }
      throw new OutputDirError(target, `cannot read ${p} (${errnoText(err)})`, WRITABLE_FIX);
    }
    if (isDir) break;
    throw new OutputDirError(
      target,
      p === target ? "is a file, not a directory" : `${p} is a file, so no directory can be made under it`,
      `give a directory (created if missing), not a file: e.g. ${path.join(path.dirname(p), "reports")}`,
    );
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      // Made meanwhile by someone else (two runs sharing reports/): fine if it is a directory.
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && statSync(m).isDirectory()) continue;
      throw new OutputDirError(target, `cannot create ${m} (${errnoText(err)})`, WRITABLE_FIX);
    }
  }
}

/**
 * Makes sure reports can be written into `dir` before anything is started: creates it if missing, then
 * proves it writable by making and removing a directory in it (access() would pass for root on a read-only
 * bind mount or an immutable directory; an actual write does not). Throws OutputDirError.
 */
export function prepareOutputDir(dir: string): string {
  const target = path.resolve(dir);
  makeDirectory(target);
  try {
    rmdirSync(mkdtempSync(path.join(target, ".rehearse-write-check-")));
  } catch (err) {
    throw new OutputDirError(target, `cannot write in it (${errnoText(err)})`, WRITABLE_FIX);
  }
  return target;
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
  makeDirectory(dir);
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
