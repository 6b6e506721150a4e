/**
 * junit.xml: the report as test results, for CI systems that show and gate on JUnit (GitLab, Jenkins,
 * GitHub test-report actions). One suite per check kind ("invariants", "budgets"), one for failed steps,
 * and one "rehearsal" suite whose single testcase carries the run's verdict, so an inconclusive or aborted
 * run, or one that missed its expectation, can never be read as green. With a load, a "load" suite carries
 * one passing testcase per phase whose output is what the application saw (p99, throughput, errors): the
 * load budgets are the testcases that fail, this is the evidence a CI test view shows next to them.
 */
import { create } from "xmlbuilder2";
import { redactDeep } from "../util/redact.ts";
import {
  checkCounts,
  checkLabel,
  errorLocation,
  expectationLine,
  formatDuration,
  formatMeasure,
  formatNumber,
  isExpectedFailure,
  oneLine,
  phaseLabel,
  VERDICT,
} from "./format.ts";
import {
  episodeStep,
  errorSummary,
  failingLoadBudgets,
  formatLatency,
  formatRate,
  migrationBlocking,
  phaseWindows,
  windowLabel,
} from "./load-view.ts";
import type { CheckResult, LoadWindow, RunReport, StepResult } from "./model.ts";
import type { Reporter } from "./reporter.ts";

type XMLBuilder = ReturnType<typeof create>;

/**
 * XML 1.0 cannot carry most control characters, not even escaped, and JUnit parsers reject the whole file
 * when one appears; PostgreSQL messages and user SQL can contain them. They, and lone surrogates, become U+FFFD.
 */
function xmlSafe(text: string): string {
  return text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD");
}

/** Attribute values are normalised to one line by XML parsers anyway; do it ourselves, legibly. */
function attr(text: string): string {
  return xmlSafe(oneLine(text));
}

