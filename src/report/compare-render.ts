/**
 * Renders a Comparison (compare.ts) as Markdown (stdout, PR comments) or as a self-contained HTML page
 * (inline CSS, no scripts, no network). Pure and redacted, like the run reporters.
 */
import type { CheckChange, Comparison, Delta, PhaseComparison } from "./compare.ts";
import { formatNumber, oneLine, phaseLabel, VERDICT } from "./format.ts";
import { escapeHtml } from "./html.ts";
import { redact } from "../util/redact.ts";

const PCT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function signed(n: number, fmt: (v: number) => string): string {
  if (n === 0) return "±0";
  return n > 0 ? `+${fmt(n)}` : `-${fmt(-n)}`;
}

/** "12.3 → 36.9 (+24.6, +200%)"; just "12.3" when unchanged; "-" for a side without the metric. */
export function formatDelta(d: Delta, fmt: (v: number) => string = formatNumber): string {
  const a = d.a === undefined ? "-" : fmt(d.a);
  const b = d.b === undefined ? "-" : fmt(d.b);
  if (d.a === undefined && d.b === undefined) return "-";
  if (d.diff === undefined) return `${a} → ${b}`;
  if (d.diff === 0) return a;
  const pct = d.pct === undefined ? "" : `, ${signed(Math.round(d.pct), (v) => `${PCT.format(v)}%`)}`;
  const mark = d.regressed ? " ⚠" : d.within_noise ? " (within noise)" : "";
  return `${a} → ${b} (${signed(d.diff, fmt)}${pct})${mark}`;
}

const ms = (v: number) => formatNumber(Math.round(v * 10) / 10);
const whole = (v: number) => formatNumber(Math.round(v));

interface Column {
  title: string;
  value: (p: PhaseComparison) => string;
}

const PHASE_COLUMNS: Column[] = [
  { title: "Duration (ms)", value: (p) => formatDelta(p.duration_ms, whole) },
  { title: "Write p50 (ms)", value: (p) => formatDelta(p.write_p50_ms, ms) },
  { title: "Write p99 (ms)", value: (p) => formatDelta(p.write_p99_ms, ms) },
  { title: "Write max (ms)", value: (p) => formatDelta(p.write_max_ms, ms) },
  { title: "Write throughput (/s)", value: (p) => formatDelta(p.write_throughput, ms) },
  { title: "Load errors", value: (p) => formatDelta(p.load_errors, whole) },
  {
    title: "Rows scanned under ACCESS EXCLUSIVE (hot)",
    value: (p) => formatDelta(p.exclusive_rows_scanned, whole),
  },
  { title: "Max blocked requests", value: (p) => formatDelta(p.max_load_waiters, whole) },
];

function phaseName(p: PhaseComparison): string {
  const label = phaseLabel(p.section, p.phase);
  if (p.present === "a_only") return `${label} (A only)`;
  if (p.present === "b_only") return `${label} (B only)`;
  return label;
}

function phaseStatus(p: PhaseComparison): string {
  const a = p.status.a ?? "-";
  const b = p.status.b ?? "-";
  return a === b ? a : `${a} → ${b}`;
}

function checkName(c: CheckChange): string {
  return c.stage === "after_rollback" ? `${c.id} (after rollback)` : c.id;
}

function checkTransition(c: CheckChange): string {
  return `${c.a ?? "absent"} → ${c.b ?? "absent"}`;
}

function headline(c: Comparison): string {
  const n = c.checks;
  const counts = `${n.regressions.length} regression(s), ${n.fixed.length} fixed, ${n.other.length} other change(s), ${n.unchanged} unchanged`;
  switch (c.verdict) {
    case "inconclusive":
      return `NO VERDICT: at least one run is not conclusive, so nothing here is an improvement (checks: ${counts})`;
    case "regressed":
      return `REGRESSED: ${counts}`;
    case "improved":
      return `IMPROVED: ${counts}`;
    case "unchanged":
      return `UNCHANGED checks: ${counts}`;
  }
}

