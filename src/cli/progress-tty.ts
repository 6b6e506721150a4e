/**
 * A live status block on a terminal: 2–4 lines redrawn in place (ANSI cursor-up + clear-to-end) at most
 * every `minRedrawMs`. Log lines print above the block; `finish()` clears it.
 *
 *   ▸ running the migration  ·  2m05s
 *     expand/add_check: running 12.4s
 *     seeding ledger [██████████░░░░░░░░░░]  52%  520,000/1,000,000  85,000 rows/s  ETA 6s
 *     load 480 writes/s  ·  p99 12 ms  ·  3 blocked  ·  2 locks held
 */
import { formatLine, type LoadSnapshot, type ProgressEvent, redact } from "../index.ts";
import type { ProgressStream, ProgressView } from "./progress-view.ts";

const ESC = "\x1b[";
/** Cursor to the start of the line `n` lines up, then clear to the end of the screen. */
const up = (n: number) => `\r${ESC}${n}A${ESC}J`;

export interface TtyProgressOptions {
  stream: ProgressStream;
  debug?: boolean;
  /** Clock (ms). Injected by tests; performance.now by default. */
  now?: () => number;
  /** Runs `fn` after `ms`; returns a cancel. Injected by tests; an unref'd setTimeout by default. */
  schedule?: (fn: () => void, ms: number) => () => void;
  /** Minimum ms between redraws (default 200: ≤ 5 redraws/s). */
  minRedrawMs?: number;
  /** Redraw at least this often so elapsed times move (default 1000). */
  refreshMs?: number;
  /** Bar width in cells (default 16). */
  barWidth?: number;
}

interface Backfill {
  step: string;
  rows: number;
  rowsPerS: number;
  fraction: number;
  etaMs?: number;
}

