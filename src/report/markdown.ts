/**
 * summary.md: the report as a pull-request comment or GitHub step summary. Written for the reviewer who
 * reads only the top: verdict, then what failed and how to fix it, then the evidence (budgets, invariants,
 * steps, locks), then the context needed to reproduce the run.
 */
import { markdownTable } from "markdown-table";
import { redact, redactDeep } from "../util/redact.ts";
import {
  CHECK_WORD,
  checkCounts,
  checkLabel,
  errorLocation,
  expectationLine,
  formatDuration,
  formatMeasure,
  formatNumber,
  hotExclusiveWork,
  isExpectedFailure,
  isProblem,
  longestHolds,
  oneLine,
  orderChecks,
  phaseLabel,
  statementWhere,
  VERDICT,
} from "./format.ts";
import type { CheckResult, RunReport, StepResult } from "./model.ts";
import type { Reporter } from "./reporter.ts";

/** Findings listed per failing check; the rest are counted (report.json keeps them all). */
const MAX_FINDINGS = 20;

/**
 * Text in running Markdown: one line (a newline would end a list item or a paragraph), and "<" escaped
 * because GitHub drops what looks like an unknown HTML tag, which would hide "<none>" or "<tablename>".
 */
function inline(text: string): string {
  return oneLine(text).replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

/**
 * A table cell. markdown-table does no escaping: a "|" would split the cell and a newline would end the
 * row. "\|" is honoured by GFM even inside code spans; newlines become <br> so multi-line messages survive.
 */
function cell(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

/** An inline code span whose delimiter is longer than any backtick run inside it. */
function code(text: string): string {
  const flat = oneLine(text);
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** A table cell holding a code span: "|" still has to be escaped there. */
function codeCell(text: string): string {
  return code(text).replace(/\|/g, "\\|");
}

/** A fenced block whose fence is longer than any backtick run inside, so an excerpt cannot close it. */
function fenced(text: string): string {
  const longest = Math.max(0, ...(text.match(/`{3,}/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}\n${text.replace(/\s+$/, "")}\n${fence}`;
}

function table(header: string[], rows: string[][], align?: string[]): string {
  return markdownTable([header, ...rows], align ? { align } : undefined);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function stepName(s: {
  section: "migration" | "rollback";
  phase: string;
  name?: string;
  step?: string;
}): string {
  return `${phaseLabel(s.section, s.phase)}/${s.name ?? s.step ?? ""}`;
}

function header(r: RunReport): string[] {
  const out = [`## rehearse: ${VERDICT[r.status]} ${code(r.scenario.name)}`, ""];
  if (r.scenario.description) out.push(`_${inline(r.scenario.description)}_`, "");
  // The verdict line: the one line a reviewer reads; plain words, no emoji, so it also greps and diffs.
  out.push(
    `**${VERDICT[r.status]}**: ${checkCounts(r)}; exit code ${r.exit_code}; ${formatDuration(r.duration_ms)}; run ${code(r.run_id)}`,
    "",
  );
  if (r.reason) out.push(`**Reason:** ${inline(r.reason)}`, "");
  // Placed with the verdict because it explains it: a failing check the scenario expects is a pass.
  out.push(`**Expectation:** ${inline(expectationLine(r))}`, "");
  return out;
}

function failingChecks(r: RunReport): string[] {
  const problems = orderChecks(r.checks).filter(isProblem);
  if (problems.length === 0) return [];
  const out = ["### Failing checks", ""];
  for (const c of problems) {
    const expected = isExpectedFailure(r, c) ? ", expected by the scenario" : "";
    out.push(`#### ${CHECK_WORD[c.status]} ${code(checkLabel(c))} (${c.kind}${expected})`, "");
    if (c.summary) out.push(inline(c.summary), "");
    if (c.measured !== undefined || c.limit !== undefined) {
      out.push(`Measured ${formatMeasure(c.measured, c.unit)}, limit ${formatMeasure(c.limit, c.unit)}.`, "");
    }
    if (c.findings.length > 0) {
      for (const f of c.findings.slice(0, MAX_FINDINGS)) out.push(`- ${inline(f)}`);
      if (c.findings.length > MAX_FINDINGS) {
        out.push(`- … and ${c.findings.length - MAX_FINDINGS} more (see report.json)`);
      }
      out.push("");
    }
    if (c.remediation) out.push(`**Remediation:** ${inline(c.remediation)}`, "");
  }
  return out;
}

function statusCell(c: CheckResult, r: RunReport): string {
  const word = CHECK_WORD[c.status];
  return isExpectedFailure(r, c) ? `${word} (expected)` : word;
}

function budgets(r: RunReport): string[] {
  const list = orderChecks(r.checks.filter((c) => c.kind === "budget"));
  if (list.length === 0) return [];
  const rows = list.map((c) => [
    codeCell(checkLabel(c)),
    statusCell(c, r),
    cell(formatMeasure(c.measured, c.unit)),
    cell(formatMeasure(c.limit, c.unit)),
    cell(c.summary),
  ]);
  return [
    "### Budgets",
    "",
    table(["Budget", "Status", "Measured", "Limit", "Summary"], rows, ["l", "l", "r", "r", "l"]),
    "",
  ];
}

function invariants(r: RunReport): string[] {
  const list = orderChecks(r.checks.filter((c) => c.kind === "invariant"));
  if (list.length === 0) return [];
  const rows = list.map((c) => [codeCell(checkLabel(c)), statusCell(c, r), cell(c.summary)]);
  return ["### Invariants", "", table(["Invariant", "Status", "Summary"], rows), ""];
}

function stepErrorCell(s: StepResult): string {
  if (!s.error) return "";
  const state = s.error.sqlstate ? `${s.error.sqlstate}: ` : "";
  return cell(truncate(oneLine(`${state}${s.error.message}`), 120));
}

function stepError(s: StepResult): string[] {
  const e = s.error;
  if (!e) return [];
  const out = [`#### Error in ${code(stepName(s))}`, ""];
  const state = e.sqlstate ? `SQLSTATE ${code(e.sqlstate)}: ` : "";
  out.push(`${state}${inline(e.message)}`, "");
  const where = errorLocation(e);
  if (where) out.push(`at ${code(where)}`, "");
  if (e.detail) out.push(`Detail: ${inline(e.detail)}`, "");
  if (e.hint) out.push(`Hint: ${inline(e.hint)}`, "");
  // The excerpt is the source line and a caret line under the error position: it needs a monospaced
  // block, and its own whitespace, or the caret points at the wrong character.
  if (e.excerpt) out.push(fenced(e.excerpt), "");
  return out;
}

function steps(r: RunReport): string[] {
  if (r.steps.length === 0) return [];
  const rows = r.steps.map((s) => [
    cell(phaseLabel(s.section, s.phase)),
    cell(s.name),
    s.status,
    formatDuration(s.duration_ms),
    String(s.attempts),
    stepErrorCell(s),
  ]);
  const out = [
    "### Steps",
    "",
    table(["Phase", "Step", "Status", "Duration", "Attempts", "Error"], rows, ["l", "l", "l", "r", "r", "l"]),
    "",
  ];
  for (const s of r.steps) out.push(...stepError(s));
  return out;
}

function locks(r: RunReport): string[] {
  const phases = longestHolds(r);
  const hot = hotExclusiveWork(r);
  if (phases.length === 0 && hot.length === 0) return [];
  const out = ["### Locks", ""];
  if (hot.length > 0) {
    // First because it is the usual cause of an outage: every query on the table, reads included, waits.
    out.push(
      "Hot tables scanned or rewritten while holding ACCESS EXCLUSIVE (all other queries on them wait):",
      "",
    );
    for (const w of hot) {
      const held = w.held_ms === undefined ? "" : `, lock held ${formatDuration(w.held_ms)}`;
      out.push(
        `- ${code(w.effect.relation)}: ${inline(w.what)} under ${inline(w.effect.held_mode ?? "")}${held}, in ${inline(statementWhere(r, w.effect))}`,
      );
    }
    out.push("");
  }
  if (phases.length > 0) {
    out.push("Longest hold per relation and lock mode, per phase:", "");
    const rows: string[][] = [];
    for (const holds of phases) {
      for (const h of holds) {
        rows.push([
          cell(phaseLabel(h.section, h.phase)),
          codeCell(h.relation),
          cell(h.mode),
          formatDuration(h.held_ms),
          cell(
            `${h.step} statement ${h.statement + 1}${h.in_transaction ? "" : " (sampled, no transaction)"}`,
          ),
        ]);
      }
    }
    out.push(
      table(["Phase", "Relation", "Mode", "Longest hold", "Taken by"], rows, ["l", "l", "l", "r", "l"]),
      "",
    );
  }
  return out;
}

function seeding(r: RunReport): string[] {
  const s = r.seeding;
  if (!s) return [];
  const out = [
    "### Seeding",
    "",
    `Seeded ${formatNumber(s.rows)} rows in ${formatDuration(s.duration_ms)} (${formatNumber(Math.round(s.rows_per_s))} rows/s).`,
    "",
  ];
  if (s.tables.length > 1) {
    const rows = s.tables.map((t) => [
      codeCell(t.table),
      formatNumber(t.rows),
      formatDuration(t.duration_ms),
      formatNumber(Math.round(t.rows_per_s)),
    ]);
    out.push(table(["Table", "Rows", "Duration", "Rows/s"], rows, ["l", "r", "r", "r"]), "");
  }
  return out;
}

function context(r: RunReport): string[] {
  const c = r.context;
  const settings = Object.entries(c.settings)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => code(`${k}=${String(v)}`));
  const out = [
    "### Context",
    "",
    `- Provider: ${inline(c.provider)}`,
    `- PostgreSQL: ${inline(c.postgres_version ?? "unknown")}`,
    `- Scale: ${formatNumber(c.scale)}; seed: ${c.seed}; rollback: ${c.rollback ? "yes" : "no"}`,
  ];
  if (settings.length > 0) out.push(`- Settings: ${settings.join(", ")}`);
  if (r.timings.length > 0) {
    out.push(`- Wall time: ${r.timings.map((t) => `${inline(t.stage)} ${formatDuration(t.ms)}`).join(", ")}`);
  }
  out.push(
    `- Scenario: ${code(r.scenario.path)}; ${inline(r.tool.name)} ${inline(r.tool.version)} on Node ${inline(c.node)}`,
    `- Started ${inline(r.started_at)}, finished ${inline(r.finished_at)}`,
    "",
  );
  return out;
}

/** Renders summary.md. */
export function renderMarkdown(report: RunReport): string {
  // Redact the data before escaping: once "|" is "\|" or "&" is "&amp;", a secret no longer matches.
  const r = redactDeep(report);
  const lines = [
    ...header(r),
    ...failingChecks(r),
    ...budgets(r),
    ...invariants(r),
    ...steps(r),
    ...locks(r),
    ...seeding(r),
    ...context(r),
  ];
  return redact(`${lines.join("\n").replace(/\n+$/, "")}\n`);
}

export const markdownReporter: Reporter = {
  format: "markdown",
  fileName: "summary.md",
  render: renderMarkdown,
};
