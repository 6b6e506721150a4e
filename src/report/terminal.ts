/**
 * The end-of-run summary printed to the terminal: compact, failures first, nothing an SRE has to scroll
 * past to learn what broke. Full detail is in the report directory, whose path is the last line.
 */
import { caveats } from "./caveats.ts";
import { redact, redactDeep } from "../util/redact.ts";
import { backgroundLine } from "./background-view.ts";
import {
  backfillSummary,
  CHECK_WORD,
  checkCounts,
  checkLabel,
  errorLocation,
  expectationLine,
  formatDuration,
  formatMeasure,
  formatNumber,
  isExpectedFailure,
  isProblem,
  orderChecks,
  phaseLabel,
  VERDICT,
} from "./format.ts";
import {
  episodeStep,
  failingLoadBudgets,
  formatLatency,
  formatRate,
  hadUnavailability,
  migrationBlocking,
  phaseWindows,
  windowLabel,
} from "./load-view.ts";
import { notableWaits, waitLine } from "./lock-waits-view.ts";
import type { CheckResult, RunReport, RunStatus } from "./model.ts";
import type { Reporter } from "./reporter.ts";

export interface TerminalOptions {
  /** ANSI colours; pass `shouldUseColor(process.stdout)` — never colour a pipe or a CI log file. */
  color: boolean;
  /** Printed last, so the path to the full report is where the eye lands. */
  reportDir?: string;
}

/** Findings printed per failing check; summary.md and report.json have the rest. */
const MAX_FINDINGS = 10;
const INDENT = "     ";

/** Colour only for a TTY, and never when NO_COLOR is set (https://no-color.org); FORCE_COLOR overrides. */
export function shouldUseColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return stream.isTTY === true && env.TERM !== "dumb";
}

type Paint = (code: number, text: string) => string;

/**
 * Text from the database or the scenario is shown as is, minus control characters: an ESC in an error
 * message or a table name would otherwise be interpreted by the terminal (cursor moves, fake output).
 */
function clean(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
}

function oneLineClean(text: string): string {
  return clean(text.replace(/\s*\r?\n\s*/g, " ").trim());
}

/** Each line cleaned, blank lines dropped, every line after the first indented by `indent`. */
function multiLineClean(text: string, indent: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => clean(l.trimEnd()))
    .filter((l) => l.trim() !== "")
    .join(`\n${indent}`);
}

const STATUS_COLOR: Record<RunStatus, number> = { passed: 32, failed: 31, inconclusive: 33, aborted: 33 };

function checkLines(r: RunReport, c: CheckResult, paint: Paint): string[] {
  const label = oneLineClean(checkLabel(c));
  if (!isProblem(c)) {
    if (c.status === "pass") return [`${paint(32, "ok")}   ${label}`];
    return [`${paint(2, "skip")} ${label}${c.summary ? `: ${oneLineClean(c.summary)}` : ""}`];
  }
  const word = CHECK_WORD[c.status];
  const expected = isExpectedFailure(r, c) ? " (expected)" : "";
  const out = [`${paint(31, word)} ${paint(1, label)}: ${oneLineClean(c.summary)}${expected}`];
  if (c.measured !== undefined || c.limit !== undefined) {
    out.push(
      `${INDENT}measured ${formatMeasure(c.measured, c.unit)}, limit ${formatMeasure(c.limit, c.unit)}`,
    );
  }
  for (const f of c.findings.slice(0, MAX_FINDINGS)) out.push(`${INDENT}- ${oneLineClean(f)}`);
  // Findings cut here plus the problems the check counted but never listed (capped examples).
  const more = Math.max(0, c.findings.length - MAX_FINDINGS) + (c.unlisted ?? 0);
  if (more > 0) out.push(`${INDENT}- … and ${formatNumber(more)} more`);
  if (c.remediation) out.push(`${INDENT}fix: ${oneLineClean(c.remediation)}`);
  return out;
}

/**
 * One line per phase, columns aligned so the phase where p99 jumps stands out when scanning down:
 * "load  cutover  p99 900 ms  max 1,180 ms  1,123 w/s  37 err  unavailable 1.2 s". A phase with a failing
 * load budget is red, errors yellow; the details are in summary.md.
 */
