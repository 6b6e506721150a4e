/**
 * Reading a finished run back from disk: `rehearse report` re-renders every file format from report.json
 * (after an upgrade, or once a new format such as index.html exists), and `rehearse compare` reads two runs.
 * Every error here is bad input (exit 2) and says which path is wrong and what to pass instead.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { readReport } from "./load.ts";
import type { RunReport } from "./model.ts";
import { writeReports } from "./write.ts";

export const REPORT_FILE = "report.json";

/** Input the user can fix: a wrong path, a damaged or incompatible report.json. The CLI exits 2. */
export class ReportInputError extends Error {
  override name = "ReportInputError";
}

async function kind(p: string): Promise<"dir" | "file" | "missing"> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? "dir" : "file";
  } catch {
    return "missing";
  }
}

/**
 * The report.json a user pointed at: a run directory (containing report.json) or the file itself.
 * `what` names the argument in messages ("run directory", "run A").
 */
export async function resolveReportFile(arg: string, what = "run directory"): Promise<string> {
  const k = await kind(arg);
  if (k === "missing") {
    throw new ReportInputError(
      `${arg}: no such ${what}; pass a folder written by \`rehearse run\` (reports/<run-id>) or its report.json`,
    );
  }
  if (k === "file") return arg;
  const file = path.join(arg, REPORT_FILE);
  if ((await kind(file)) !== "file") {
    throw new ReportInputError(
      `${arg}: no ${REPORT_FILE} in this directory; pass a run folder such as reports/<run-id> (the one \`rehearse run\` printed)`,
    );
  }
  return file;
}

/** Resolves and reads a run's report.json; every failure is a ReportInputError naming the file. */
export async function loadRun(
  arg: string,
  what = "run directory",
): Promise<{ file: string; report: RunReport }> {
  const file = await resolveReportFile(arg, what);
  try {
    return { file, report: await readReport(file) };
  } catch (err) {
    let message = (err as Error).message;
    // readReport's schema-version message already says what to do; the others get a hint here.
    if (/not valid JSON|not a rehearse report|invalid rehearse report/.test(message)) {
      message += `\n(the file is not a complete report written by \`rehearse run\`: re-run the rehearsal to regenerate it)`;
    }
    throw new ReportInputError(message);
  }
}

export interface RerenderResult {
  report: RunReport;
  /** The report.json that was read. */
  source: string;
  /** Where the files went. */
  dir: string;
  /** Paths written, in registry order. */
  written: string[];
}

/**
 * Re-renders every file format (all file reporters) from `<runDir>/report.json` into `out` (default: the
 * run directory itself). The run's verdict is kept as recorded: an aborted or inconclusive run stays so.
 */
export async function rerenderReport(
  runDir: string,
  options: { out?: string } = {},
): Promise<RerenderResult> {
  const { file, report } = await loadRun(runDir);
  const dir = options.out ?? path.dirname(file);
  const written = await writeReports(report, dir, { stepSummary: false });
  return { report, source: file, dir, written };
}
