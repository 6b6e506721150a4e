/**
 * Load budgets: limits on what the replayed application traffic saw during a phase (`budgets.load`, keyed by
 * phase name, "soak" for the window after the last step, or "*" for every migration phase and the soak
 * separately; a phase's own entry overrides "*" metric by metric). One check per (metric, phase), id `budget.load.<metric>.<phase>`, e.g.
 * `budget.load.write_p99.cutover`.
 *
 * What each metric reads:
 * - write_p95 / write_p99 / write_max / read_p99: the phase's whole-phase load window (step null) of that
 *   kind; latency counted from each request's intended start, so a stall shows in full.
 * - error_rate: failed / attempted operations over the phase's write and read windows (measured in %). Failed:
 *   errors (but the SQLSTATEs the scenario declares in load.expected_errors, and the connection losses a
 *   fault step of the run caused: class 08, 57P01-57P03 after terminate_load_connections or restart_server),
 *   dropped requests (never sent:
 *   over max_in_flight or waiting past drop_after) and completions later than drop_after (a client with that
 *   timeout gave up on them); attempted: completed plus dropped. With a load, every migration phase and the
 *   soak get error_rate 0 by default: an application that errors at all fails the run unless the scenario
 *   says what it tolerates.
 * - min_write_throughput: the write window's successful writes per second.
 * - max_write_unavailability: the write window's longest stretch without a successful write.
 * - max_blocked_by_one_lock: blocking episodes overlapping the phase (from the lock observer), whoever the
 *   blocker. An episode records the most waiters at once (any application) and how many distinct load
 *   backends waited over the episode, not the most load waiters at once; the smaller of the two is the
 *   tightest bound the observations give on "load requests waiting at once" (each load connection runs
 *   one request at a time), so that is what is measured.
 * - max_dead_tuple_growth: per table, the highest dead-tuple count sampled during the phase minus the count
 *   at its start (the last sample at or before it), the worst table. The peak rather than the count at the
 *   end: autovacuum running mid-phase would otherwise hide the churn the phase caused. Table statistics
 *   trail the writes by about a second, so a very short phase's tuples may be counted in the next one.
 *
 * Verdicts that are not pass/fail: no load at all, or a phase that ran without a load window or without the
 * observations a metric needs → "error" (cannot judge: the run is inconclusive); a phase that never ran, or
 * ran with no operation to measure (writers paused throughout) → "skipped".
 */
import { BLOCKS_WRITES, formatNumber } from "../report/format.ts";
import type { BlockingEpisode, CheckResult, LoadReport, LoadWindow, PhaseResult } from "../report/model.ts";
import { SOAK_PHASE } from "../scenario/ids.ts";
import type { LoadBudget } from "../scenario/schema.ts";
import type { Budget, RunFacts } from "./budget.ts";
import { ms } from "./budget.ts";
import { failuresOf, faultCaused } from "./load-failures.ts";

export type LoadMetric = keyof LoadBudget;

/** Output order within a phase. */
export const LOAD_METRICS: readonly LoadMetric[] = [
  "write_p95",
  "write_p99",
  "write_max",
  "read_p99",
  "error_rate",
  "min_write_throughput",
  "max_write_unavailability",
  "max_blocked_by_one_lock",
  "max_dead_tuple_growth",
  "max_replica_lag",
];

export function loadBudgetId(metric: LoadMetric, phase: string): string {
  return `budget.load.${metric}.${phase}`;
}

/** Lock modes that conflict with the load's writes (ROW EXCLUSIVE) and with its reads (ACCESS SHARE). */
const BLOCKS_READS = new Set(["AccessExclusiveLock"]);

interface Target {
  metric: LoadMetric;
  phase: string;
  limit: number;
  /** Only the default holds it: the scenario wrote no limit for this metric and phase. */
  byDefault?: boolean;
}

/** With a load, what every phase and the soak are held to unless the scenario says otherwise. */
export const DEFAULT_LOAD_BUDGET: LoadBudget = { error_rate: 0 };

