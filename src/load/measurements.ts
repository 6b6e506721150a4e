/**
 * What the load saw, in bounded memory: HDR histograms per window instead of samples, one entry per second
 * for the series, and a handful of pause intervals. Pure bookkeeping: every method takes its times
 * (performance.now() values) as arguments, so it is tested without a database or a clock.
 *
 * Windows. The harness marks phases and steps; each phase gets a window (step null) and each step inside it
 * its own. An operation belongs to the windows that were current at its *intended* start, even when it
 * completes after the harness moved on: a write queued behind the cutover's lock is the cutover's latency.
 *
 * Unavailability. A stretch with no successful write counts only while the load wanted to write: it starts at
 * the last success if requests were still outstanding then, else at the next arrival (a paused arrival too),
 * so a low rate's natural gaps are not outages. Gaps over 250 ms are listed with a reason: "paused" when the
 * writers' pause covered most of it, "errors" when writes completed only with errors, else "blocked"
 * (requests outstanding, none completing).
 *
 * Dropped and late requests. A request dropped (never sent: over max_in_flight, or waiting past drop_after) and
 * one that completed more than drop_after after its intended start are what a client with that timeout saw
 * as failures: both count in the window of their intended start (`dropped`, `late`) toward the error rate, and
 * neither ends a stretch of unavailability — a write that succeeds 8 s late does not make the write path
 * available, and a reason "errors" is given when such failures filled the gap.
 */
import * as hdr from "hdr-histogram-js";
import type { LatencySummary, LoadDetail, LoadSecond, LoadWindow } from "../report/model.ts";
import { DetailTracks } from "./detail.ts";

export type Section = LoadWindow["section"];
export type Kind = "write" | "read";

/** Gaps without a successful write longer than this are listed in `unavailability`. */
export const UNAVAILABILITY_THRESHOLD_MS = 250;

/** The section a phase belongs to when the harness does not say: warmup/cooldown/rollback by name. */
export function sectionOf(phase: string): Section {
  if (phase === "warmup" || phase === "cooldown" || phase === "rollback") return phase;
  // The soak is the window after the last step: the cooldown section, judged under its own name.
  if (phase === "soak") return "cooldown";
  return "migration";
}

/** Latencies are recorded in microseconds (integers) and reported in ms. */
function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    // 60 s at 3 significant digits is ~70 KB; autoResize covers anything slower.
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