function seconds(ms: number | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function checkBody(c: CheckResult): string {
  const lines = [...c.findings];
  if (c.measured !== undefined || c.limit !== undefined) {
    lines.unshift(`measured ${formatMeasure(c.measured, c.unit)}, limit ${formatMeasure(c.limit, c.unit)}`);
  }
  if (c.remediation) lines.push("", `Remediation: ${c.remediation}`);
  return xmlSafe(lines.join("\n"));
}

function addCheck(suite: XMLBuilder, c: CheckResult, r: RunReport, counts: Counts): void {
  counts.tests++;
  const tc = suite.ele("testcase", { classname: c.kind, name: attr(checkLabel(c)), time: "0.000" });
  if (isExpectedFailure(r, c)) {
    // The scenario exists to demonstrate this failure (expect.failing), so it is not a regression; shown
    // as skipped with its own type, as pytest does for xfail, so the findings stay visible but not red.
    counts.skipped++;
    tc.ele("skipped", { type: "expected-failure", message: attr(`expected failure: ${c.summary}`) }).txt(
      checkBody(c),
    );
    return;
  }
  switch (c.status) {
    case "fail":
      counts.failures++;
      tc.ele("failure", { type: "fail", message: attr(c.summary) }).txt(checkBody(c));
      break;
    case "error":
      counts.errors++;
      tc.ele("error", { type: "error", message: attr(c.summary) }).txt(checkBody(c));
      break;
    case "skipped":
      counts.skipped++;
      tc.ele("skipped", c.summary ? { message: attr(c.summary) } : {});
      break;
    case "pass":
      break;
  }
}

function stepBody(s: StepResult): string {
  const e = s.error;
  if (!e) return "";
  const lines: string[] = [];
  lines.push(`${e.sqlstate ? `SQLSTATE ${e.sqlstate}: ` : ""}${e.message}`);
  const where = errorLocation(e);
  if (where) lines.push(`at ${where}`);
  if (e.detail) lines.push(`DETAIL: ${e.detail}`);
  if (e.hint) lines.push(`HINT: ${e.hint}`);
  if (e.excerpt) lines.push("", e.excerpt.replace(/\s+$/, ""));
  if (s.attempts > 1) lines.push("", `after ${s.attempts} attempts`);
  return xmlSafe(lines.join("\n"));
}

function suite(root: XMLBuilder, name: string, timestamp: string): { el: XMLBuilder; counts: Counts } {
  return {
    el: root.ele("testsuite", { name, timestamp }),
    counts: { tests: 0, failures: 0, errors: 0, skipped: 0 },
  };
}

/** Counts go on after the children exist: xmlbuilder2 keeps attribute order, so set them all at the end. */
function finish(s: { el: XMLBuilder; counts: Counts }, timeMs: number, total: Counts): void {
  s.el.att({
    tests: String(s.counts.tests),
    failures: String(s.counts.failures),
    errors: String(s.counts.errors),
    skipped: String(s.counts.skipped),
    time: seconds(timeMs),
  });
  total.tests += s.counts.tests;
  total.failures += s.counts.failures;
  total.errors += s.counts.errors;
  total.skipped += s.counts.skipped;
}

function windowLine(kind: string, w: LoadWindow): string {
  const l = w.latency;
  return (
    `${kind}: ${formatNumber(w.count)} ops, ${formatRate(w.throughput)}/s; ms from intended start: ` +
    `p50 ${formatLatency(l.p50)}, p95 ${formatLatency(l.p95)}, p99 ${formatLatency(l.p99)}, ` +
    `p99.9 ${formatLatency(l.p999)}, max ${formatLatency(l.max)}; service p99 ${formatLatency(w.service.p99)}; ` +
    `errors ${errorSummary(w)}`
  );
}

/**
 * One testcase per phase, never failing: a failure here would double-count what the budget testcases
 * already fail on, and a phase with no budget would turn red on numbers nobody set a limit for.
 */
function addLoadSuite(root: XMLBuilder, r: RunReport, ts: string, total: Counts): void {
  const load = r.load!;
  const s = suite(root, "load", ts);
  const writes = phaseWindows(load, "write");
  const reads = phaseWindows(load, "read");
  // Phases as the writes saw them, plus any phase only reads covered (a read-only load has no writes).
  const phases = [
    ...writes,
    ...reads.filter((rw) => !writes.some((w) => windowLabel(w) === windowLabel(rw))),
  ];
  const blocking = r.observations ? migrationBlocking(r.observations) : [];
  let span = 0;
  for (const p of phases) {
    const label = windowLabel(p);
    const write = writes.find((w) => windowLabel(w) === label);
    const read = reads.find((w) => windowLabel(w) === label);
    const lines: string[] = [];
    if (write) {
      lines.push(windowLine("writes", write));
      lines.push(`longest write unavailability ${formatDuration(write.longest_unavailability_ms)}`);
    }
    if (read && read.count > 0) lines.push(windowLine("reads", read));
    // Attributed by time, not by phase name: a rollback phase may share its name with a migration phase.
    for (const e of blocking) {
      if (e.started_ms < p.started_ms || e.started_ms >= p.ended_ms) continue;
      lines.push(
        `blocked by the migration: ${e.relation ?? "(no relation)"} ${e.mode}, ${formatNumber(e.load_waiters)} load requests waited, ` +
          `longest ${formatDuration(e.longest_wait_ms)} (${episodeStep(r, e)})`,
      );
    }
    // Names the failing budget testcases this phase's numbers explain, for a reader who lands here first.
    const failing = failingLoadBudgets(r, p.phase);
    if (failing.length > 0) lines.push(`failing load budgets: ${failing.join(", ")}`);
    const ms = Math.max(0, p.ended_ms - p.started_ms);
    span += ms;
    s.counts.tests++;
    s.el
      .ele("testcase", { classname: "load", name: attr(label), time: seconds(ms) })
      .ele("system-out")
      .txt(xmlSafe(lines.join("\n")));
  }
  finish(s, span, total);
}

/** Renders junit.xml. */
export function renderJunit(report: RunReport): string {
  // Redacted as data, never as XML text: escaping hides secrets containing "&" or "<", and replacing a short
  // secret in the markup could corrupt element names.
  const r = redactDeep(report);
  const doc = create({ version: "1.0", encoding: "UTF-8" });
  const root = doc.ele("testsuites", { name: attr(`rehearse ${r.scenario.name}`) });
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  // ISO 8601 without zone is what the JUnit schema asks for; CI tools accept the trailing Z as well.
  const ts = r.started_at;

  // The verdict testcase first: readers that show only the first failure show the one that matters.
  const verdict = suite(root, "rehearsal", ts);
  const props = verdict.el.ele("properties");
  const properties: [string, string | number | undefined][] = [
    ["run_id", r.run_id],
    ["scenario", r.scenario.path],
    ["status", r.status],
    ["exit_code", r.exit_code],
    ["provider", r.context.provider],
    ["image", r.context.clone?.image],
    ["postgres_version", r.context.postgres_version],
    ["seed", r.context.seed],
    ["scale", r.context.scale],
  ];
  for (const [name, value] of properties) {
    if (value !== undefined) props.ele("property", { name, value: attr(String(value)) });
  }
  verdict.counts.tests++;
  const tc = verdict.el.ele("testcase", {
    classname: "rehearsal",
    name: "rehearsal",
    time: seconds(r.duration_ms),
  });
  const summary = xmlSafe(`${VERDICT[r.status]}: ${checkCounts(r)}\n${expectationLine(r)}`);
  if (r.status === "inconclusive" || r.status === "aborted") {
    // No verdict on the migration: the rehearsal itself did not complete. An error, not a failure, and
    // never absent — a junit.xml with only passing checks would otherwise read as a green run.
    verdict.counts.errors++;
    tc.ele("error", { type: r.status, message: attr(r.reason ?? `run ${r.status}`) }).txt(summary);
  } else if (r.status === "failed") {
    verdict.counts.failures++;
    const message =
      r.reason ?? (r.expectation.met ? checkCounts(r) : `expectation not met: ${r.expectation.explanation}`);
    tc.ele("failure", { type: "failed", message: attr(message) }).txt(summary);
  }
  finish(verdict, r.duration_ms, total);

  for (const [kind, name] of [
    ["invariant", "invariants"],
    ["budget", "budgets"],
  ] as const) {
    const s = suite(root, name, ts);
    for (const c of r.checks) if (c.kind === kind) addCheck(s.el, c, r, s.counts);
    finish(s, 0, total);
  }

  // Only failed steps: a testcase per successful statement would bury the failures in noise.
  const st = suite(root, "steps", ts);
  let stepsMs = 0;
  for (const s of r.steps) {
    if (s.status !== "error") continue;
    st.counts.tests++;
    st.counts.failures++;
    stepsMs += s.duration_ms ?? 0;
    const el = st.el.ele("testcase", {
      classname: `step.${s.section}`,
      name: attr(`${phaseLabel(s.section, s.phase)}/${s.name}`),
      time: seconds(s.duration_ms),
    });
    const message = `${s.error?.sqlstate ? `${s.error.sqlstate}: ` : ""}${s.error?.message ?? "step failed"}`;
    el.ele("failure", { type: s.error?.sqlstate ?? "error", message: attr(message) }).txt(stepBody(s));
  }
  finish(st, stepsMs, total);

  if (r.load) addLoadSuite(root, r, ts, total);

  root.att({
    tests: String(total.tests),
    failures: String(total.failures),
    errors: String(total.errors),
    skipped: String(total.skipped),
    time: seconds(r.duration_ms),
  });
  return `${doc.end({ prettyPrint: true })}\n`;
}

export const junitReporter: Reporter = { format: "junit", fileName: "junit.xml", render: renderJunit };
