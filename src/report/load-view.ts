/**
 * Derived views of the replayed load (what the application's traffic saw) and of the observations (what the
 * server did meanwhile), shared by the markdown, junit and terminal reporters, so a phase's p99 or a
 * blocking episode reads the same in the PR comment, the CI test report and the terminal.
 *
 * The question these views answer is the SRE's go/no-go one: in which phase did the application hurt, how
 * badly, because of which step, and what did the migration leave behind (dead tuples, WAL, lag).
 */
import { formatDuration, formatNumber, phaseLabel } from "./format.ts";
import type { BlockingEpisode, LoadReport, LoadWindow, Observations, RunReport } from "./model.ts";

// HDR histograms keep about three significant digits, so more would be noise: 0.42, 12.3, 900, 1,180.
const LATENCY_FINE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const LATENCY_MID = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const LATENCY_COARSE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A latency in ms, without the unit (tables put it in the header): "0.42", "12.3", "900", "1,180". */
export function formatLatency(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1) return LATENCY_FINE.format(ms);
  if (ms < 100) return LATENCY_MID.format(ms);
  return LATENCY_COARSE.format(ms);
}

/** Operations per second: whole numbers once they are large enough that a decimal is noise. */
export function formatRate(perS: number): string {
  if (!Number.isFinite(perS)) return "-";
  return perS < 10 ? LATENCY_MID.format(perS) : LATENCY_COARSE.format(perS);
}

/** A point on the run's clock (ms since run start), as the phases and steps tables would place it. */
export function formatAt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

// 1024-based and spelled like pg_size_pretty, the form an SRE already reads WAL volumes in.
const BYTE_UNITS = ["kB", "MB", "GB", "TB"];

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (Math.abs(n) < 1024) return `${Math.round(n)} bytes`;
  let v = n;
  let unit = "";
  for (const u of BYTE_UNITS) {
    v /= 1024;
    unit = u;
    if (Math.abs(v) < 1024) break;
  }
  return `${LATENCY_MID.format(v)} ${unit}`;
}

/** "cutover", "rollback/expand", "cutover/attach": the names the phases and steps tables use. */
export function windowLabel(w: Pick<LoadWindow, "section" | "phase" | "step">): string {
  // Warmup and cooldown are their own sections; their phase name may be empty.
  const phase = w.section === "rollback" ? `rollback/${w.phase}` : w.phase || w.section;
  return w.step === null ? phase : `${phase}/${w.step}`;
}

function byStart(a: LoadWindow, b: LoadWindow): number {
  return a.started_ms - b.started_ms;
}

/** Whole-phase windows of one kind, in run order (warmup first, cooldown last). */
export function phaseWindows(load: LoadReport, kind: "write" | "read"): LoadWindow[] {
  return load.windows.filter((w) => w.step === null && w.kind === kind).sort(byStart);
}

/**
 * "55P03 ×30, 57014 ×5, +1 more": the most frequent error classes first. The SQLSTATE says what kind of
 * trouble it was (lock timeout, statement timeout, serialization) without quoting a message.
 */
export function topErrors(byState: Record<string, number>, max = 3): string {
  const entries = Object.entries(byState)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const shown = entries.slice(0, max).map(([s, n]) => `${s} ×${formatNumber(n)}`);
  if (entries.length > max) shown.push(`+${entries.length - max} more`);
  return shown.join(", ");
}

/** "0", or "37 (55P03 ×30, 57014 ×5, connection ×2)". */
export function errorSummary(w: Pick<LoadWindow, "errors" | "errors_by_sqlstate">): string {
  const top = topErrors(w.errors_by_sqlstate);
  return w.errors > 0 && top ? `${formatNumber(w.errors)} (${top})` : formatNumber(w.errors);
}

/** The rate as configured: "2,000 writes/s", or the ramp. */
export function rateText(rate: LoadReport["rate"]): string {
  if (typeof rate === "number") return `${formatNumber(rate)} writes/s`;
  return `writes ramping ${rate.map((s) => `to ${formatNumber(s.target)}/s over ${formatDuration(s.duration_ms)}`).join(", then ")}`;
}

// ------------------------------------------------------------------ steps that hurt

/** A step is called out when its write p99 is more than this many times the warmup's. */
export const HURT_FACTOR = 2;

/** The warmup phase's write window: the baseline every later window is compared with. */
export function baselineWindow(load: LoadReport): LoadWindow | undefined {
  return load.windows.find(
    (w) => w.section === "warmup" && w.step === null && w.kind === "write" && w.count > 0,
  );
}

