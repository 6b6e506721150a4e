/**
 * summary.md: the report as a pull-request comment or GitHub step summary. Written for the reviewer who
 * reads only the top: verdict, then what failed and how to fix it, then the evidence (budgets, invariants,
 * steps, locks), then the context needed to reproduce the run.
 */
import { caveats } from "./caveats.ts";
import { backgroundSection } from "./background-view.ts";
import { markdownTable } from "markdown-table";
import { redact, redactDeep } from "../util/redact.ts";
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
import {
  baselineWindow,
  episodeStep,
  errorSamples,
  errorSummary,
  formatAt,
  formatBytes,
  formatLatency,
  formatRate,
  HURT_FACTOR,
  hurtingSteps,
  migrationBlocking,
  otherBlocking,
  phaseWindows,
  rateText,
  replicationLagMax,
  stepAt,
  stepsText,
  tableVacuum,
  topErrors,
  UNAVAILABILITY_REASON,
  unavailabilityPeriods,
  waiterQuery,
  walMean,
  walPeak,
  windowLabel,
} from "./load-view.ts";
import { notableWaits, OUTCOME_WORD, queueText, waitedFor, waitWhere } from "./lock-waits-view.ts";
import type { CheckResult, LoadReport, LoadWindow, RunReport, StepResult } from "./model.ts";
import type { Reporter } from "./reporter.ts";

/** Findings listed per failing check; the rest are counted (report.json keeps them all). */
const MAX_FINDINGS = 20;

/**
 * Rows in the load tables (unavailability periods, blocking episodes, tables): a run under a bad lock can
 * produce hundreds of short periods, and the step summary has a size limit. The worst are kept.
 */
const MAX_LOAD_ROWS = 20;

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
  out.push("**What this run did not establish:**", "", ...caveats(r).map((c) => `- ${inline(c)}`), "");
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
      const cut = Math.max(0, c.findings.length - MAX_FINDINGS);
      const more = cut + (c.unlisted ?? 0);
      if (more > 0) {
        // report.json holds the cut findings, not the unlisted ones (only their count).
        out.push(`- … and ${formatNumber(more)} more${cut > 0 ? " (see report.json)" : ""}`);
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
  const backfills = r.steps.filter((s) => s.backfill);
  for (const s of backfills)
    out.push(`- Backfill ${code(stepName(s))}: ${inline(backfillSummary(s.backfill!))}`);
  if (backfills.length > 0) out.push("");
  for (const s of r.steps) out.push(...stepError(s));
  return out;
}

function locks(r: RunReport): string[] {
  const phases = longestHolds(r);
  const hot = hotExclusiveWork(r);
  const waits = notableWaits(r);
  if (phases.length === 0 && hot.length === 0 && waits.length === 0) return [];
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
  out.push(...lockWaits(waits));
  if (phases.length > 0) {
    out.push(
      "Longest hold per relation and lock mode, per phase (from the grant to commit; waits are above):",
      "",
    );
    const rows: string[][] = [];
    for (const holds of phases) {
      for (const h of holds) {
        rows.push([
          cell(phaseLabel(h.section, h.phase)),
          codeCell(h.relation),
          cell(h.mode),
          formatDuration(h.held_ms),
          h.waited_ms ? formatDuration(h.waited_ms) : "-",
          cell(
            `${h.step} statement ${h.statement + 1}${h.in_transaction ? "" : " (sampled, no transaction)"}`,
          ),
        ]);
      }
    }
    out.push(
      table(["Phase", "Relation", "Mode", "Longest hold", "Waited first", "Taken by"], rows, [
        "l",
        "l",
        "l",
        "r",
        "r",
        "l",
      ]),
      "",
    );
  }
  return out;
}

/** Waits apart from holds: another session's doing, fixed by lock_timeout + retry (the first 20 shown). */
function lockWaits(waits: ReturnType<typeof notableWaits>): string[] {
  if (waits.length === 0) return [];
  const rows = waits
    .slice(0, MAX_FINDINGS)
    .map((w) => [
      ...[waitWhere(w)].map(cell),
      codeCell(w.relation),
      ...[w.mode, formatDuration(w.wait_ms), OUTCOME_WORD[w.outcome], waitedFor(w), queueText(w)].map(cell),
    ]);
  const head = ["Statement", "Relation", "Mode", "Waited", "Then", "Waited for", "Load queued behind it"];
  return [
    `Time the migration waited to acquire a lock (${waits.length}; behind another session, not counted as holding):`,
    "",
    table(head, rows, ["l", "l", "l", "r", "l", "l", "l"]),
    "",
  ];
}

