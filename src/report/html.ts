/**
 * index.html: one self-contained page an SRE opens offline, days later, to decide go/no-go. Verdict first,
 * then what failed and how to fix it, then the evidence as charts (SVG rendered here, in Node, by ECharts:
 * the page has no script and loads nothing), then the tables and the context needed to reproduce the run.
 */
import { caveats } from "./caveats.ts";
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
  isExpectedFailure,
  isProblem,
  orderChecks,
  phaseLabel,
  VERDICT,
} from "./format.ts";
import {
  latencyChart,
  lockChart,
  replicationChart,
  tablesChart,
  throughputChart,
  walChart,
} from "./html-charts.ts";
import { detailCaption, detailChart, detailLabel, detailWindows, stepKey } from "./html-detail.ts";
import { rateText } from "./load-view.ts";
import { coversText, lockView, relationLabel, type LockGroup } from "./lock-view.ts";
import { notableWaits, OUTCOME_WORD, queueText, waitedFor, waitWhere } from "./lock-waits-view.ts";
import type { CheckResult, RunReport, StepResult } from "./model.ts";
import type { Reporter } from "./reporter.ts";

const MAX_FINDINGS = 20;
const MAX_LOCK_ROWS = 50;

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const e = escapeHtml;

const CSS = `
:root{--pass:#15803d;--pass-bg:#dcfce7;--fail:#b91c1c;--fail-bg:#fee2e2;--warn:#b45309;--warn-bg:#fef3c7;--muted:#4b5563;--neutral-bg:#e5e7eb;--line:#d1d5db}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;margin:0;padding:24px;max-width:1040px;margin-inline:auto;background:#fff}
h1{font-size:20px;margin:0 0 12px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.banner{border-radius:6px;padding:14px 18px;border:2px solid}
.banner .verdict{font-size:24px;font-weight:700;letter-spacing:.04em}
.banner p{margin:4px 0 0}
.status-passed{background:var(--pass-bg);border-color:var(--pass);color:#14532d}
.status-failed{background:var(--fail-bg);border-color:var(--fail);color:#7f1d1d}
.status-inconclusive{background:var(--warn-bg);border-color:var(--warn);color:#78350f}
.status-aborted{background:var(--neutral-bg);border-color:#374151;color:#111827}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f4f6}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.fixed{table-layout:fixed}
table.fixed th{overflow-wrap:normal}
table.kv th{white-space:nowrap;width:1%}
.tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600}
.tag-fail,.tag-error{background:var(--fail-bg);color:var(--fail)}
.tag-pass,.tag-success{background:var(--pass-bg);color:var(--pass)}
.tag-hot{background:var(--warn-bg);color:var(--warn)}
.tag-skipped,.tag-not_executed,.tag-expected{background:var(--neutral-bg);color:var(--muted)}
.failure{border-left:4px solid var(--fail);padding:6px 12px;margin:10px 0;background:#fff7f7}
.failure.expected{border-left-color:#6b7280;background:#f9fafb}
pre{background:#f3f4f6;padding:8px;overflow-x:auto;white-space:pre-wrap;font-size:12px;margin:4px 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.remedy{color:#1e3a8a}
.muted{color:var(--muted)}
figure.chart{margin:10px 0 18px;overflow-x:auto}
figure.chart figcaption{font-weight:600;margin-bottom:4px}
figure.chart svg{display:block;max-width:none}
.absent{color:var(--muted);font-style:italic}
ul.legend{display:flex;flex-wrap:wrap;gap:2px 16px;list-style:none;margin:2px 0 0;padding:0 0 0 90px;font-size:12px;color:#374151}
ul.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:18px;height:10px;flex:none}
.chart-note{font-size:12px;margin:2px 0 0 90px}
.step-key{font-size:12px;margin:6px 0 12px}
.step-key ol{display:flex;flex-wrap:wrap;gap:2px 14px;list-style:none;margin:4px 0 0;padding:0}
.step-key li.key-error{color:var(--fail)}
details summary{cursor:pointer;color:var(--muted);font-size:12px}
details ul{margin:2px 0 0;padding-left:18px}
tr.top-lock td{background:#fff7f7}
`;

function tag(status: string, text = status): string {
  return `<span class="tag tag-${e(status)}">${e(text)}</span>`;
}