function loadLines(r: RunReport, paint: Paint): string[] {
  if (!r.load) return [];
  const writes = phaseWindows(r.load, "write");
  const cols = writes.map((w) => ({
    w,
    label: oneLineClean(windowLabel(w)),
    p99: formatLatency(w.latency.p99),
    max: formatLatency(w.latency.max),
    rate: formatRate(w.throughput),
    errors: formatNumber(w.errors),
  }));
  const width = (k: "label" | "p99" | "max" | "rate" | "errors") =>
    Math.max(0, ...cols.map((c) => c[k].length));
  const out: string[] = [];
  for (const c of cols) {
    const label = c.label.padEnd(width("label"));
    const phase = failingLoadBudgets(r, c.w.phase).length > 0 ? paint(31, label) : label;
    const errors = `${c.errors.padStart(width("errors"))} err`;
    const gap = hadUnavailability(r.load, c.w)
      ? `  unavailable ${formatDuration(c.w.longest_unavailability_ms)}`
      : "";
    // Dropped and late requests failed as surely as errors (the error rate counts them): shown when any.
    const lost = [
      c.w.dropped ? `${formatNumber(c.w.dropped)} dropped` : "",
      c.w.late ? `${formatNumber(c.w.late)} late` : "",
    ].filter(Boolean);
    const lostText = lost.length > 0 ? `  ${paint(33, lost.join("  "))}` : "";
    out.push(
      `load  ${phase}  p99 ${c.p99.padStart(width("p99"))} ms  max ${c.max.padStart(width("max"))} ms  ` +
        `${c.rate.padStart(width("rate"))} w/s  ${c.w.errors > 0 ? paint(33, errors) : errors}${lostText}${gap}`,
    );
  }
  const worst = r.observations ? migrationBlocking(r.observations)[0] : undefined;
  if (worst) {
    out.push(
      `load  worst blocking: ${oneLineClean(worst.relation ?? "(no relation)")} ${oneLineClean(worst.mode)} held by the migration ` +
        `in ${oneLineClean(episodeStep(r, worst))}: ${formatNumber(worst.load_waiters)} load requests waited, ` +
        `longest ${formatDuration(worst.longest_wait_ms)}`,
    );
  }
  return out;
}

/** Renders the terminal summary. */
export function renderTerminal(report: RunReport, options: TerminalOptions = { color: false }): string {
  const r = redactDeep(report);
  const paint: Paint = options.color
    ? (code, text) => `\u001b[${code}m${text}\u001b[0m`
    : (_code, text) => text;
  const out: string[] = [];

  out.push(
    `${paint(1, "rehearse")} ${paint(STATUS_COLOR[r.status], VERDICT[r.status])} ${oneLineClean(r.scenario.name)}: ` +
      `${checkCounts(r)}; exit code ${r.exit_code}; ${formatDuration(r.duration_ms)}`,
  );
  // Line by line: a reason listing bad input keeps its "file:line:col: path: message" / "fix:" layout.
  if (r.reason) out.push(`  reason: ${multiLineClean(r.reason, "    ")}`);
  out.push(`  ${oneLineClean(expectationLine(r))}`);
  // Caveats beyond the scale (which the report states): what a green run here does not cover.
  for (const c of caveats(r).slice(1)) out.push(`  caveat: ${oneLineClean(c)}`);

  const ordered = orderChecks(r.checks);
  if (ordered.length > 0) out.push("");
  for (const c of ordered) out.push(...checkLines(r, c, paint));

  // After the checks: a failing load budget above says that it failed, these lines say where and how badly.
  const load = loadLines(r, paint);
  if (load.length > 0) out.push("", ...load);

  // Waiting apart from holding: the longest wait names whom the migration waited for.
  const waits = notableWaits(r);
  if (waits.length > 0) {
    const more =
      waits.length > 1 ? ` (${waits.length - 1} more wait${waits.length > 2 ? "s" : ""} in the report)` : "";
    out.push("", `locks ${oneLineClean(waitLine(waits[0]!))}${more}`);
  }

  if (r.background?.length) out.push("");
  for (const b of r.background ?? []) out.push(`background ${oneLineClean(backgroundLine(b))}`);

  const backfills = r.steps.filter((s) => s.backfill);
  if (backfills.length > 0) out.push("");
  for (const s of backfills) {
    out.push(
      `backfill ${oneLineClean(`${phaseLabel(s.section, s.phase)}/${s.name}`)}: ${oneLineClean(backfillSummary(s.backfill!))}`,
    );
  }

  const failed = r.steps.filter((s) => s.status === "error" && s.error);
  for (const s of failed) {
    const e = s.error!;
    out.push("");
    const state = e.sqlstate ? `SQLSTATE ${e.sqlstate}: ` : "";
    out.push(
      `${paint(31, "error")} in ${oneLineClean(`${phaseLabel(s.section, s.phase)}/${s.name}`)}: ${state}${oneLineClean(e.message)}`,
    );
    const where = errorLocation(e);
    if (where) out.push(`${INDENT}at ${oneLineClean(where)}`);
    if (e.hint) out.push(`${INDENT}hint: ${oneLineClean(e.hint)}`);
    // Excerpt lines keep their own spacing: the caret line is aligned under the source line.
    if (e.excerpt)
      for (const line of e.excerpt.replace(/\s+$/, "").split(/\r?\n/)) out.push(`${INDENT}${clean(line)}`);
  }

  if (options.reportDir) out.push("", `report: ${clean(options.reportDir)}`);
  return redact(`${out.join("\n")}\n`);
}

/** A terminal reporter with fixed options (the registry's default is uncoloured). */
export function createTerminalReporter(options: TerminalOptions): Reporter {
  return { format: "terminal", render: (report) => renderTerminal(report, options) };
}

export const terminalReporter: Reporter = createTerminalReporter({ color: false });