/**
 * The (metric, phase) pairs to judge: the defaults, then "*", over every migration phase and the soak (when
 * the load reached it), then explicit phases over them.
 */
function targets(budgets: Record<string, LoadBudget>, facts: RunFacts): Target[] {
  const phases = [...new Set(facts.phases.filter((p) => p.section === "migration").map((p) => p.name))];
  if (facts.load?.windows.some((w) => w.phase === SOAK_PHASE && w.section !== "migration"))
    phases.push(SOAK_PHASE);
  const out = new Map<string, Target>();
  const add = (phase: string, limits: LoadBudget, byDefault = false) => {
    for (const metric of LOAD_METRICS) {
      const limit = limits[metric];
      if (limit !== undefined) out.set(loadBudgetId(metric, phase), { metric, phase, limit, byDefault });
    }
  };
  if (facts.load) for (const p of phases) add(p, DEFAULT_LOAD_BUDGET, true);
  const star = budgets["*"];
  if (star) for (const p of phases) add(p, star);
  for (const [phase, limits] of Object.entries(budgets)) if (phase !== "*") add(phase, limits);
  // Phase order, then metric order: the report reads like the run.
  const rank = (p: string) => {
    const i = phases.indexOf(p);
    return i < 0 ? phases.length : i;
  };
  return [...out.values()].sort(
    (a, b) =>
      rank(a.phase) - rank(b.phase) || LOAD_METRICS.indexOf(a.metric) - LOAD_METRICS.indexOf(b.metric),
  );
}

/** The phase as the runner recorded it; a migration phase wins over a rollback one of the same name. */
function findPhase(facts: RunFacts, phase: string): PhaseResult | undefined {
  return (
    facts.phases.find((p) => p.section === "migration" && p.name === phase) ??
    facts.phases.find((p) => p.name === phase)
  );
}

/** Windows of a phase: by its section when the runner knows it; warmup/cooldown may be named by section. */
function windowsOf(load: LoadReport, phase: string, info: PhaseResult | undefined): LoadWindow[] {
  return load.windows.filter(
    (w) =>
      (info ? w.section === info.section && w.phase === phase : w.phase === phase) ||
      (!info && w.section === phase && w.section !== "migration"),
  );
}

interface Ctx {
  facts: RunFacts;
  load: LoadReport;
  phase: string;
  info: PhaseResult | undefined;
  windows: LoadWindow[];
  /** The phase's time span (ms since run start), from the runner, else from its load windows. */
  span?: { from: number; to: number };
}

type Verdict = Omit<CheckResult, "id" | "kind">;

function verdict(
  fail: boolean,
  summary: string,
  findings: string[],
  remediation: string,
  measured: number,
  limit: number,
  unit: string,
): Verdict {
  return {
    status: fail ? "fail" : "pass",
    summary,
    findings: fail ? findings : [],
    remediation: fail ? remediation : undefined,
    measured,
    limit,
    unit,
  };
}

const cannot = (summary: string, remediation: string, limit: number, unit: string): Verdict => ({
  status: "error",
  summary,
  findings: [],
  remediation,
  limit,
  unit,
});

const skipped = (summary: string, limit: number, unit: string): Verdict => ({
  status: "skipped",
  summary,
  findings: [],
  limit,
  unit,
});

const UNITS: Record<LoadMetric, string> = {
  write_p95: "ms",
  write_p99: "ms",
  write_max: "ms",
  read_p99: "ms",
  error_rate: "%",
  min_write_throughput: "writes/s",
  max_write_unavailability: "ms",
  max_blocked_by_one_lock: "requests",
  max_dead_tuple_growth: "tuples",
  max_replica_lag: "ms",
};