function banner(r: RunReport): string {
  const lines = [`<p>${e(checkCounts(r))} · ${e(expectationLine(r))}</p>`];
  if (r.reason) lines.unshift(`<p><strong>Reason:</strong> ${e(r.reason)}</p>`);
  return (
    `<header class="banner status-${e(r.status)}" id="verdict" role="status">` +
    `<div class="verdict">${e(VERDICT[r.status])}</div>` +
    `<p>Scenario <strong>${e(r.scenario.name)}</strong> · run <code>${e(r.run_id)}</code> · ` +
    `${e(r.started_at)} · ${e(formatDuration(r.duration_ms))}</p>${lines.join("")}</header>`
  );
}

/** Under the banner: what the run did not establish (caveats.ts). */
function caveatsSection(r: RunReport): string {
  const items = caveats(r).map((c) => `<li>${e(c)}</li>`);
  return `<section id="caveats"><h2>What this run did not establish</h2><ul>${items.join("")}</ul></section>`;
}

function findingList(c: CheckResult): string {
  if (c.findings.length === 0) return "";
  const shown = c.findings.slice(0, MAX_FINDINGS).map((f) => `<li>${e(f)}</li>`);
  const cut = c.findings.length - shown.length;
  const more = cut + (c.unlisted ?? 0);
  if (more > 0) shown.push(`<li class="muted">… and ${more} more${cut > 0 ? " (see report.json)" : ""}</li>`);
  return `<ul>${shown.join("")}</ul>`;
}

/** One line of at most `n` characters: a table cell stays a cell. */
function clip(text: string, n: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}

/** The check a failed step fails. */
const completedCheck = (st: StepResult) =>
  st.section === "rollback" ? "rollback_completed" : "migration_completed";

function stepError(st: StepResult): string {
  const err = st.error!;
  const where = errorLocation(err);
  return (
    `<div class="failure">${tag("fail", "FAIL")} <code>${completedCheck(st)}</code>: ` +
    `<strong>${e(phaseLabel(st.section, st.phase))}/${e(st.name)}</strong> failed` +
    `${st.attempts > 1 ? ` after ${st.attempts} attempts` : ""}: ` +
    `${err.sqlstate ? `<code>${e(err.sqlstate)}</code> ` : ""}${e(err.message)}` +
    `${where ? ` <span class="muted">at <code>${e(where)}</code></span>` : ""}` +
    `${err.detail ? `<br>Detail: ${e(err.detail)}` : ""}` +
    `${err.hint ? `<br>Hint: ${e(err.hint)}` : ""}` +
    `${err.excerpt ? `<pre>${e(err.excerpt)}</pre>` : ""}</div>`
  );
}

/** What broke, first: failing checks with their remedies, failed steps, and why a run has no verdict. */
function failures(r: RunReport): string {
  const problems = orderChecks(r.checks).filter(isProblem);
  const erroredSteps = r.steps.filter((st) => st.error);
  if (problems.length === 0 && erroredSteps.length === 0 && r.status === "passed") return "";
  const parts: string[] = [];
  if (r.status === "inconclusive" || r.status === "aborted") {
    parts.push(
      `<p><strong>No verdict on the migration:</strong> ${e(r.reason ?? "the run did not complete")}</p>`,
    );
  }
  for (const st of erroredSteps) parts.push(stepError(st));
  // migration_completed / rollback_completed only repeat the step error just shown (summary and findings).
  const told = new Set<string>(erroredSteps.map(completedCheck));
  const shown = problems.filter((c) => !told.has(c.id));
  for (const c of shown) {
    const expected = isExpectedFailure(r, c);
    const measure =
      c.measured !== undefined
        ? ` <span class="muted">(measured ${e(formatMeasure(c.measured, c.unit))}, limit ${e(formatMeasure(c.limit, c.unit))})</span>`
        : "";
    parts.push(
      `<div class="failure${expected ? " expected" : ""}">` +
        `${tag(c.status, CHECK_WORD[c.status])}${expected ? ` ${tag("expected", "expected")}` : ""} ` +
        `<strong><code>${e(checkLabel(c))}</code></strong> ${e(c.summary)}${measure}` +
        findingList(c) +
        `${c.remediation ? `<p class="remedy"><strong>Fix:</strong> ${e(c.remediation)}</p>` : ""}</div>`,
    );
  }
  if (parts.length === 0) parts.push(`<p>${e(r.reason ?? "The run did not pass.")}</p>`);
  return `<section id="failures"><h2>What failed</h2>${parts.join("")}</section>`;
}