/** The differences in conditions, said before any delta, or that there are none. */
function differencesLines(c: Comparison): string[] {
  if (c.differences.length === 0)
    return [
      "nothing: same rows, scale, seed, settings, load, provider, clone, PostgreSQL, rollback and rehearse version",
    ];
  return [...c.differences, "the deltas below include the effect of these differences"];
}

function sideLine(label: string, s: Comparison["a"]): string {
  return `${label}: ${s.run_id} (${s.scenario}, ${VERDICT[s.status]}, exit ${s.exit_code}, started ${s.started_at})`;
}

// ------------------------------------------------------------------ markdown

function mdInline(text: string): string {
  return oneLine(text).replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

function mdCell(text: string): string {
  return mdInline(text).replace(/\|/g, "\\|");
}

function mdTable(header: string[], rows: string[][]): string {
  const lines = [
    `| ${header.map(mdCell).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ];
  return lines.join("\n");
}

function mdChecks(title: string, list: CheckChange[]): string[] {
  if (list.length === 0) return [];
  return [
    `### ${title}`,
    "",
    ...list.map(
      (c) => `- **${mdInline(checkName(c))}** (${c.kind}): ${checkTransition(c)} — ${mdInline(c.summary)}`,
    ),
    "",
  ];
}

export function renderComparisonMarkdown(c: Comparison): string {
  const out: string[] = [`# rehearse compare: ${mdInline(c.b.scenario)}`, ""];
  for (const line of c.notConclusive) out.push(`> **${mdInline(line)}**`, ">");
  if (c.notConclusive.length)
    out.push("> A comparison involving a run without a verdict is not an improvement.", "");
  for (const w of c.warnings) out.push(`> ⚠ Warning: ${mdInline(w)}`, "");
  out.push(`- ${mdInline(sideLine("A (before)", c.a))}`, `- ${mdInline(sideLine("B (after)", c.b))}`, "");
  out.push(`**${mdInline(headline(c))}**`, "");
  out.push("## What differs between A and B", "", ...differencesLines(c).map((l) => `- ${mdInline(l)}`), "");

  out.push("## Checks", "");
  out.push(...mdChecks("Regressions", c.checks.regressions));
  out.push(...mdChecks("Fixed", c.checks.fixed));
  out.push(...mdChecks("Other changes", c.checks.other));
  out.push(`${c.checks.unchanged} check(s) unchanged.`, "");

  out.push(
    "## Phases",
    "",
    `Values are A → B (change, % of A), or one value when unchanged. ${mdInline(c.thresholds)}`,
    "",
  );
  if (c.phases.length === 0) out.push("No phases in either run.", "");
  else {
    out.push(
      mdTable(
        ["Phase", "Status", ...PHASE_COLUMNS.map((col) => col.title)],
        c.phases.map((p) => [phaseName(p), phaseStatus(p), ...PHASE_COLUMNS.map((col) => col.value(p))]),
      ),
      "",
    );
  }

  const lockRows = c.phases.flatMap((p) =>
    p.locks.map((l) => [phaseName(p), l.mode, formatDelta(l.held_ms, whole)]),
  );
  out.push("## Longest lock hold per mode (tables)", "");
  if (lockRows.length === 0) out.push("No table locks recorded in either run.", "");
  else out.push(mdTable(["Phase", "Mode", "Held (ms)"], lockRows), "");

  return redact(`${out.join("\n").replace(/\n+$/, "")}\n`);
}

// ------------------------------------------------------------------ html

function htmlTable(header: string[], rows: { cells: string[]; bad?: boolean[] }[]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const trs = rows
    .map(
      (r) =>
        `<tr>${r.cells.map((v, i) => `<td${r.bad?.[i] ? ' class="worse"' : ""}>${escapeHtml(v)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody>\n</table>`;
}

function htmlChecks(title: string, cls: string, list: CheckChange[]): string {
  if (list.length === 0) return "";
  const items = list
    .map(
      (c) =>
        `<li><strong>${escapeHtml(checkName(c))}</strong> (${escapeHtml(c.kind)}): ${escapeHtml(checkTransition(c))} — ${escapeHtml(oneLine(c.summary))}</li>`,
    )
    .join("\n");
  return `<h3 class="${cls}">${escapeHtml(title)}</h3>\n<ul>\n${items}\n</ul>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.worse{background:#ffebe9}
.banner{padding:.6rem .8rem;border-radius:6px;margin:.5rem 0;font-weight:600}
.inconclusive{background:#fff8c5;border:1px solid #d4a72c}.warning{background:#fff8c5;border:1px solid #d4a72c;font-weight:400}
.regressed{color:#cf222e}.improved{color:#1a7f37}
`;

export function renderComparisonHtml(c: Comparison): string {
  const body: string[] = [`<h1>rehearse compare: ${escapeHtml(c.b.scenario)}</h1>`];
  for (const line of c.notConclusive) body.push(`<div class="banner inconclusive">${escapeHtml(line)}</div>`);
  if (c.notConclusive.length) {
    body.push(
      `<p class="banner inconclusive">A comparison involving a run without a verdict is not an improvement.</p>`,
    );
  }
  for (const w of c.warnings) body.push(`<div class="banner warning">Warning: ${escapeHtml(w)}</div>`);
  body.push(
    `<ul><li>${escapeHtml(sideLine("A (before)", c.a))}</li><li>${escapeHtml(sideLine("B (after)", c.b))}</li></ul>`,
  );
  const verdictClass = c.verdict === "regressed" ? "regressed" : c.verdict === "improved" ? "improved" : "";
  body.push(`<p class="${verdictClass}"><strong>${escapeHtml(headline(c))}</strong></p>`);
  body.push(
    "<h2>What differs between A and B</h2>",
    `<ul>${differencesLines(c)
      .map((l) => `<li>${escapeHtml(l)}</li>`)
      .join("")}</ul>`,
  );

  body.push("<h2>Checks</h2>");
  body.push(htmlChecks("Regressions", "regressed", c.checks.regressions));
  body.push(htmlChecks("Fixed", "improved", c.checks.fixed));
  body.push(htmlChecks("Other changes", "", c.checks.other));
  body.push(`<p>${c.checks.unchanged} check(s) unchanged.</p>`);

  body.push(
    "<h2>Phases</h2>",
    `<p>Values are A → B (change, % of A), or one value when unchanged; highlighted cells changed for the worse beyond the noise. ${escapeHtml(c.thresholds.replace(/^⚠ marks/, "Highlighted:"))}</p>`,
  );
  const deltas = (p: PhaseComparison): Delta[] => [
    p.duration_ms,
    p.write_p50_ms,
    p.write_p99_ms,
    p.write_max_ms,
    p.write_throughput,
    p.load_errors,
    p.exclusive_rows_scanned,
    p.max_load_waiters,
  ];
  body.push(
    c.phases.length === 0
      ? "<p>No phases in either run.</p>"
      : htmlTable(
          ["Phase", "Status", ...PHASE_COLUMNS.map((col) => col.title)],
          c.phases.map((p) => ({
            cells: [phaseName(p), phaseStatus(p), ...PHASE_COLUMNS.map((col) => col.value(p))],
            bad: [false, p.status.a !== p.status.b, ...deltas(p).map((d) => d.regressed)],
          })),
        ),
  );
  const lockRows = c.phases.flatMap((p) =>
    p.locks.map((l) => ({
      cells: [phaseName(p), l.mode, formatDelta(l.held_ms, whole)],
      bad: [false, false, l.held_ms.regressed],
    })),
  );
  body.push("<h2>Longest lock hold per mode (tables)</h2>");
  body.push(
    lockRows.length === 0
      ? "<p>No table locks recorded in either run.</p>"
      : htmlTable(["Phase", "Mode", "Held (ms)"], lockRows),
  );

  const title = `rehearse compare: ${c.a.run_id} → ${c.b.run_id}`;
  const html = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    ...body.filter((s) => s !== ""),
    "</body>",
    "</html>",
  ].join("\n");
  return redact(`${html}\n`);
}