/** The error rate is configured as a fraction and reported in percent, measured and limit alike. */
function shownLimit(metric: LoadMetric, limit: number): number {
  return metric === "error_rate" ? round(limit * 100, 4) : limit;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Latencies keep their decimals below 100 ms: "10.04 ms" over a 10 ms budget must not read "10 ms". */
function latencyText(v: number): string {
  return v >= 100 ? ms(v) : `${formatNumber(round(v, 2))} ms`;
}

function overlaps(a: { from: number; to: number }, from: number, to: number): boolean {
  return from <= a.to && to >= a.from;
}

/** "cutover/swap" for the step(s) running over [from, to], or "between steps". */
function stepsDuring(facts: RunFacts, phase: string, from: number, to: number): string {
  const names = facts.steps
    .filter((s) => s.phase === phase && s.started_ms !== undefined)
    .filter((s) => overlaps({ from: s.started_ms!, to: s.started_ms! + (s.duration_ms ?? 0) }, from, to))
    .map((s) => `${phase}/${s.name}`);
  return names.length > 0 ? names.join(", ") : `${phase} (between steps)`;
}

/** The migration's locks in the phase that the load's requests (of that kind) would queue behind. */
function lockEvidence(ctx: Ctx, kind: "write" | "read"): string | undefined {
  const modes = kind === "write" ? BLOCKS_WRITES : BLOCKS_READS;
  const ep = (ctx.facts.observations?.blocking ?? [])
    .filter((e) => e.blocker_is_migration && e.load_waiters > 0 && episodeInPhase(ctx, e))
    .sort((a, b) => b.load_waiters - a.load_waiters)[0];
  if (ep)
    return `${ep.mode} on ${ep.relation ?? "a non-relation lock"}, ${ep.load_waiters} load requests queued`;
  const hold = ctx.facts.locks
    .filter((l) => l.phase === ctx.phase && modes.has(l.mode) && (l.relkind === "r" || l.relkind === "p"))
    .sort((a, b) => b.held_ms - a.held_ms)[0];
  if (hold) return `${hold.mode} on ${hold.relation} for ${ms(hold.held_ms)} in ${hold.phase}/${hold.step}`;
  return undefined;
}

function lockHint(ctx: Ctx, evidence: string): string {
  return (
    `The ${ctx.phase} phase holds a lock the load needs (${evidence}): shorten it — prebuild indexes ` +
    `CONCURRENTLY, add CHECK … NOT VALID and VALIDATE it earlier so SET NOT NULL/ATTACH skip their scans, keep ` +
    `only catalog changes inside the lock — and set lock_timeout (with retries) so the step gives up instead ` +
    `of queueing the writes behind it.`
  );
}

function slowHint(ctx: Ctx, kind: "write" | "read"): string {
  const evidence = lockEvidence(ctx, kind);
  if (evidence) return lockHint(ctx, evidence);
  return (
    `The load slowed in ${ctx.phase} without queueing behind the migration's locks: the phase competes for ` +
    `I/O and CPU (a backfill or index build done in one go). Throttle it: smaller batches, short ` +
    `transactions, a pause between batches.`
  );
}

function errorHint(ctx: Ctx, byState: Record<string, number>): string {
  const top = Object.entries(byState).sort(([, a], [, b]) => b - a)[0]?.[0] ?? "";
  if (top === "dropped" || top === "late")
    return (
      `The load's requests waited past drop_after or overflowed max_in_flight (${top}): the application ` +
      `would have timed them out. ${slowHint(ctx, "write")}`
    );
  if (top === "55P03" || top === "57014" || top === "timeout")
    return `The load's requests timed out waiting (${top}). ${slowHint(ctx, "write")}`;
  if (ctx.phase === SOAK_PHASE && ["42P01", "42703", "42883"].includes(top))
    return (
      `The application still fails after the last step (${top}: a table, column or function it uses is gone): ` +
      `the migration removed or renamed what the running code names. Expand and contract: add the new name, ` +
      `keep old and new in sync (a trigger or a dual write), switch the application, and drop the old name in ` +
      `a later migration, once nothing uses it.`
    );
  if (["42P01", "42703", "42883", "42P10"].includes(top))
    return (
      `The writes met the schema in between versions (${top}: a table, column or function missing): keep the ` +
      `old names working until the application has switched (a view, a compatibility trigger), or pause ` +
      `writes around the swap (pause_writes … resume_writes).`
    );
  if (top.startsWith("23"))
    return (
      `The new structure rejects writes the old one accepted (${top}, an integrity violation): compare its ` +
      `constraints, defaults and keys with what the application writes; backfill before adding NOT NULL/CHECK.`
    );
  if (top === "40001" || top === "40P01")
    return (
      `Serialization failures or deadlocks (${top}): the migration takes locks in another order than the ` +
      `application; lock tables in the application's order and keep the migration's transactions short.`
    );
  if (top === "connection")
    return "The load lost connections during the phase: a restart or a terminated backend; the migration must not need either.";
  return `Look at the load's errors in ${ctx.phase} (${top || "see report.json"}) and make the migration keep the write path working throughout.`;
}

function episodeInPhase(ctx: Ctx, e: BlockingEpisode): boolean {
  return ctx.span ? overlaps(ctx.span, e.started_ms, e.ended_ms) : e.phase === ctx.phase;
}

/** Load requests an episode made wait at once, as far as the observations can tell (see the header). */
function loadWaitingAtOnce(e: BlockingEpisode): number {
  // Exact when the observer counted load waiters per sample; older reports only bound it.
  return e.max_load_waiters ?? Math.min(e.max_waiters, e.load_waiters);
}

// ------------------------------------------------------------------ metrics

function latency(ctx: Ctx, t: Target): Verdict {
  const kind = t.metric === "read_p99" ? "read" : "write";
  const stat = t.metric === "write_p95" ? "p95" : t.metric === "write_max" ? "max" : "p99";
  const label = `${kind} ${stat}`;
  const unit = "ms";
  const w = ctx.windows.find((x) => x.kind === kind && x.step === null);
  if (!w) {
    if (kind === "read" && !ctx.load.windows.some((x) => x.kind === "read"))
      return cannot(
        `${label} in ${ctx.phase}: the load has no reads to measure`,
        "Add load.read (a query and a rate), or drop read_p99 from the budget.",
        t.limit,
        unit,
      );
    return cannot(
      `${label} in ${ctx.phase}: no ${kind} load window for the phase, cannot judge`,
      "A rehearse bug if the phase ran under load; please report it with the scenario.",
      t.limit,
      unit,
    );
  }
  if (w.count === 0)
    return skipped(`no ${kind}s in ${ctx.phase} to measure (writers paused?)`, t.limit, unit);
  const value = w.latency[stat];
  const worst = ctx.windows
    .filter((x) => x.kind === kind && x.step !== null && x.count > 0)
    .sort((a, b) => b.latency[stat] - a.latency[stat])[0];
  const worstText = worst
    ? `; worst step ${ctx.phase}/${worst.step}: ${label} ${latencyText(worst.latency[stat])} over ${formatNumber(worst.count)} ${kind}s`
    : "";
  return verdict(
    value > t.limit,
    `${label} in ${ctx.phase}: ${latencyText(value)} over ${formatNumber(w.count)} ${kind}s; limit ${ms(t.limit)}`,
    [`${ctx.phase}: ${label} ${latencyText(value)}, over the ${ms(t.limit)} budget${worstText}`],
    slowHint(ctx, kind),
    round(value, 2),
    t.limit,
    unit,
  );
}

function errorRate(ctx: Ctx, t: Target): Verdict {
  const unit = "%";
  const limit = shownLimit(t.metric, t.limit);
  const ws = ctx.windows.filter((w) => w.step === null);
  if (ws.length === 0)
    return cannot(
      `error rate in ${ctx.phase}: no load window for the phase, cannot judge`,
      "A rehearse bug if the phase ran under load; please report it with the scenario.",
      limit,
      unit,
    );
  const declared = ctx.load.expected_errors ?? [];
  const faultStates = faultCaused(ctx.facts, ws);
  const f = failuresOf(ws, [...declared, ...faultStates]);
  const byFault = ws.reduce(
    (n, w) => n + faultStates.reduce((m, st) => m + (w.errors_by_sqlstate[st] ?? 0), 0),
    0,
  );
  if (f.attempted === 0) return skipped(`no operations in ${ctx.phase} to measure`, limit, unit);
  const rate = f.failed / f.attempted;
  const states = Object.entries(f.byState)
    .sort(([, a], [, b]) => b - a)
    .map(([s, n]) => `${s} ×${formatNumber(n)}`)
    .join(", ");
  const stepFailures = (w: LoadWindow) => failuresOf([w], [...declared, ...faultStates]).failed;
  const worst = ctx.windows
    .filter((w) => w.step !== null && stepFailures(w) > 0)
    .sort((a, b) => stepFailures(b) - stepFailures(a))[0];
  const of = `${formatNumber(f.failed)} of ${formatNumber(f.attempted)}`;
  const findings = [
    `${ctx.phase}: ${of} operations failed (${round(rate * 100, 2)}%)${states ? `: ${states}` : ""}`,
  ];
  if (worst)
    findings.push(
      `most failures in ${ctx.phase}/${worst.step}: ${formatNumber(stepFailures(worst))} of ${formatNumber(worst.count + (worst.dropped ?? 0))} ${worst.kind}s`,
    );
  const expectedText =
    (f.expected - byFault > 0
      ? `; ${formatNumber(f.expected - byFault)} expected (${declared.join(", ")}) not counted`
      : "") +
    (byFault > 0
      ? `; ${formatNumber(byFault)} lost with the connections the injected fault ended (${faultStates.join(", ")}) not counted`
      : "");
  return verdict(
    rate > t.limit,
    `error rate in ${ctx.phase}: ${round(rate * 100, 2)}% (${of})${expectedText}; limit ${limit}%`,
    findings,
    errorHint(ctx, f.byState),
    round(rate * 100, 4),
    limit,
    unit,
  );
}

function unavailabilityIn(ctx: Ctx): LoadReport["unavailability"] {
  const span = ctx.span;
  if (!span) return [];
  return ctx.load.unavailability
    .filter((u) => overlaps(span, u.from_ms, u.to_ms))
    .sort((a, b) => b.to_ms - b.from_ms - (a.to_ms - a.from_ms));
}

function throughput(ctx: Ctx, t: Target): Verdict {
  const unit = "writes/s";
  const w = ctx.windows.find((x) => x.kind === "write" && x.step === null);
  if (!w)
    return cannot(
      `write throughput in ${ctx.phase}: no write load window for the phase, cannot judge`,
      "A rehearse bug if the phase ran under load; please report it with the scenario.",
      t.limit,
      unit,
    );
  const worst = ctx.windows
    .filter((x) => x.kind === "write" && x.step !== null)
    .sort((a, b) => a.throughput - b.throughput)[0];
  const findings = [
    `${ctx.phase}: ${formatNumber(round(w.throughput, 1))} writes/s, under the ${formatNumber(t.limit)} writes/s budget`,
  ];
  if (worst)
    findings.push(
      `slowest step ${ctx.phase}/${worst.step}: ${formatNumber(round(worst.throughput, 1))} writes/s`,
    );
  const gaps = unavailabilityIn(ctx);
  const paused = gaps.find((g) => g.reason === "paused");
  const evidence = lockEvidence(ctx, "write");
  const hint = evidence
    ? lockHint(ctx, evidence)
    : paused
      ? `The writers were paused in ${ctx.phase} for ${ms(paused.to_ms - paused.from_ms)}: keep only the rename between pause_writes and resume_writes, and do the copying and the catch-up before pausing.`
      : slowHint(ctx, "write");
  return verdict(
    w.throughput < t.limit,
    `write throughput in ${ctx.phase}: ${formatNumber(round(w.throughput, 1))} writes/s; minimum ${formatNumber(t.limit)} writes/s`,
    findings,
    hint,
    round(w.throughput, 1),
    t.limit,
    unit,
  );
}

function unavailability(ctx: Ctx, t: Target): Verdict {
  const unit = "ms";
  const w = ctx.windows.find((x) => x.kind === "write" && x.step === null);
  if (!w)
    return cannot(
      `write unavailability in ${ctx.phase}: no write load window for the phase, cannot judge`,
      "A rehearse bug if the phase ran under load; please report it with the scenario.",
      t.limit,
      unit,
    );
  const value = w.longest_unavailability_ms;
  const gaps = unavailabilityIn(ctx);
  const findings = [`${ctx.phase}: no write completed for ${ms(value)}, over the ${ms(t.limit)} budget`];
  for (const g of gaps.filter((x) => x.to_ms - x.from_ms > t.limit).slice(0, 5))
    findings.push(
      `${g.reason === "paused" ? "writers paused" : g.reason === "blocked" ? "writes blocked" : "every write failing"} ` +
        `from ${ms(g.from_ms)} to ${ms(g.to_ms)} (${ms(g.to_ms - g.from_ms)}) during ${stepsDuring(ctx.facts, ctx.phase, g.from_ms, g.to_ms)}`,
    );
  const reason = gaps[0]?.reason;
  const hint =
    reason === "paused"
      ? `The writers were paused for longer than the budget: keep only the rename between pause_writes and resume_writes; copy and catch up before pausing, so the paused part is milliseconds.`
      : reason === "errors"
        ? errorHint(ctx, w.errors_by_sqlstate)
        : slowHint(ctx, "write");
  return verdict(
    value > t.limit,
    `longest write unavailability in ${ctx.phase}: ${ms(value)}; limit ${ms(t.limit)}`,
    findings,
    hint,
    Math.round(value),
    t.limit,
    unit,
  );
}

function blockedByOneLock(ctx: Ctx, t: Target): Verdict {
  const unit = "requests";
  const obs = ctx.facts.observations;
  if (!obs)
    return cannot(
      `load requests blocked by one lock in ${ctx.phase}: the lock observer did not run, cannot judge`,
      "A rehearse bug if the scenario has a load; please report it with the scenario.",
      t.limit,
      unit,
    );
  const eps = obs.blocking
    .filter((e) => episodeInPhase(ctx, e))
    .sort((a, b) => loadWaitingAtOnce(b) - loadWaitingAtOnce(a) || b.longest_wait_ms - a.longest_wait_ms);
  const value = eps[0] ? loadWaitingAtOnce(eps[0]) : 0;
  const over = eps.filter((e) => loadWaitingAtOnce(e) > t.limit);
  const findings = over
    .slice(0, 5)
    .map(
      (e) =>
        `${e.blocker_is_migration ? "the migration" : `backend ${e.blocker_pid}`} held ${e.mode} on ${e.relation ?? "a non-relation lock"} ` +
        `from ${ms(e.started_ms)} to ${ms(e.ended_ms)} (${stepsDuring(ctx.facts, ctx.phase, e.started_ms, e.ended_ms)}): ` +
        `${loadWaitingAtOnce(e)} load requests waited, the longest ${ms(e.longest_wait_ms)}`,
    );
  if (over.length > 5) findings.push(`and ${over.length - 5} more episodes over the limit`);
  const worst = eps[0];
  const migrationWorst = over.find((e) => e.blocker_is_migration);
  const hint = migrationWorst
    ? lockHint(ctx, `${migrationWorst.mode} on ${migrationWorst.relation ?? "a non-relation lock"}`)
    : "The load queued behind a lock another session held: if it is the load's own row contention, raise the limit; otherwise find the session (report.json observations.blocking) and keep its transactions short.";
  return verdict(
    value > t.limit,
    worst
      ? `most load requests blocked by one lock in ${ctx.phase}: ${value} (${worst.mode} on ${worst.relation ?? "a non-relation lock"}, ${worst.blocker_is_migration ? "held by the migration" : `held by backend ${worst.blocker_pid}`}); limit ${t.limit}`
      : `no load request waited on a lock in ${ctx.phase} (sampled every ${ms(obs.interval_ms)}); limit ${t.limit}`,
    findings,
    hint,
    value,
    t.limit,
    unit,
  );
}

function deadTupleGrowth(ctx: Ctx, t: Target): Verdict {
  const unit = "tuples";
  const obs = ctx.facts.observations;
  if (!obs)
    return cannot(
      `dead tuple growth in ${ctx.phase}: the table observer did not run, cannot judge`,
      "A rehearse bug if the scenario has a load; please report it with the scenario.",
      t.limit,
      unit,
    );
  const span = ctx.span;
  if (!span)
    return cannot(
      `dead tuple growth in ${ctx.phase}: the phase has no start and end time, cannot judge`,
      "A rehearse bug; please report it with the scenario.",
      t.limit,
      unit,
    );
  const byTable = new Map<string, { t: number; dead: number }[]>();
  for (const s of obs.tables) {
    const list = byTable.get(s.table) ?? [];
    list.push({ t: s.t, dead: s.dead });
    byTable.set(s.table, list);
  }
  const growth: { table: string; from: number; peak: number; at: number }[] = [];
  for (const [table, samples] of byTable) {
    samples.sort((a, b) => a.t - b.t);
    const inPhase = samples.filter((s) => s.t > span.from && s.t <= span.to);
    if (inPhase.length === 0) continue;
    // Baseline: the count at the phase start; a table first seen inside the phase starts from its first sample.
    const base = [...samples].reverse().find((s) => s.t <= span.from) ?? inPhase[0]!;
    const peak = inPhase.reduce((m, s) => (s.dead > m.dead ? s : m), inPhase[0]!);
    growth.push({ table, from: base.dead, peak: peak.dead, at: peak.t });
  }
  growth.sort((a, b) => b.peak - b.from - (a.peak - a.from));
  const worst = growth[0];
  const value = worst ? Math.max(0, worst.peak - worst.from) : 0;
  const over = growth.filter((g) => g.peak - g.from > t.limit);
  const findings = over
    .slice(0, 5)
    .map(
      (g) =>
        `${g.table} gained ${formatNumber(g.peak - g.from)} dead tuples in ${ctx.phase} (${formatNumber(g.from)} → ${formatNumber(g.peak)} at ${ms(g.at)}, during ${stepsDuring(ctx.facts, ctx.phase, g.at - 1000, g.at)})`,
    );
  return verdict(
    value > t.limit,
    worst
      ? `dead tuple growth in ${ctx.phase}: ${formatNumber(value)} (${worst.table}); limit ${formatNumber(t.limit)}`
      : `no dead tuple growth sampled in ${ctx.phase}; limit ${formatNumber(t.limit)}`,
    findings,
    "An UPDATE or DELETE over many rows in one go leaves every old row version dead until vacuum reaches it: " +
      "batch it (thousands of rows per transaction, VACUUM or a pause between batches so autovacuum keeps up), " +
      "or copy into a new table instead of updating in place.",
    value,
    t.limit,
    unit,
  );
}

/** Worst replay lag of the replica sampled during the phase (000: a backfill that outruns the replica). */
function replicaLag(ctx: Ctx, t: Target): Verdict {
  const unit = "ms";
  const obs = ctx.facts.observations;
  const span = ctx.span;
  if (!obs || !span)
    return cannot(
      `replica lag in ${ctx.phase}: the replication observer did not run, cannot judge`,
      "A rehearse bug if the scenario has a load and a replica; please report it with the scenario.",
      t.limit,
      unit,
    );
  if (obs.replication_lag.length === 0)
    return cannot(
      `replica lag in ${ctx.phase}: no replica was connected, cannot judge`,
      "Set target.replica: true, or remove max_replica_lag from the budget.",
      t.limit,
      unit,
    );
  const inPhase = obs.replication_lag.filter((p) => p.t > span.from && p.t <= span.to + 1000);
  const worst = inPhase.reduce<{ t: number; lag_ms: number } | undefined>(
    (m, p) => (!m || p.lag_ms > m.lag_ms ? p : m),
    undefined,
  );
  const value = worst?.lag_ms ?? 0;
  const over = inPhase.filter((p) => p.lag_ms > t.limit);
  const findings =
    over.length > 0 && worst
      ? [
          `replay lag above ${ms(t.limit)} for ${over.length} of ${inPhase.length} samples in ${ctx.phase}; worst ${ms(value)} at ${ms(worst.t)} (during ${stepsDuring(ctx.facts, ctx.phase, worst.t - 1000, worst.t)})`,
        ]
      : [];
  return verdict(
    value > t.limit,
    `worst replica replay lag in ${ctx.phase}: ${ms(value)}; limit ${ms(t.limit)}`,
    findings,
    "The migration writes WAL faster than the replica replays it: throttle the backfill on replica lag " +
      "(backfill.throttle.replica_lag), smaller batches or a sleep between them, and keep ANALYZE and bulk " +
      "rewrites off peak hours (000: a 14-minute lag took the feed's p99 from 120 ms to 8 s).",
    value,
    t.limit,
    unit,
  );
}

const METRIC_FNS: Record<LoadMetric, (ctx: Ctx, t: Target) => Verdict> = {
  write_p95: latency,
  write_p99: latency,
  write_max: latency,
  read_p99: latency,
  error_rate: errorRate,
  min_write_throughput: throughput,
  max_write_unavailability: unavailability,
  max_blocked_by_one_lock: blockedByOneLock,
  max_dead_tuple_growth: deadTupleGrowth,
  max_replica_lag: replicaLag,
};

function judge(facts: RunFacts, t: Target): Verdict {
  const unit = UNITS[t.metric];
  const limit = shownLimit(t.metric, t.limit);
  if (!facts.load)
    return cannot(
      "the scenario has load budgets but no load ran",
      "Add a load: section to the scenario, or remove budgets.load.",
      limit,
      unit,
    );
  const info = findPhase(facts, t.phase);
  if (info?.status === "not_executed") return skipped(`phase ${t.phase} did not run`, limit, unit);
  const windows = windowsOf(facts.load, t.phase, info);
  if (!info && windows.length === 0)
    return cannot(
      `no phase named "${t.phase}" ran`,
      `Key budgets.load by the names in migration.phases (have: ${[...new Set(facts.phases.map((p) => p.name))].join(", ")}), or "*".`,
      limit,
      unit,
    );
  const whole = windows.filter((w) => w.step === null);
  const span =
    info?.started_ms !== undefined
      ? { from: info.started_ms, to: info.started_ms + (info.duration_ms ?? 0) }
      : whole.length > 0
        ? { from: Math.min(...whole.map((w) => w.started_ms)), to: Math.max(...whole.map((w) => w.ended_ms)) }
        : undefined;
  return METRIC_FNS[t.metric]({ facts, load: facts.load, phase: t.phase, info, windows, span }, t);
}

export const loadBudgets: Budget = (budgets, facts) =>
  targets(budgets.load, facts)
    .map((t) => ({
      t,
      check: { id: loadBudgetId(t.metric, t.phase), kind: "budget" as const, ...judge(facts, t) },
    }))
    // A default over a phase too short for any request to start in it has nothing to hold: left out, not
    // reported as skipped (a limit the scenario wrote itself is still reported, so its author learns it
    // measured nothing).
    .filter(({ t, check }) => !(t.byDefault && check.status === "skipped"))
    .map(({ check }) => check);