/**
 * A table whose columns keep the given widths (percent): cells wrap anywhere, so an automatic layout would
 * give a long summary all the room and squeeze a status or an id to a letter a line.
 */
function fixedTable(widths: number[]): string {
  return `<table class="fixed"><colgroup>${widths.map((w) => `<col style="width:${w}%">`).join("")}</colgroup>`;
}

function figure(id: string, title: string, svg: string | undefined, absent: string): string {
  if (svg === undefined) return `<p class="absent" data-absent="${e(id)}">${e(title)}: ${e(absent)}</p>`;
  return `<figure class="chart" data-chart="${e(id)}"><figcaption>${e(title)}</figcaption>${svg}</figure>`;
}

function charts(r: RunReport): string {
  const noLoad = r.load
    ? "the load recorded no per-second samples."
    : "no load ran (the scenario has no load section).";
  const obs = r.observations;
  const noObs = "no observations were recorded.";
  const parts = [
    figure(
      "latency",
      "Write latency per second (p50 / p99), phases shaded, steps marked",
      latencyChart(r),
      noLoad,
    ),
    figure("throughput", "Throughput and errors per second", throughputChart(r), noLoad),
    figure(
      "locks",
      "Lock timeline: the migration's waits (outlined) and holds (filled) per table" +
        (obs?.blocking.some((b) => b.load_waiters > 0) ? ", and the load that queued" : ""),
      lockChart(r),
      "the migration took no relation locks the tracer saw, and nothing waited.",
    ),
    figure(
      "tables",
      "Live and dead tuples per hot table",
      tablesChart(r),
      obs ? "no table samples were taken." : noObs,
    ),
    figure("wal", "WAL generated (MiB/s)", walChart(r), obs ? "no WAL samples were taken." : noObs),
    figure(
      "replication",
      "Replication replay lag",
      replicationChart(r),
      obs ? "no replica, so no replication lag samples." : noObs,
    ),
  ];
  return `<section id="charts"><h2>Evidence</h2>${stepKey(r)}${parts.join("")}${zoom(r)}</section>`;
}

/** Each step up close: the sub-second series (load.detail), when the report has it. */
function zoom(r: RunReport): string {
  const windows = detailWindows(r);
  if (windows.length === 0) return "";
  const all = r.load?.detail?.filter((d) => d.points.length > 0).length ?? 0;
  const figures = windows.map(
    (d, i) =>
      `<figure class="chart detail" data-chart="detail-${i + 1}" data-step="${e(detailLabel(d))}">` +
      `<figcaption>${e(detailCaption(d))}</figcaption>${detailChart(r, d)}</figure>`,
  );
  const cut =
    all > windows.length
      ? ` <span class="muted">${all - windows.length} more steps in report.json (load.detail): these are the ones where writes failed, were blocked or were slowest.</span>`
      : "";
  return (
    `<h3 id="zoom">Each step up close</h3><p>Write latency and throughput at sub-second resolution around each step ` +
    `(0.5 s either side), where the per-second charts above squeeze a short step into a point.${cut}</p>${figures.join("")}`
  );
}

function checksTable(r: RunReport): string {
  if (r.checks.length === 0)
    return `<section id="checks"><h2>Invariants and budgets</h2><p>No checks ran.</p></section>`;
  const rows = orderChecks(r.checks).map(
    (c) =>
      `<tr><td>${tag(c.status, CHECK_WORD[c.status])}${isExpectedFailure(r, c) ? ` ${tag("expected")}` : ""}</td>` +
      `<td><code>${e(checkLabel(c))}</code><br><span class="muted">${e(c.kind)}</span></td>` +
      `<td class="num">${e(formatMeasure(c.measured, c.unit))}</td><td class="num">${e(formatMeasure(c.limit, c.unit))}</td>` +
      `<td>${e(c.summary)}${findingList(c)}${c.remediation ? `<p class="remedy">${e(c.remediation)}</p>` : ""}</td></tr>`,
  );
  return (
    `<section id="checks"><h2>Invariants and budgets</h2>${fixedTable([11, 25, 10, 10, 44])}<thead><tr><th>Status</th><th>Check</th>` +
    `<th>Measured</th><th>Limit</th><th>Summary, findings, fix</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`
  );
}

