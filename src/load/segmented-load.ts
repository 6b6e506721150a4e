/**
 * The load on several cores: one segment per worker thread (segment-worker.ts), each with a disjoint share of
 * the arrivals, the write mix and the history (share.ts) and its own connections; this coordinator keeps
 * everything that must be one: the flag poller, the ack ledger, and the Measurements every segment's events
 * are merged into in time order (segment-events.ts), so the report is the one a single engine would write.
 *
 * Flags, pauses and marks. The coordinator's FlagBoard polls _rehearse.flags as the in-process engine does and
 * posts each change to every segment the moment it sees it (a message, well under a millisecond), so all
 * segments act on a flag within the same poll. A pause resolves once every segment reports its writes idle.
 * Marks are the coordinator's own events, stamped with its clock and merged in order.
 *
 * Faults. A segment that fails to start fails the start (the others are stopped); a segment that dies later
 * (an uncaught error, terminated, exited) makes failure() say so, which makes the run inconclusive: its
 * requests are not in the report, so nothing built on it can pass.
 */
import { Worker } from "node:worker_threads";
import type pg from "pg";
import type { LoadReport } from "../report/model.ts";
import { AckLedger } from "./ack-ledger.ts";
import type { ArrivalProcess } from "./arrivals.ts";
import { WRITES_PAUSED_FLAG, type LoadContext, type RunningLoad } from "./engine.ts";
import type { FlagBoard } from "./flags.ts";
import { Measurements, type Section } from "./measurements.ts";
import {
  coordinatorFailure,
  flagBoard,
  plumbing,
  SOURCE_APPLICATION_NAME,
  stoppedLine,
} from "./segment-core.ts";
import { EventMerger } from "./segment-events.ts";
import { assembleReport, sumTotals, type SegmentTotals } from "./segment-totals.ts";
import type { CoordinatorMessage, SegmentInit, SegmentMessage } from "./segment-worker.ts";
import { portion } from "./share.ts";
import { historyBound } from "./source-reader.ts";

const BOOT = new URL("./segment-boot.mjs", import.meta.url);
/** A segment's stop waits for its in-flight requests up to 5 s; past this it is presumed hung. */
const STOP_DEADLINE_MS = 15_000;
const START_DEADLINE_MS = 60_000;

interface Segment {
  index: number;
  worker: Worker;
  /** Set once it reported its counts, or died. */
  totals?: SegmentTotals;
  stoppedAt?: number;
  gone: boolean;
  started?: (m: Extract<SegmentMessage, { type: "started" }>) => void;
  startFailed?: (message: string) => void;
  onStopped?: () => void;
}

export class SegmentedLoad implements RunningLoad {
  readonly #segments: Segment[] = [];
  #merger: EventMerger | undefined;
  #m: Measurements | undefined;
  #operations: { name: string; weight: number }[] = [];
  #failure: string | undefined;
  /** Every segment started: a death from now on is the run's failure (before, it fails the start). */
  #begun = false;
  #stopping = false;
  #stopped: Promise<LoadReport> | undefined;
  #idleId = 0;
  readonly #idleWaiters = new Map<number, { left: number; resolve: () => void }>();

  constructor(
    private readonly ctx: LoadContext,
    private readonly flags: FlagBoard,
    private readonly ledger: AckLedger,
  ) {}

  /** The worker threads, in segment order (fault tests terminate one). */
  get threads(): readonly Worker[] {
    return this.#segments.map((s) => s.worker);
  }