function latencyRow(w: LoadWindow, label: string): string[] {
  return [
    cell(label),
    formatNumber(w.count),
    formatRate(w.throughput),
    formatLatency(w.latency.p50),
    formatLatency(w.latency.p95),
    formatLatency(w.latency.p99),
    formatLatency(w.latency.p999),
    formatLatency(w.latency.max),
    formatLatency(w.service.p99),
    cell(errorSummary(w)),
  ];
}

const LATENCY_HEADER = [
  "Phase",
  "Ops",
  "Throughput/s",
  "p50",
  "p95",
  "p99",
  "p99.9",
  "Max",
  "Service p99",
  "Errors",
];
const LATENCY_ALIGN = ["l", "r", "r", "r", "r", "r", "r", "r", "r", "l"];

function loadShape(r: RunReport, l: LoadReport): string[] {
  const history =
    l.source.wrapped > 0
      ? `; history replayed ${formatNumber(l.source.rows_read)} rows, starting over ${formatNumber(l.source.wrapped)}×`
      : "";
  const t = l.totals;
  const errs = topErrors(t.errors_by_sqlstate);
  const out = [
    `**Shape:** ${inline(l.engine)} engine, ${inline(l.mode)} replay, ${inline(rateText(l.rate))}, ${formatNumber(l.connections)} connections${inline(history)}.`,
    "",
    `**Requests:** ${formatNumber(t.intended)} intended; ${formatNumber(t.writes_ok)} writes and ${formatNumber(t.reads_ok)} reads ok; ` +
      `${formatNumber(t.errors)} errors${errs ? ` (${inline(errs)})` : ""}; ${formatNumber(t.late)} late; ` +
      `${formatNumber(t.dropped)} dropped; ${formatNumber(t.paused)} skipped while writers were paused.`,
    "",
  ];
  const mix = (l.operations ?? []).map(
    (o) => `${o.name} ${formatNumber(o.ok)} ok of ${formatNumber(o.intended)}`,
  );
  if (mix.length > 0) out.push(`**Write mix** (operation: ok of picked): ${inline(mix.join(", "))}.`, "");
  // The ack ledger is what no_lost_writes checks; naming the check's result here saves a scroll back up.
  const lost = r.checks.find((c) => c.id === "no_lost_writes");
  const verdict = lost ? `; ${code(checkLabel(lost))}: ${CHECK_WORD[lost.status]}` : "";
  out.push(
    `**Writes acknowledged:** ${formatNumber(l.ack.acknowledged)}; ${formatNumber(l.ack.indeterminate)} indeterminate ` +
      `(outcome unknown: no reply to the commit)${verdict}.`,
    "",
  );
  if (l.flags.length > 0) {
    // How long the load took to act on a flag is how long dual-write (or the pause) lagged the step.
    const flags = l.flags.map(
      (f) =>
        `${code(f.name)} ${f.value ? "on" : "off"} at ${formatAt(f.set_ms)} (seen after ${formatDuration(f.seen_ms - f.set_ms)})`,
    );
    out.push(`**Flags:** ${flags.join(", ")}.`, "");
  }
  return out;
}

function load(r: RunReport): string[] {
  const l = r.load;
  if (!l) return [];
  const out = ["### Load", "", ...loadShape(r, l)];

  const writes = phaseWindows(l, "write");
  if (writes.length > 0) {
    // Latency from the intended start: a request that queued behind a lock or a busy connection counts the
    // queueing (no coordinated omission). Service p99, from when it was sent, tells the two apart: equal
    // means the database was slow, far lower means requests waited to be sent (pause, saturated pool).
    out.push(
      "Writes per phase (latency in ms from each request's intended start; service p99 from when it was sent):",
      "",
      table(
        [...LATENCY_HEADER, "Longest unavailability"],
        writes.map((w) => [...latencyRow(w, windowLabel(w)), formatDuration(w.longest_unavailability_ms)]),
        [...LATENCY_ALIGN, "r"],
      ),
      "",
    );
  }
  const reads = phaseWindows(l, "read").filter((w) => w.count > 0);
  if (reads.length > 0) {
    out.push(
      "Reads per phase (ms from intended start):",
      "",
      table(
        LATENCY_HEADER,
        reads.map((w) => latencyRow(w, windowLabel(w))),
        LATENCY_ALIGN,
      ),
      "",
    );
  }

  const samples = errorSamples(l);
  if (samples.length > 0) {
    out.push("Load errors (first message per SQLSTATE):", "");
    for (const e of samples) {
      const n = l.totals.errors_by_sqlstate[e.sqlstate];
      const count = n === undefined ? "" : ` ×${formatNumber(n)}`;
      const step = e.first_ms === undefined ? undefined : stepAt(r, e.first_ms);
      const when =
        e.first_ms === undefined
          ? ""
          : ` (first at ${formatAt(e.first_ms)}${step ? `, in ${inline(step)}` : ""})`;
      out.push(`- ${code(e.sqlstate)}${count}: ${inline(truncate(e.message, 200))}${when}`);
    }
    out.push("");
  }

  out.push(...stepsThatHurt(l));
  out.push(...unavailability(r, l));
  return out;
}