const toMicros = (ms: number) => (ms <= 0 ? 0 : Math.round(ms * 1000));
const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function summarize(h: hdr.Histogram | null): LatencySummary {
  if (!h || h.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const p = (q: number) => round3(h.getValueAtPercentile(q) / 1000);
  return {
    count: h.totalCount,
    p50: p(50),
    p95: p(95),
    p99: p(99),
    p999: p(99.9),
    max: round3(h.maxValue / 1000),
    mean: round3(h.mean / 1000),
  };
}

class KindStats {
  count = 0;
  ok = 0;
  errors = 0;
  dropped = 0;
  late = 0;
  readonly errorsBy: Record<string, number> = {};
  latency: hdr.Histogram | null = null;
  service: hdr.Histogram | null = null;
  longestGap = 0;

  record(latencyMs: number, serviceMs: number, error: string | null): void {
    this.count++;
    if (error === null) this.ok++;
    else {
      this.errors++;
      this.errorsBy[error] = (this.errorsBy[error] ?? 0) + 1;
    }
    (this.latency ??= newHistogram()).recordValue(toMicros(latencyMs));
    (this.service ??= newHistogram()).recordValue(toMicros(serviceMs));
  }
}

export class Window {
  ended: number | null = null;
  readonly write = new KindStats();
  readonly read = new KindStats();
  constructor(
    readonly section: Section,
    readonly phase: string,
    readonly step: string | null,
    readonly started: number,
  ) {}

  stats(kind: Kind): KindStats {
    return kind === "write" ? this.write : this.read;
  }
}

/**
 * A stretch without success of one kind, measured only while there was demand (see the file comment).
 * `open` is the start of the current unavailable stretch, or Infinity when nothing is waiting.
 */
class GapTracker {
  lastOk: number;
  open = Infinity;
  errorsInGap = 0;
  constructor(start: number) {
    this.lastOk = start;
  }
  demand(t: number): void {
    if (this.open === Infinity) this.open = Math.max(t, this.lastOk);
  }
}

interface SecondBucket {
  index: number;
  writes: number;
  reads: number;
  errors: number;
  inFlight: number;
}

export class Measurements {
  readonly #t0: number;
  readonly #withReads: boolean;
  readonly #lateAfter: number;
  readonly #phases: Window[] = [];
  readonly #steps: Window[] = [];
  readonly #gaps: Record<Kind, GapTracker>;
  readonly #pauses: { from: number; to: number | null }[] = [];
  readonly #unavailability: { from: number; to: number; reason: "paused" | "blocked" | "errors" }[] = [];
  readonly #series: LoadSecond[] = [];
  #second: SecondBucket;
  #lastInFlight = 0;
  readonly #secWrite = newHistogram();
  readonly #secRead = newHistogram();
  readonly #detail: DetailTracks;

  /**
   * t0: the run's time origin (report times are ms since it); start: when the load started; lateAfter: the
   * load's drop_after, past which a completion counts as late (see the file comment).
   */
  constructor(t0: number, start: number, withReads: boolean, lateAfter = Infinity) {
    this.#t0 = t0;
    this.#withReads = withReads;
    this.#lateAfter = lateAfter;
    this.#phases.push(new Window("warmup", "warmup", null, start));
    this.#gaps = { write: new GapTracker(start), read: new GapTracker(start) };
    this.#second = { index: this.#secondOf(start), writes: 0, reads: 0, errors: 0, inFlight: 0 };
    this.#detail = new DetailTracks(t0, start);
  }

  get currentPhase(): Window {
    return this.#phases[this.#phases.length - 1]!;
  }

  get currentStep(): Window | null {
    const s = this.#steps[this.#steps.length - 1];
    return s && s.ended === null ? s : null;
  }

  /** The harness entered a phase/step at `now` (step null: between steps). */
  mark(phase: string, step: string | null, now: number, section: Section = sectionOf(phase)): void {
    const cur = this.currentPhase;
    const curStep = this.currentStep;
    if (cur.phase !== phase || cur.section !== section) {
      if (curStep) this.#close(curStep, now);
      this.#close(cur, now);
      this.#phases.push(new Window(section, phase, null, now));
      if (step !== null) this.#openStep(section, phase, step, now);
    } else if ((curStep?.step ?? null) !== step) {
      if (curStep) this.#close(curStep, now);
      if (step !== null) this.#openStep(section, phase, step, now);
    }
  }

  #openStep(section: Section, phase: string, step: string, now: number): void {
    this.#steps.push(new Window(section, phase, step, now));
    if (section === "migration" || section === "rollback") this.#detail.open(section, phase, step, now);
  }

  /** A request of this kind arrived (sent, queued, dropped or paused alike): the load wanted to run it. */
  demand(kind: Kind, intended: number): void {
    this.#gaps[kind].demand(intended);
  }

  /**
   * A request arrived at `intended` was dropped, never sent. `outstanding`: requests of the kind still waiting
   * or running: the demand (and the gap) stays open while there are any.
   */
  dropped(kind: Kind, intended: number, now: number, outstanding: number): void {
    this.#phaseAt(intended).stats(kind).dropped++;
    const step = this.#stepAt(intended);
    if (step) step.stats(kind).dropped++;
    this.#rollSecond(now);
    const g = this.#gaps[kind];
    g.errorsInGap++;
    if (outstanding > 0) g.demand(now);
  }

  /**
   * A request completed. `outstanding`: requests of the same kind still waiting or running after it (they
   * keep the demand, and so a following gap, open).
   */
  complete(
    kind: Kind,
    intended: number,
    sent: number,
    done: number,
    error: string | null,
    outstanding: number,
  ): void {
    const latency = done - intended;
    const service = done - sent;
    const late = error === null && latency > this.#lateAfter;
    const phase = this.#phaseAt(intended);
    phase.stats(kind).record(latency, service, error);
    if (late) phase.stats(kind).late++;
    const step = this.#stepAt(intended);
    if (step) step.stats(kind).record(latency, service, error);
    if (step && late) step.stats(kind).late++;

    this.#rollSecond(done);
    if (kind === "write") this.#detail.complete(done, latency, error !== null);
    const sec = this.#second;
    if (error !== null) sec.errors++;
    else if (kind === "write") {
      sec.writes++;
      this.#secWrite.recordValue(toMicros(latency));
    } else {
      sec.reads++;
      this.#secRead.recordValue(toMicros(latency));
    }

    const g = this.#gaps[kind];
    if (error !== null || late) {
      g.errorsInGap++;
      if (outstanding > 0) g.demand(done);
      return;
    }
    if (g.open < done) this.#endGap(kind, g.open, done);
    g.lastOk = done;
    g.errorsInGap = 0;
    g.open = outstanding > 0 ? done : Infinity;
  }

  /** The last completed second, for a live view (undefined before the first second ends). */
  latestSecond(): LoadSecond | undefined {
    return this.#series.at(-1);
  }

  /** Requests arrived and not completed (queued or running), sampled: the series keeps each second's peak. */
  inFlight(n: number, now: number): void {
    this.#rollSecond(now);
    this.#lastInFlight = n;
    if (n > this.#second.inFlight) this.#second.inFlight = n;
  }

  /** The writers' pause turned on/off at `now`. */
  paused(on: boolean, now: number): void {
    const last = this.#pauses[this.#pauses.length - 1];
    if (on && (!last || last.to !== null)) this.#pauses.push({ from: now, to: null });
    else if (!on && last && last.to === null) last.to = now;
  }

  /** Closes every window and open gap at `now` and returns the report's parts. */
  finish(now: number): {
    windows: LoadWindow[];
    series: LoadSecond[];
    detail: LoadDetail[];
    unavailability: { from_ms: number; to_ms: number; reason: "paused" | "blocked" | "errors" }[];
  } {
    this.#rollSecond(now);
    this.#flushSecond();
    for (const kind of ["write", "read"] as const) {
      const g = this.#gaps[kind];
      if (g.open < now) this.#endGap(kind, g.open, now);
      g.open = Infinity;
    }
    const step = this.currentStep;
    if (step) this.#close(step, now);
    if (this.currentPhase.ended === null) this.#close(this.currentPhase, now);
    this.paused(false, now);

    // Chronological; a phase's window before its steps' windows.
    const all = [...this.#phases, ...this.#steps].sort(
      (a, b) => a.started - b.started || (a.step === null ? -1 : 0) - (b.step === null ? -1 : 0),
    );
    const windows: LoadWindow[] = [];
    for (const w of all) {
      windows.push(this.#window(w, "write"));
      if (this.#withReads) windows.push(this.#window(w, "read"));
    }
    return {
      windows,
      series: this.#series,
      detail: this.#detail.finish(now),
      unavailability: this.#unavailability.map((u) => ({
        from_ms: this.#ms(u.from),
        to_ms: this.#ms(u.to),
        reason: u.reason,
      })),
    };
  }

  #ms(t: number): number {
    return round3(t - this.#t0);
  }

  #window(w: Window, kind: Kind): LoadWindow {
    const s = w.stats(kind);
    const ended = w.ended ?? w.started;
    const seconds = (ended - w.started) / 1000;
    return {
      section: w.section,
      phase: w.phase,
      step: w.step,
      kind,
      started_ms: this.#ms(w.started),
      ended_ms: this.#ms(ended),
      count: s.count,
      errors: s.errors,
      errors_by_sqlstate: { ...s.errorsBy },
      throughput: seconds > 0 ? Math.round((s.ok / seconds) * 10) / 10 : 0,
      latency: summarize(s.latency),
      service: summarize(s.service),
      longest_unavailability_ms: round3(s.longestGap),
      dropped: s.dropped,
      late: s.late,
    };
  }

  /** Closes a window, crediting it the part of a still-open gap that falls inside it. */
  #close(w: Window, now: number): void {
    if (w.step !== null && (w.section === "migration" || w.section === "rollback")) this.#detail.close(now);
    for (const kind of ["write", "read"] as const) {
      const g = this.#gaps[kind];
      if (g.open < now) this.#credit(w, kind, g.open, now);
    }
    w.ended = now;
  }

  #credit(w: Window, kind: Kind, from: number, to: number): void {
    const end = w.ended ?? to;
    const gap = Math.min(to, end) - Math.max(from, w.started);
    const s = w.stats(kind);
    if (gap > s.longestGap) s.longestGap = gap;
  }

  #endGap(kind: Kind, from: number, to: number): void {
    // Windows closed during the gap were credited when they closed; the current ones get the rest now.
    this.#credit(this.currentPhase, kind, from, to);
    const step = this.currentStep;
    if (step) this.#credit(step, kind, from, to);
    if (kind !== "write" || to - from <= UNAVAILABILITY_THRESHOLD_MS) return;
    let pausedMs = 0;
    for (const p of this.#pauses) {
      const overlap = Math.min(to, p.to ?? to) - Math.max(from, p.from);
      if (overlap > 0) pausedMs += overlap;
    }
    const reason =
      pausedMs >= (to - from) / 2 ? "paused" : this.#gaps.write.errorsInGap > 0 ? "errors" : "blocked";
    this.#unavailability.push({ from, to, reason });
  }

  /** The phase window current at time t: nearly always the last one, so search from the end. */
  #phaseAt(t: number): Window {
    for (let i = this.#phases.length - 1; i > 0; i--)
      if (this.#phases[i]!.started <= t) return this.#phases[i]!;
    return this.#phases[0]!;
  }

  #stepAt(t: number): Window | null {
    for (let i = this.#steps.length - 1; i >= 0; i--) {
      const s = this.#steps[i]!;
      if (s.started <= t) return s.ended === null || t < s.ended ? s : null;
    }
    return null;
  }

  #secondOf(t: number): number {
    return Math.floor((t - this.#t0) / 1000);
  }

  #rollSecond(now: number): void {
    const index = this.#secondOf(now);
    if (index <= this.#second.index) return;
    this.#flushSecond();
    // Seconds in which nothing completed are entries too: a stall shows as zeros, not as a hole.
    for (let i = this.#second.index + 1; i < index; i++)
      this.#series.push({
        t: i,
        writes: 0,
        reads: 0,
        errors: 0,
        write_p50: 0,
        write_p99: 0,
        read_p99: 0,
        in_flight: this.#lastInFlight,
      });
    this.#second = { index, writes: 0, reads: 0, errors: 0, inFlight: this.#lastInFlight };
  }

  #flushSecond(): void {
    const s = this.#second;
    const p = (h: hdr.Histogram, q: number) =>
      h.totalCount === 0 ? 0 : round3(h.getValueAtPercentile(q) / 1000);
    this.#series.push({
      t: s.index,
      writes: s.writes,
      reads: s.reads,
      errors: s.errors,
      write_p50: p(this.#secWrite, 50),
      write_p99: p(this.#secWrite, 99),
      read_p99: p(this.#secRead, 99),
      in_flight: s.inFlight,
    });
    this.#secWrite.reset();
    this.#secRead.reset();
  }
}