function stepsTable(r: RunReport): string {
  if (r.steps.length === 0) return `<section id="steps"><h2>Steps</h2><p>No steps ran.</p></section>`;
  const rows = r.steps.map((st) => {
    // The whole error (detail, hint, excerpt) is in "What failed" above: once is enough, and a table cell
    // holding a caret excerpt runs off the page.
    const err = st.error
      ? `${st.error.sqlstate ? `<code>${e(st.error.sqlstate)}</code> ` : ""}${e(clip(st.error.message, 160))}` +
        ` <a href="#failures">details</a>`
      : "";
    return (
      `<tr><td>${e(phaseLabel(st.section, st.phase))}</td><td>${e(st.name)}</td><td>${tag(st.status)}</td>` +
      `<td class="num">${e(st.started_ms === undefined ? "-" : formatDuration(st.started_ms))}</td>` +
      `<td class="num">${e(formatDuration(st.duration_ms))}</td><td class="num">${st.attempts}</td>` +
      `<td>${st.transaction ? "yes" : "no"}</td><td>${err}</td></tr>`
    );
  });
  return (
    `<section id="steps"><h2>Steps</h2><table><thead><tr><th>Phase</th><th>Step</th><th>Status</th><th>Started at</th>` +
    `<th>Duration</th><th>Attempts</th><th>In transaction</th><th>Error</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`
  );
}

/** "cutover/swap statements 1, 11, 21 and 3 more": the statements that took a group's locks, by step. */
function takenBy(g: LockGroup): string {
  const byStep = new Map<string, number[]>();
  for (const l of g.holds) {
    const step = `${phaseLabel(l.section, l.phase)}/${l.step}`;
    const ns = byStep.get(step) ?? [];
    if (!ns.includes(l.statement + 1)) ns.push(l.statement + 1);
    byStep.set(step, ns);
  }
  const more = (n: number) => (n > 0 ? ` and ${n} more` : "");
  const steps = [...byStep].map(([step, ns]) => {
    ns.sort((x, y) => x - y);
    return `${step} statement${ns.length > 1 ? "s" : ""} ${ns.slice(0, 4).join(", ")}${more(ns.length - 4)}`;
  });
  return steps.slice(0, 3).join("; ") + (steps.length > 3 ? `; ${steps.length - 3} more steps` : "");
}

/** The indexes and partitions a group folds in, expandable: the row stays one line until asked. */
function coversCell(g: LockGroup): string {
  if (g.covers.length === 0) return "";
  const longest = (rel: string) =>
    Math.max(...g.holds.filter((l) => l.relation === rel).map((l) => l.held_ms));
  const items = g.covers.map(
    (rel) => `<li><code>${e(relationLabel(rel))}</code> ${e(formatDuration(longest(rel)))}</li>`,
  );
  return `<details><summary>and ${e(coversText(g))}</summary><ul>${items.join("")}</ul></details>`;
}

/** One row per table and mode, as the lock timeline draws them: hot tables first, the ▶ lock marked. */
function locksTable(r: RunReport): string {
  if (r.locks.length === 0) return waitsTable(r);
  const view = lockView(r);
  const groups = view.groups.filter((g) => g.holds.length > 0);
  const rows = groups
    .slice(0, MAX_LOCK_ROWS)
    .map(
      (g) =>
        `<tr${g === view.top ? ' class="top-lock"' : ""}><td>${g === view.top ? "▶ " : ""}<code>${e(relationLabel(g.owner))}</code>` +
        `${g.hot ? ` ${tag("hot")}` : ""}${coversCell(g)}</td><td>${e(g.mode)}</td>` +
        `<td class="num">${e(formatDuration(g.longestHeld))}</td>` +
        `<td class="num">${e(g.longestWait > 0 ? formatDuration(g.longestWait) : "-")}</td>` +
        `<td class="num">${g.loadWaiting > 0 ? e(formatNumber(g.loadWaiting)) : "-"}</td>` +
        `<td>${e(takenBy(g))}</td><td class="num">${e(formatDuration(g.holds[0]!.acquired_ms))}</td></tr>`,
    );
  const cut =
    groups.length > MAX_LOCK_ROWS
      ? `<p class="muted">${groups.length - MAX_LOCK_ROWS} more in report.json (locks).</p>`
      : "";
  return (
    waitsTable(r) +
    `<section id="locks"><h2>Locks held, one row per table and mode (hot tables first, then longest)</h2>` +
    `${fixedTable([24, 20, 9, 9, 8, 21, 9])}<thead><tr><th>Table</th><th>Mode</th><th>Held, longest</th><th>Waited first, longest</th>` +
    `<th>Load waiting</th><th>Taken by</th><th>First acquired</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>${cut}</section>`
  );
}