function stepsThatHurt(l: LoadReport): string[] {
  const stepWindows = l.windows.some((w) => w.step !== null && w.kind === "write");
  if (!stepWindows) return [];
  const base = baselineWindow(l);
  if (!base || !(base.latency.p99 > 0)) {
    return ["No warmup write baseline, so steps are not compared against one.", ""];
  }
  const baseline = `${HURT_FACTOR}× the warmup's ${formatLatency(base.latency.p99)} ms`;
  const hurt = hurtingSteps(l);
  if (hurt.length === 0) return [`No step's write p99 exceeded ${baseline}.`, ""];
  const rows = hurt
    .slice(0, MAX_LOAD_ROWS)
    .map(({ window: w, ratio }) => [
      cell(windowLabel(w)),
      formatNumber(w.count),
      formatLatency(w.latency.p99),
      `${formatNumber(Math.round(ratio * 10) / 10)}×`,
      formatLatency(w.latency.max),
      cell(errorSummary(w)),
      formatDuration(w.longest_unavailability_ms),
    ]);
  return [
    `Steps that hurt: write p99 over ${baseline}:`,
    "",
    table(["Step", "Ops", "p99", "vs warmup", "Max", "Errors", "Longest unavailability"], rows, [
      "l",
      "r",
      "r",
      "r",
      "r",
      "l",
      "r",
    ]),
    "",
    ...(hurt.length > MAX_LOAD_ROWS
      ? [`_${formatNumber(hurt.length - MAX_LOAD_ROWS)} more steps not shown (see report.json)._`, ""]
      : []),
  ];
}

function unavailability(r: RunReport, l: LoadReport): string[] {
  const periods = unavailabilityPeriods(r, l);
  if (periods.length === 0) return ["No write unavailability: writes kept succeeding throughout.", ""];
  const total = periods.reduce((s, p) => s + p.duration_ms, 0);
  const longest = Math.max(...periods.map((p) => p.duration_ms));
  // Keep the longest periods when there are too many, but show them in time order: it reads as a timeline.
  const kept = new Set([...periods].sort((a, b) => b.duration_ms - a.duration_ms).slice(0, MAX_LOAD_ROWS));
  const rows = periods
    .filter((p) => kept.has(p))
    .map((p) => [
      formatAt(p.from_ms),
      formatAt(p.to_ms),
      formatDuration(p.duration_ms),
      UNAVAILABILITY_REASON[p.reason],
      cell(stepsText(p.steps)),
    ]);
  const out = [
    `Write unavailability (no write succeeded): ${formatNumber(periods.length)} period${periods.length === 1 ? "" : "s"}, ` +
      `${formatDuration(total)} in total, longest ${formatDuration(longest)}:`,
    "",
    table(["From", "To", "Duration", "Reason", "Step running"], rows, ["r", "r", "r", "l", "l"]),
    "",
  ];
  if (periods.length > MAX_LOAD_ROWS) {
    out.push(
      `_${formatNumber(periods.length - MAX_LOAD_ROWS)} shorter periods not shown (see report.json)._`,
      "",
    );
  }
  return out;
}