export interface HurtingStep {
  window: LoadWindow;
  /** Step write p99 / warmup write p99. */
  ratio: number;
}

/**
 * Step windows whose write p99 is over HURT_FACTOR × the warmup's, worst first. Empty when there is no
 * baseline to compare with (no warmup, or a warmup p99 of 0, which would make every step "infinitely" worse).
 */
export function hurtingSteps(load: LoadReport): HurtingStep[] {
  const base = baselineWindow(load);
  if (!base || !(base.latency.p99 > 0)) return [];
  return load.windows
    .filter((w) => w.step !== null && w.kind === "write" && w.count > 0)
    .filter((w) => w.latency.p99 > HURT_FACTOR * base.latency.p99)
    .map((w) => ({ window: w, ratio: w.latency.p99 / base.latency.p99 }))
    .sort((a, b) => b.window.latency.p99 - a.window.latency.p99 || byStart(a.window, b.window));
}

// ------------------------------------------------------------------ attribution to steps

export interface StepOverlap {
  /** "cutover/swap_names", "rollback/expand/drop_column". */
  label: string;
  overlap_ms: number;
}

function stepSpans(report: RunReport): { label: string; start: number; end: number }[] {
  const out: { label: string; start: number; end: number }[] = [];
  for (const s of report.steps) {
    if (s.started_ms === undefined) continue;
    out.push({
      label: `${phaseLabel(s.section, s.phase)}/${s.name}`,
      start: s.started_ms,
      end: s.started_ms + (s.duration_ms ?? 0),
    });
  }
  return out;
}

/**
 * The steps running during [from, to), longest overlap first. Usually one; a pause spans the steps between
 * pause_writes and resume_writes, and the SRE needs to know which of them actually took the time.
 */
export function stepsDuring(report: RunReport, from: number, to: number): StepOverlap[] {
  const spans = stepSpans(report);
  if (to <= from) {
    const at = stepAt(report, from);
    return at === undefined ? [] : [{ label: at, overlap_ms: 0 }];
  }
  return spans
    .map((s) => ({ label: s.label, overlap_ms: Math.min(s.end, to) - Math.max(s.start, from) }))
    .filter((s) => s.overlap_ms > 0)
    .sort((a, b) => b.overlap_ms - a.overlap_ms);
}

/** The step running at `t` (ms since run start), if any: WAL peaks and errors are pinned to it. */
export function stepAt(report: RunReport, t: number): string | undefined {
  return stepSpans(report).find((s) => s.start <= t && t < s.end)?.label;
}

export interface UnavailabilityPeriod {
  from_ms: number;
  to_ms: number;
  duration_ms: number;
  reason: "paused" | "blocked" | "errors";
  steps: StepOverlap[];
}

/** Write unavailability periods in time order, each with the steps that were running. */
export function unavailabilityPeriods(report: RunReport, load: LoadReport): UnavailabilityPeriod[] {
  return [...load.unavailability]
    .sort((a, b) => a.from_ms - b.from_ms)
    .map((u) => ({
      from_ms: u.from_ms,
      to_ms: u.to_ms,
      duration_ms: Math.max(0, u.to_ms - u.from_ms),
      reason: u.reason,
      steps: stepsDuring(report, u.from_ms, u.to_ms),
    }));
}

/**
 * Whether the load recorded an unavailability period inside the window. The engine decides what counts as
 * one; a window's longest_unavailability_ms alone also measures the ordinary gap between two writes.
 */
export function hadUnavailability(load: LoadReport, w: LoadWindow): boolean {
  return load.unavailability.some((u) => u.from_ms < w.ended_ms && u.to_ms > w.started_ms);
}

/**
 * Says whether the outage was planned: a pause is the scenario's own pause_writes step (the application
 * must tolerate it by design); blocked or failing writes are what the migration did to the application.
 */
export const UNAVAILABILITY_REASON: Record<UnavailabilityPeriod["reason"], string> = {
  paused: "writers paused by a step",
  blocked: "writes blocked",
  errors: "every write failing",
};

/** "cutover/swap_names" or "cutover/swap_names (1.2 s), cutover/resume_writes (20 ms)"; "between steps". */
export function stepsText(steps: StepOverlap[], max = 3): string {
  if (steps.length === 0) return "between steps";
  if (steps.length === 1) return steps[0]!.label;
  const shown = steps.slice(0, max).map((s) => `${s.label} (${formatDuration(s.overlap_ms)})`);
  if (steps.length > max) shown.push(`+${steps.length - max} more`);
  return shown.join(", ");
}

/**
 * Failing load budgets for a phase (ids "budget.load.<metric>.<phase>"), so the phase line can be marked
 * where the budget table already says it failed.
 */