/** Waits apart from holds: whom the migration waited for, and the load that queued behind it meanwhile. */
function waitsTable(r: RunReport): string {
  const waits = notableWaits(r);
  if (waits.length === 0) return "";
  const rows = waits
    .slice(0, 50)
    .map(
      (w) =>
        `<tr><td><code>${e(relationLabel(w.relation))}</code></td><td>${e(w.mode)}</td><td class="num">${e(formatDuration(w.wait_ms))}</td>` +
        `<td>${e(OUTCOME_WORD[w.outcome])}</td><td>${e(waitedFor(w))}</td><td>${e(queueText(w))}</td>` +
        `<td>${e(waitWhere(w))}</td><td class="num">${e(formatDuration(w.started_ms))}</td></tr>`,
    );
  return (
    `<section id="lock-waits"><h2>Lock waits (longest first; not counted as holding)</h2>${fixedTable([14, 18, 7, 9, 16, 14, 14, 8])}<thead><tr><th>Relation</th><th>Mode</th>` +
    `<th>Waited</th><th>Then</th><th>Waited for</th><th>Load queued behind it</th><th>Statement</th><th>Started at</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></section>`
  );
}

function kv(rows: [string, string][]): string {
  return `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`).join("")}</tbody></table>`;
}

function contextSection(r: RunReport): string {
  const c = r.context;
  const rows: [string, string][] = [
    ["Scenario", `${r.scenario.name} (${r.scenario.path})`],
    ["Description", r.scenario.description],
    [
      "Provider",
      `${c.provider}${c.clone?.image ? ` (image ${c.clone.image})` : ""}${c.replica ? ", with a streaming replica" : ""}`,
    ],
    ["PostgreSQL", c.postgres_version ?? "-"],
    ["Scale", formatNumber(c.scale)],
    [
      "Rows",
      Object.entries(c.rows)
        .map(([t, n]) => `${t}: ${formatNumber(n)}`)
        .join(", ") || "-",
    ],
    ["Seed", String(c.seed)],
    ["Rollback", c.rollback ? "yes" : "no"],
    ["Node", c.node],
    ["Tool", `${r.tool.name} ${r.tool.version}`],
    ["Started / finished", `${r.started_at} / ${r.finished_at}`],
    ["Exit code", String(r.exit_code)],
  ];
  if (r.load) {
    rows.push(
      ["Load engine", `${r.load.engine} (${r.load.mode})`],
      ["Load rate", rateText(r.load.rate)],
      ["Connections", String(r.load.connections)],
    );
  }
  if (r.seeding) {
    rows.push([
      "Seeding",
      `${formatNumber(r.seeding.rows)} rows in ${formatDuration(r.seeding.duration_ms)}`,
    ]);
  }
  const settings = Object.entries(c.settings);
  return (
    `<section id="context"><h2>Run context</h2>${kv(rows)}` +
    (settings.length ? `<h3>Settings</h3>${kv(settings.map(([k, v]) => [k, String(v)]))}` : "") +
    (r.timings.length ? `<h3>Timings</h3>${kv(r.timings.map((t) => [t.stage, formatDuration(t.ms)]))}` : "") +
    `</section>`
  );
}

export function renderHtml(report: RunReport): string {
  const r = redactDeep(report);
  const title = `rehearse ${VERDICT[r.status]}: ${r.scenario.name} (${r.run_id})`;
  const body = [
    banner(r),
    caveatsSection(r),
    failures(r),
    charts(r),
    checksTable(r),
    stepsTable(r),
    locksTable(r),
    contextSection(r),
  ].join("\n");
  const html =
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    `<title>${e(title)}</title><style>${CSS}</style></head>\n<body>\n<h1>${e(title)}</h1>\n${body}\n</body></html>\n`;
  return redact(html);
}

export const htmlReporter: Reporter = {
  format: "html",
  fileName: "index.html",
  render: renderHtml,
};
