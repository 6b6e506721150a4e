/**
 * The observers' sampling loop: one combined query per tick, never two at once, and what to do when samples
 * fail (count them; reconnect once after a streak; give up after that) or when a planned outage is coming
 * (pause, then reopen). It owns the connection; what the samples mean is the observers' business.
 */
import { performance } from "node:perf_hooks";
import type { Observer } from "./observer.ts";
import {
  errorMessage,
  type ObserverConnection,
  openObserverConnection,
  sampleTimeoutMs,
  withTimeout,
} from "./observer-connection.ts";

/** Consecutive failed samples after which the connection counts as lost. */
export const MAX_FAILED_SAMPLES = 3;

/** After a planned outage: tries to reopen this often, this many times, before the observers give up. */
const REOPEN_ATTEMPTS = 20;
const REOPEN_DELAY_MS = 250;

/** What sampling cost, measured client-side around each combined query (round trip included). */
export interface SamplingStats {
  samples: number;
  failed: number;
  reconnects: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

export interface SamplingOptions {
  connect: () => Promise<ObserverConnection>;
  observers: Observer[];
  intervalMs: number;
  /** The time a sample is taken at: ms since the run's t0. */
  now: () => number;
}

export class SamplingLoop {
  readonly #o: SamplingOptions;
  /** Every observer's expression folded into one prepared statement: one round trip, one plan. */
  readonly #query: { name: string; text: string };
  /** statement_timeout bounds a slow query; this bounds a dead socket, where no answer ever comes. */
  readonly #answerWithin: number;
  #conn!: ObserverConnection;
  #lastConnectionError: string | undefined;

  #samples = 0;
  #failed = 0;
  #streak = 0;
  #reconnects = 0;
  #failure: string | undefined;
  readonly #durations: number[] = [];

  #stopping = false;
  #paused = false;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;

  private constructor(o: SamplingOptions) {
    this.#o = o;
    this.#query = {
      name: "rehearse_observe",
      text: `SELECT ${o.observers.map((ob, i) => `${ob.sql} AS o${i}`).join(",\n")}`,
    };
    // The query left behind by a dead socket keeps the connection busy, so the next samples time out too
    // and the streak reconnects.
    this.#answerWithin = sampleTimeoutMs(o.intervalMs) + 1000;
  }

  /** Connects, takes a first sample (so an incompatible query fails here, loudly), then samples in the background. */
  static async start(o: SamplingOptions): Promise<SamplingLoop> {
    const loop = new SamplingLoop(o);
    loop.#conn = await loop.#open();
    try {
      await loop.#sampleOnce();
    } catch (err) {
      await loop.#conn.end().catch(() => {});
      throw new Error(`the observers' first sample failed: ${errorMessage(err)}`, { cause: err });
    }
    loop.#schedule(o.intervalMs);
    return loop;
  }

  get samples(): number {
    return this.#samples;
  }

  /** Set once sampling has died. */
  get failure(): string | undefined {
    return this.#failure;
  }

  stats(): SamplingStats {
    const sorted = [...this.#durations].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      samples: this.#samples,
      failed: this.#failed,
      reconnects: this.#reconnects,
      mean_ms: r(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
      p50_ms: r(pick(0.5)),
      p95_ms: r(pick(0.95)),
      max_ms: r(sorted[sorted.length - 1] ?? 0),
    };
  }

  /** Pauses sampling while `during` runs (a server restart), then reopens the connection and resumes. */
  async interrupt<T>(during: () => Promise<T>): Promise<T> {
    this.#paused = true;
    await this.#inflight;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      return await during();
    } finally {
      await this.#conn.end().catch(() => {});
      await this.#reopen();
      this.#streak = 0;
      this.#lastConnectionError = undefined;
      this.#paused = false;
      if (!this.#stopping && !this.#failure) this.#schedule(0);
    }
  }

  /** Stops sampling and takes a last sample, so the latest counters end at the stop, not an interval earlier. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight;
    if (!this.#failure) await this.#sampleOnce().catch(() => {});
  }

  /** Ends the connection (after `stop`). */
  async close(): Promise<void> {
    await this.#conn.end().catch(() => {});
  }

  #open(): Promise<ObserverConnection> {
    return openObserverConnection(this.#o.connect, this.#o.intervalMs, (err) => {
      this.#lastConnectionError = err.message;
    });
  }

  async #sampleOnce(): Promise<void> {
    const nowMs = this.#o.now();
    const started = performance.now();
    const res = await withTimeout(this.#conn.query<Record<string, unknown>>(this.#query), this.#answerWithin);
    this.#durations.push(performance.now() - started);
    const row = res.rows[0] ?? {};
    this.#o.observers.forEach((o, i) => o.ingest(row[`o${i}`], nowMs));
    this.#samples++;
  }

  // The observers must never be what keeps the process alive: every timer is unref'd.
  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#tick(), delayMs);
    this.#timer.unref();
  }

  /** One sample; the next is scheduled only once it returned, at the interval's cadence minus its duration. */
  #tick(): void {
    this.#timer = undefined;
    if (this.#stopping || this.#failure || this.#paused) return;
    const started = performance.now();
    this.#inflight = this.#sampleOnce()
      .then(
        () => {
          this.#streak = 0;
        },
        (err: unknown) => this.#onFailure(err),
      )
      .finally(() => {
        this.#inflight = undefined;
        if (this.#stopping || this.#failure || this.#paused) return;
        this.#schedule(Math.max(0, this.#o.intervalMs - (performance.now() - started)));
      });
  }

  /** A failed sample: count it; on the third in a row reconnect (once per run), else give up. */
  async #onFailure(err: unknown): Promise<void> {
    this.#failed++;
    this.#streak++;
    if (this.#streak < MAX_FAILED_SAMPLES) return;
    const why = this.#lastConnectionError ?? errorMessage(err);
    if (this.#reconnects > 0) {
      this.#failure = `observer sampling failed ${this.#streak} times in a row after a reconnect: ${why}`;
      return;
    }
    this.#reconnects++;
    await this.#conn.end().catch(() => {});
    try {
      this.#conn = await this.#open();
      this.#streak = 0;
      this.#lastConnectionError = undefined;
    } catch (e) {
      this.#failure = `observer sampling failed ${this.#streak} times in a row and reconnecting failed: ${errorMessage(e)} (after: ${why})`;
    }
  }

  /** After a planned outage: the server may take a while to accept connections again. */
  async #reopen(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < REOPEN_ATTEMPTS && !this.#stopping; attempt++) {
      try {
        this.#conn = await this.#open();
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, REOPEN_DELAY_MS));
      }
    }
    if (lastError !== undefined)
      this.#failure ??= `the observers could not reconnect after a planned outage: ${errorMessage(lastError)}`;
  }
}