interface Seed {
  table: string;
  rows: number;
  total: number;
  rowsPerS: number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

const num = (n: number) => Math.round(n).toLocaleString("en-US");

export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"█".repeat(full)}${"░".repeat(width - full)}]`;
}

export class TtyProgress implements ProgressView {
  readonly #stream: ProgressStream;
  readonly #debug: boolean;
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => () => void;
  readonly #minRedrawMs: number;
  readonly #refreshMs: number;
  readonly #barWidth: number;
  readonly #start: number;

  #stage = "starting";
  #stageStart: number;
  #step: { phase: string; step: string; status: string; at: number; took?: number } | undefined;
  #seed: Seed | undefined;
  #backfill: Backfill | undefined;
  #load: LoadSnapshot | undefined;
  #activity: string | undefined;

  /** Lines of the block currently on screen (0: none drawn). */
  #drawn = 0;
  #lastDraw = -Infinity;
  #cancelPending: (() => void) | undefined;
  /** When the pending timer fires (clock ms). */
  #pendingAt = Infinity;
  #finished = false;

  constructor(o: TtyProgressOptions) {
    this.#stream = o.stream;
    this.#debug = o.debug ?? false;
    this.#now = o.now ?? (() => performance.now());
    this.#schedule =
      o.schedule ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      });
    this.#minRedrawMs = o.minRedrawMs ?? 200;
    this.#refreshMs = o.refreshMs ?? 1000;
    this.#barWidth = o.barWidth ?? 16;
    this.#start = this.#now();
    this.#stageStart = this.#start;
  }

  info(line: string): void {
    this.#printAbove(line);
  }

  /** Frequent updates become the block's activity line instead of a new line each time. */
  progress(line: string): void {
    if (this.#finished) return;
    this.#activity = line;
    this.#requestRedraw();
  }

  debug(line: string): void {
    if (this.#debug) this.#printAbove(line);
  }

  event(e: ProgressEvent): void {
    if (this.#finished) return;
    switch (e.kind) {
      case "stage":
        this.#stage = e.stage;
        this.#stageStart = this.#now();
        this.#seed = undefined;
        this.#backfill = undefined;
        this.#activity = undefined;
        if (!/migration|rollback|load/.test(e.stage)) {
          this.#step = undefined;
          this.#load = undefined;
        }
        break;
      case "step":
        this.#backfill = undefined;
        if (e.status === "start") {
          this.#step = { phase: e.phase, step: e.step, status: e.status, at: this.#now() };
        } else {
          const started = this.#step?.step === e.step ? this.#step.at : this.#now();
          this.#step = {
            phase: e.phase,
            step: e.step,
            status: e.status,
            at: started,
            took: this.#now() - started,
          };
        }
        break;
      case "seed":
        this.#seed = { table: e.table, rows: e.rows, total: e.total, rowsPerS: e.rowsPerS };
        this.#activity = undefined;
        break;
      case "backfill":
        this.#backfill = e;
        this.#activity = undefined;
        break;
      case "tick":
        if (e.load) this.#load = e.load;
        break;
      case "done":
        this.finish();
        return;
    }
    this.#requestRedraw();
  }

  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#cancelPending?.();
    this.#cancelPending = undefined;
    this.#pendingAt = Infinity;
    this.#clear();
  }

  /** The block's lines, unclipped. Exposed for tests. */
  lines(): string[] {
    const now = this.#now();
    const out = [`▸ ${this.#stage}  ·  ${formatDuration(now - this.#start)}`];
    if (this.#step) {
      const s = this.#step;
      out.push(
        s.status === "start"
          ? `  ${s.phase}/${s.step}: running ${formatDuration(now - s.at)}`
          : `  ${s.phase}/${s.step}: ${s.status} in ${formatDuration(s.took ?? 0)}`,
      );
    } else if (!this.#seed && !this.#activity) {
      out.push(`  ${formatDuration(now - this.#stageStart)} in this stage`);
    }
    if (this.#seed) {
      const s = this.#seed;
      const left = s.total - s.rows;
      const eta =
        left <= 0 ? "done" : s.rowsPerS > 0 ? `ETA ${formatDuration((left / s.rowsPerS) * 1000)}` : "ETA …";
      const pct = s.total > 0 ? Math.floor((s.rows / s.total) * 100) : 0;
      out.push(
        `  seeding ${s.table} ${renderBar(s.total > 0 ? s.rows / s.total : 0, this.#barWidth)} ` +
          `${String(pct).padStart(3)}%  ${num(s.rows)}/${num(s.total)}  ${num(s.rowsPerS)} rows/s  ${eta}`,
      );
    } else if (this.#backfill) {
      const b = this.#backfill;
      const eta =
        b.fraction >= 1 ? "done" : b.etaMs !== undefined ? `ETA ${formatDuration(b.etaMs)}` : "ETA …";
      out.push(
        `  backfill ${renderBar(b.fraction, this.#barWidth)} ${String(Math.floor(b.fraction * 100)).padStart(3)}%  ` +
          `${num(b.rows)} rows  ${num(b.rowsPerS)} rows/s  ${eta}`,
      );
    } else if (this.#activity) {
      out.push(`  ${this.#activity}`);
    }
    const l = this.#load;
    if (l) {
      const parts: string[] = [];
      if (l.writesPerS !== undefined) parts.push(`${num(l.writesPerS)} writes/s`);
      if (l.p99Ms !== undefined) parts.push(`p99 ${l.p99Ms.toFixed(1)} ms`);
      if (l.blocked !== undefined) parts.push(`${l.blocked} blocked`);
      if (l.locksHeld !== undefined) parts.push(`${l.locksHeld} locks held`);
      if (parts.length > 0) out.push(`  load ${parts.join("  ·  ")}`);
    }
    return out.map((x) => redact(x));
  }

  #printAbove(line: string): void {
    if (this.#finished) {
      this.#stream.write(`${formatLine(line)}\n`);
      return;
    }
    this.#clear();
    this.#stream.write(`${formatLine(line)}\n`);
    this.#draw();
  }

  /** Draws now if the last draw is old enough, else once the throttle allows (one trailing redraw). */
  #requestRedraw(): void {
    if (this.#finished) return;
    const now = this.#now();
    const wait = this.#lastDraw + this.#minRedrawMs - now;
    if (wait <= 0) this.#draw();
    else if (this.#pendingAt > now + wait) this.#arm(wait);
  }

  #arm(ms: number): void {
    this.#cancelPending?.();
    this.#pendingAt = this.#now() + ms;
    this.#cancelPending = this.#schedule(() => {
      this.#cancelPending = undefined;
      this.#pendingAt = Infinity;
      if (!this.#finished) this.#draw();
    }, ms);
  }

  #clear(): void {
    if (this.#drawn > 0) this.#stream.write(up(this.#drawn));
    this.#drawn = 0;
  }

  #draw(): void {
    const cols = this.#stream.columns && this.#stream.columns > 10 ? this.#stream.columns : 80;
    // Clipped to the width: a wrapped line would make the cursor-up count wrong.
    const lines = this.lines().map((l) => ([...l].length >= cols ? [...l].slice(0, cols - 1).join("") : l));
    const clear = this.#drawn > 0 ? up(this.#drawn) : "";
    this.#stream.write(`${clear}${lines.join("\n")}\n`);
    this.#drawn = lines.length;
    this.#lastDraw = this.#now();
    // Keep elapsed times moving between events.
    this.#arm(this.#refreshMs);
  }
}