function blocking(r: RunReport): string[] {
  const obs = r.observations;
  if (!obs) return [];
  const out = ["### Blocking", ""];
  // First: every number below is a sample, and a dead observer means some were never taken.
  if (obs.failure) out.push(`**Observations incomplete:** ${inline(obs.failure)}`, "");
  const mine = migrationBlocking(obs);
  const others = otherBlocking(obs);
  // Without a load nobody could have waited: "blocked nothing" would be vacuous, so say nothing.
  if (!r.load && !obs.failure && mine.length === 0 && others.length === 0) return [];
  if (mine.length === 0) {
    out.push(
      `The migration made no load request wait on a lock (sampled every ${formatDuration(obs.interval_ms)}).`,
      "",
    );
  } else {
    const withQuery = mine.some((e) => waiterQuery(e) !== undefined);
    const rows = mine.slice(0, MAX_LOAD_ROWS).map((e) => {
      const row = [
        e.relation === null ? "-" : codeCell(e.relation),
        cell(e.mode),
        formatNumber(e.load_waiters),
        formatNumber(e.max_waiters),
        formatDuration(e.longest_wait_ms),
        formatDuration(e.ended_ms - e.started_ms),
        cell(episodeStep(r, e)),
      ];
      if (withQuery) {
        const q = waiterQuery(e);
        row.push(q === undefined ? "" : codeCell(truncate(oneLine(q), 100)));
      }
      return row;
    });
    const header = ["Relation", "Mode", "Load waiters", "Most at once", "Longest wait", "Lasted", "Step"];
    const align = ["l", "l", "r", "r", "r", "r", "l"];
    if (withQuery) {
      header.push("Waiting query (sample)");
      align.push("l");
    }
    out.push(
      `Locks held by the migration that load requests waited on (sampled every ${formatDuration(obs.interval_ms)}), most waiters first:`,
      "",
      table(header, rows, align),
      "",
    );
    if (mine.length > MAX_LOAD_ROWS) {
      out.push(
        `_${formatNumber(mine.length - MAX_LOAD_ROWS)} smaller episodes not shown (see report.json)._`,
        "",
      );
    }
  }
  if (others.length > 0) {
    // Load waiting on load (row locks between writers) is the application's own contention, not the
    // migration's; counted so it is not mistaken for it, detailed in report.json.
    const worst = others[0]!;
    out.push(
      `${formatNumber(others.length)} other episode${others.length === 1 ? "" : "s"} where load requests waited on a session other than the migration ` +
        `(at most ${formatNumber(worst.load_waiters)} waiting, on ${worst.relation === null ? "a non-relation lock" : code(worst.relation)}).`,
      "",
    );
  }
  return out;
}

function vacuumAndWal(r: RunReport): string[] {
  const obs = r.observations;
  if (!obs) return [];
  const tables = tableVacuum(obs);
  const peak = walPeak(obs);
  const lag = replicationLagMax(obs);
  if (tables.length === 0 && !peak && !lag) return [];
  const out = ["### Vacuum and WAL", ""];
  if (tables.length > 0) {
    const rows = tables.slice(0, MAX_LOAD_ROWS).map((t) => [
      codeCell(t.table),
      formatNumber(t.dead_start),
      formatNumber(t.dead_end),
      formatNumber(t.dead_max),
      // Beside the dead counts: autovacuum starts at a fraction of the live rows, so growth reads against it.
      formatNumber(t.live_end),
      formatNumber(t.autovacuum_runs),
    ]);
    out.push(
      "Dead tuples per table, first and last sample (most growth first):",
      "",
      table(
        ["Table", "Dead at start", "Dead at end", "Max dead", "Live at end", "Autovacuum runs seen"],
        rows,
        ["l", "r", "r", "r", "r", "r"],
      ),
      "",
    );
  }
  if (peak) {
    const step = stepAt(r, peak.t);
    const mean = walMean(obs);
    out.push(
      `**WAL:** peak ${formatBytes(peak.bytes_per_s)}/s at ${formatAt(peak.t)}${step ? ` (${inline(step)})` : ""}` +
        `${mean === undefined ? "" : `; mean ${formatBytes(mean)}/s`}.`,
      "",
    );
  }
  if (lag) {
    const step = stepAt(r, lag.t);
    out.push(
      `**Replication lag:** max ${formatDuration(lag.lag_ms)} at ${formatAt(lag.t)}${step ? ` (${inline(step)})` : ""}.`,
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
    `- Provider: ${inline(c.provider)}${c.clone?.image ? ` (image ${code(c.clone.image)})` : ""}${c.replica ? ", with a streaming replica" : ""}`,
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
    // What the application saw, right after the verdict's evidence: a failing load budget is explained here.
    ...load(r),
    ...blocking(r),
    ...backgroundSection(r, inline),
    ...vacuumAndWal(r),
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