  async begin(workers: number, arrivals: ArrivalProcess, connection: pg.ClientConfig): Promise<void> {
    const load = this.ctx.load;
    const bound = await this.#historyBound();
    for (let index = 0; index < workers; index++) {
      const share = { index, of: workers };
      const init: SegmentInit = {
        share,
        connection,
        load,
        runId: this.ctx.runId,
        seed: this.ctx.seed ?? 1,
        arrivals,
        connections: portion(load.connections, share),
        maxInFlight: Math.max(1, portion(load.max_in_flight, share)),
        origin: performance.timeOrigin,
        t0: this.ctx.t0,
        flags: { ...this.flags.values },
        bound,
      };
      const worker = new Worker(BOOT, { workerData: init, stdout: false, stderr: false });
      const seg: Segment = { index, worker, gone: false };
      this.#segments.push(seg);
      worker.on("message", (m: SegmentMessage) => this.#onMessage(seg, m));
      worker.on("error", (err) => this.#died(seg, `failed: ${err.message}`));
      worker.on("exit", (code) => this.#died(seg, `exited with code ${code}`));
    }
    const started = await Promise.allSettled(
      this.#segments.map(
        (seg) =>
          new Promise<Extract<SegmentMessage, { type: "started" }>>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`load segment ${seg.index + 1} did not start within 60 s`)),
              START_DEADLINE_MS,
            );
            seg.started = (m) => {
              clearTimeout(timer);
              resolve(m);
            };
            seg.startFailed = (message) => {
              clearTimeout(timer);
              reject(new Error(message));
            };
          }),
      ),
    );
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      await this.#terminateAll();
      throw failed.reason as Error;
    }
    const ok = started.map(
      (r) => (r as PromiseFulfilledResult<Extract<SegmentMessage, { type: "started" }>>).value,
    );
    this.#operations = ok[0]!.operations;
    const start = Math.min(...ok.map((m) => m.start));
    const m = new Measurements(this.ctx.t0, start, load.read !== undefined, load.drop_after);
    if (this.flags.values[WRITES_PAUSED_FLAG] === true) m.paused(true, start);
    this.#m = m;
    this.#merger = new EventMerger(workers, m, this.ledger);
    for (const b of this.#early) this.#merger.push(b.seg.index, b.batch);
    this.#early = [];
    this.#begun = true;
    // A segment that died between its "started" and now.
    const dead = this.#segments.find((s) => s.gone);
    if (dead)
      this.#failure ??= `load segment ${dead.index + 1} of ${workers} (worker thread) died as the load started`;
  }

  /** The end of history for every segment, read before any of them writes. */
  async #historyBound(): Promise<string> {
    const client = await plumbing(this.ctx.connect, SOURCE_APPLICATION_NAME, 30_000)();
    try {
      return await historyBound(client, this.ctx.load.source);
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Batches that arrived before every segment started (the merger is made then). */
  #early: { seg: Segment; batch: Extract<SegmentMessage, { type: "events" }> }[] = [];

  #onMessage(seg: Segment, m: SegmentMessage): void {
    switch (m.type) {
      case "events":
        if (this.#merger) this.#merger.push(seg.index, m);
        else this.#early.push({ seg, batch: m });
        return;
      case "started":
        seg.started?.(m);
        return;
      case "start-failed":
        seg.startFailed?.(m.message);
        return;
      case "idle": {
        const w = this.#idleWaiters.get(m.id);
        if (w && --w.left === 0) {
          this.#idleWaiters.delete(m.id);
          w.resolve();
        }
        return;
      }
      case "log":
        if (m.level === "info") this.ctx.logger.info(m.line);
        else this.ctx.logger.debug(m.line);
        return;
      case "failure":
        this.#failure ??= m.message;
        return;
      case "stopped":
        seg.totals = m.totals;
        seg.stoppedAt = m.at;
        seg.onStopped?.();
        return;
    }
  }

  #died(seg: Segment, why: string): void {
    if (seg.gone) return;
    seg.gone = true;
    seg.startFailed?.(`load segment ${seg.index + 1} (worker thread) ${why}`);
    // After its counts arrived, a worker's exit is the normal end; before every segment started, the start fails.
    if (seg.totals === undefined && this.#begun) {
      this.#failure ??= `load segment ${seg.index + 1} of ${this.#segments.length} (worker thread) ${why} while the load ran; its requests are missing from the measurements`;
      this.ctx.logger.info(`load: ${this.#failure}`);
    }
    this.#merger?.close(seg.index);
    seg.onStopped?.();
    // A pause waiting on this segment's writes waits no more.
    for (const [id, w] of this.#idleWaiters)
      if (--w.left === 0) {
        this.#idleWaiters.delete(id);
        w.resolve();
      }
  }

  #broadcast(m: CoordinatorMessage): number {
    let sent = 0;
    for (const s of this.#segments)
      if (!s.gone) {
        s.worker.postMessage(m);
        sent++;
      }
    return sent;
  }

  /** The poller saw a change: every segment acts on it now; the writers' pause is measured here. */
  onFlag(name: string, value: boolean, now: number): void {
    if (this.#stopping) return;
    if (name === WRITES_PAUSED_FLAG) this.#merger?.local(now, (m) => m.paused(value, now));
    this.#broadcast({ type: "flag", name, value });
  }

  snapshot(): { writesPerS: number; p99Ms: number; inFlight: number } | undefined {
    const s = this.#m?.latestSecond();
    return s ? { writesPerS: s.writes, p99Ms: s.write_p99, inFlight: s.in_flight } : undefined;
  }

  mark(phase: string, step: string | null, section?: Section): void {
    if (this.#stopping) return;
    const now = performance.now();
    this.#merger?.local(now, (m) => m.mark(phase, step, now, section));
  }

  async setFlags(flags: Record<string, boolean>): Promise<void> {
    await this.flags.set(flags);
    if (flags[WRITES_PAUSED_FLAG] !== true) return;
    // Pausing means "no write running" in every segment.
    const id = ++this.#idleId;
    await new Promise<void>((resolve) => {
      this.#idleWaiters.set(id, { left: Number.POSITIVE_INFINITY, resolve });
      const n = this.#broadcast({ type: "writes-idle", id });
      if (n === 0) {
        this.#idleWaiters.delete(id);
        resolve();
      } else this.#idleWaiters.get(id)!.left = n;
    });
  }

  failure(): string | undefined {
    return coordinatorFailure(this.ctx.ackFile, this.ledger, this.flags) ?? this.#failure;
  }

  stop(): Promise<LoadReport> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<LoadReport> {
    this.#stopping = true;
    await Promise.all(
      this.#segments.map(
        (seg) =>
          new Promise<void>((resolve) => {
            if (seg.gone || seg.totals) return resolve();
            const timer = setTimeout(() => {
              this.#died(seg, `did not stop within ${STOP_DEADLINE_MS / 1000} s`);
              resolve();
            }, STOP_DEADLINE_MS);
            seg.onStopped = () => {
              clearTimeout(timer);
              resolve();
            };
            seg.worker.postMessage({ type: "stop" } satisfies CoordinatorMessage);
          }),
      ),
    );
    await this.#terminateAll();
    for (const s of this.#segments) this.#merger!.close(s.index);
    await Promise.all([this.flags.stop(), this.ledger.close()]);
    const reported = this.#segments.flatMap((s) => (s.totals ? [s.totals] : []));
    const totals = reported.length > 0 ? sumTotals(reported) : emptyTotals(this.#operations.length);
    this.ctx.logger.info(stoppedLine(totals));
    // When the last segment stopped (its drain done), as the in-process engine ends its windows.
    const stops = this.#segments.flatMap((s) => (s.stoppedAt === undefined ? [] : [s.stoppedAt]));
    const now = stops.length > 0 ? Math.max(...stops) : performance.now();
    return assembleReport({
      load: this.ctx.load,
      operations: this.#operations,
      totals,
      measurements: this.#m!,
      now,
      ledger: {
        acknowledged: this.ledger.acknowledged,
        indeterminate: this.ledger.indeterminate,
        file: this.ctx.ackFile,
      },
      flags: this.flags.records,
    });
  }

  async #terminateAll(): Promise<void> {
    await Promise.all(this.#segments.map((s) => s.worker.terminate().catch(() => 0)));
  }
}

function emptyTotals(operations: number): SegmentTotals {
  const zeros = () => new Array<number>(operations).fill(0);
  return {
    intended: 0,
    writes_ok: 0,
    reads_ok: 0,
    errors: 0,
    late: 0,
    dropped: 0,
    paused: 0,
    errors_by_sqlstate: {},
    error_samples: [],
    mix: { intended: zeros(), ok: zeros(), errors: zeros(), dropped: zeros() },
    source: { rows_read: 0, wrapped: 0, starved: 0 },
    connection_losses: [],
  };
}

/** Starts the flag poller and the ledger here, then one worker thread per segment. */
export async function startSegmented(
  ctx: LoadContext,
  arrivals: ArrivalProcess,
  workers: number,
  connection: pg.ClientConfig,
): Promise<SegmentedLoad> {
  let running: SegmentedLoad | undefined;
  const flags = flagBoard(ctx, (name, value, now) => running?.onFlag(name, value, now));
  const ledger = new AckLedger(ctx.ackFile);
  try {
    await flags.start();
    running = new SegmentedLoad(ctx, flags, ledger);
    await running.begin(workers, arrivals, connection);
  } catch (err) {
    await Promise.all([flags.stop(), ledger.close()]);
    throw err;
  }
  return running;
}