export function failingLoadBudgets(report: RunReport, phase: string): string[] {
  return report.checks
    .filter((c) => c.status === "fail" && c.id.startsWith("budget.load.") && c.id.endsWith(`.${phase}`))
    .map((c) => c.id);
}

// ------------------------------------------------------------------ blocking

function byWaiters(a: BlockingEpisode, b: BlockingEpisode): number {
  return (
    b.load_waiters - a.load_waiters ||
    b.max_waiters - a.max_waiters ||
    b.longest_wait_ms - a.longest_wait_ms ||
    a.started_ms - b.started_ms
  );
}

/** Episodes where the migration's own connection made load requests wait, most waiters first. */
export function migrationBlocking(obs: Observations): BlockingEpisode[] {
  return obs.blocking.filter((e) => e.blocker_is_migration && e.load_waiters > 0).sort(byWaiters);
}

/** Load requests waiting on someone else (load vs load, autovacuum): context, not the migration's doing. */
export function otherBlocking(obs: Observations): BlockingEpisode[] {
  return obs.blocking.filter((e) => !e.blocker_is_migration && e.load_waiters > 0).sort(byWaiters);
}

/** "cutover/attach" as the observer saw it, or the step running when the episode started. */
export function episodeStep(report: RunReport, e: BlockingEpisode): string {
  if (e.phase !== null && e.step !== null) return `${e.phase}/${e.step}`;
  return stepAt(report, e.started_ms) ?? e.phase ?? "between steps";
}

// ------------------------------------------------------------------ vacuum, WAL, replication

export interface TableVacuum {
  table: string;
  dead_start: number;
  dead_end: number;
  dead_max: number;
  live_start: number;
  live_end: number;
  /** Separate autovacuum runs seen (a run already going at the first sample counts). */
  autovacuum_runs: number;
}

/** Per sampled table: dead tuples first vs last sample and at worst; most growth first. */
export function tableVacuum(obs: Observations): TableVacuum[] {
  const byTable = new Map<string, Observations["tables"]>();
  for (const s of obs.tables) {
    const list = byTable.get(s.table) ?? [];
    list.push(s);
    byTable.set(s.table, list);
  }
  const out: TableVacuum[] = [];
  for (const [table, samples] of byTable) {
    const sorted = [...samples].sort((a, b) => a.t - b.t);
    const first = sorted[0]!;
    const last = sorted[sorted.length - 1]!;
    let runs = 0;
    let running = false;
    for (const s of sorted) {
      if (s.autovacuum_running && !running) runs++;
      running = s.autovacuum_running;
    }
    out.push({
      table,
      dead_start: first.dead,
      dead_end: last.dead,
      dead_max: Math.max(...sorted.map((s) => s.dead)),
      live_start: first.live,
      live_end: last.live,
      autovacuum_runs: runs,
    });
  }
  return out.sort((a, b) => b.dead_max - b.dead_start - (a.dead_max - a.dead_start));
}

export function walPeak(obs: Observations): { t: number; bytes_per_s: number } | undefined {
  let peak: { t: number; bytes_per_s: number } | undefined;
  for (const w of obs.wal) if (!peak || w.bytes_per_s > peak.bytes_per_s) peak = w;
  return peak;
}

export function walMean(obs: Observations): number | undefined {
  if (obs.wal.length === 0) return undefined;
  return obs.wal.reduce((s, w) => s + w.bytes_per_s, 0) / obs.wal.length;
}

export function replicationLagMax(obs: Observations): { t: number; lag_ms: number } | undefined {
  let max: { t: number; lag_ms: number } | undefined;
  for (const l of obs.replication_lag) if (!max || l.lag_ms > max.lag_ms) max = l;
  return max;
}

// ------------------------------------------------------------------ fields proposed for the model

/** The first message seen per SQLSTATE (LoadReport.error_samples), and when. */
export type LoadErrorSample = NonNullable<LoadReport["error_samples"]>[number];

export function errorSamples(load: LoadReport): LoadErrorSample[] {
  return load.error_samples ?? [];
}

// Not in model.ts: read defensively, so a producer that writes it is rendered and one that does not is not
// an error. It carries user SQL and reaches the reporters only through redactDeep, like every other string.
/** Proposed `BlockingEpisode.waiter_query`: one blocked load query, as pg_stat_activity showed it. */
export function waiterQuery(e: BlockingEpisode): string | undefined {
  const v: unknown = (e as unknown as Record<string, unknown>).waiter_query;
  return typeof v === "string" && v !== "" ? v : undefined;
}
