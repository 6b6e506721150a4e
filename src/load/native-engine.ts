/**
 * The native load engine: replays the source table's history as production-like traffic while the
 * migration runs, and measures what that traffic saw. The request machine is segment-core.ts; this file runs
 * it for the whole load on the calling thread (load.workers: 1), or hands the load to segmented-load.ts,
 * which runs one segment per worker thread (load.workers > 1).
 *
 * In-process, the core measures straight into Measurements, acknowledges into the AckLedger and reads the
 * FlagBoard's values: no copies, no messages, the cheapest path for the rates a small machine can take.
 */
import { availableParallelism } from "node:os";
import type pg from "pg";
import type { LoadReport } from "../report/model.ts";
import type { Load } from "../scenario/schema.ts";
import { AckLedger } from "./ack-ledger.ts";
import type { ArrivalProcess } from "./arrivals.ts";
import { WRITES_PAUSED_FLAG, type LoadContext, type LoadEngine, type RunningLoad } from "./engine.ts";
import type { FlagBoard } from "./flags.ts";
import { Measurements, type Section } from "./measurements.ts";
import {
  coordinatorFailure,
  flagBoard,
  plumbing,
  SegmentCore,
  SOURCE_APPLICATION_NAME,
  stoppedLine,
} from "./segment-core.ts";
import { assembleReport } from "./segment-totals.ts";
import { startSegmented } from "./segmented-load.ts";
import { WHOLE } from "./share.ts";
import { SourceReader } from "./source-reader.ts";

class InProcessLoad implements RunningLoad {
  #m: Measurements | undefined;
  #stopped: Promise<LoadReport> | undefined;

  constructor(
    private readonly ctx: LoadContext,
    private readonly core: SegmentCore,
    private readonly flags: FlagBoard,
    private readonly ledger: AckLedger,
  ) {}

  /** The core's MeasureSink: created when its schedule starts. */
  measure(start: number): Measurements {
    const m = new Measurements(
      this.ctx.t0,
      start,
      this.ctx.load.read !== undefined,
      this.ctx.load.drop_after,
    );
    if (this.flags.values[WRITES_PAUSED_FLAG] === true) m.paused(true, start);
    this.#m = m;
    return m;
  }

  onFlag(name: string, value: boolean, now: number): void {
    if (name === WRITES_PAUSED_FLAG) this.#m?.paused(value, now);
    this.core.onFlag(name, value, now);
  }

  snapshot(): { writesPerS: number; p99Ms: number; inFlight: number } | undefined {
    const s = this.#m?.latestSecond();
    return s ? { writesPerS: s.writes, p99Ms: s.write_p99, inFlight: s.in_flight } : undefined;
  }

  mark(phase: string, step: string | null, section?: Section): void {
    if (this.#stopped) return;
    this.#m?.mark(phase, step, performance.now(), section);
  }

  async setFlags(flags: Record<string, boolean>): Promise<void> {
    await this.flags.set(flags);
    // Pausing means "no write running": wait for those sent before the load saw the flag.
    if (flags[WRITES_PAUSED_FLAG] === true) await this.core.writesIdle();
  }

  failure(): string | undefined {
    return coordinatorFailure(this.ctx.ackFile, this.ledger, this.flags) ?? this.core.failure();
  }

  stop(): Promise<LoadReport> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<LoadReport> {
    const { totals, at } = await this.core.stop();
    await Promise.all([this.flags.stop(), this.ledger.close()]);
    this.ctx.logger.info(stoppedLine(totals));
    return assembleReport({
      load: this.ctx.load,
      operations: this.core.operations,
      totals,
      measurements: this.#m!,
      now: at,
      ledger: {
        acknowledged: this.ledger.acknowledged,
        indeterminate: this.ledger.indeterminate,
        file: this.ctx.ackFile,
      },
      flags: this.flags.records,
    });
  }
}

export interface NativeEngineOptions {
  /**
   * How arrivals are spaced: evenly at the configured rate (the scenario format's only choice), or as a
   * Poisson process of that rate (what `pgbench --rate` does; bench/load.ts compares like with like).
   */
  arrivals?: ArrivalProcess;
}

export function createNativeEngine(options: NativeEngineOptions = {}): LoadEngine {
  return { name: "native", start: (ctx) => startNative(ctx, options.arrivals ?? "uniform") };
}

export const nativeEngine: LoadEngine = createNativeEngine();

/**
 * load.workers when the scenario leaves it out: half the cores, the other half left to the server, which on
 * the clones this runs against (embedded, a container) shares the machine; never more than the connections.
 */
export function defaultWorkers(load: Load): number {
  return Math.max(1, Math.min(load.connections, Math.floor(availableParallelism() / 2)));
}

async function startNative(ctx: LoadContext, arrivals: ArrivalProcess): Promise<RunningLoad> {
  const load = ctx.load;
  const workers = Math.min(load.connections, load.workers ?? defaultWorkers(load));
  const connection = workers > 1 ? threadable(ctx.connection) : undefined;
  if (workers > 1 && !connection)
    ctx.logger.info(
      `load: the connection settings cannot go to a worker thread; the load runs on this thread`,
    );
  const running = connection
    ? await startSegmented(ctx, arrivals, workers, connection)
    : await startInProcess(ctx, arrivals);
  ctx.logger.info(
    `load: ${load.mode} replay of ${load.source.table} at ${typeof load.rate === "number" ? `${load.rate}/s` : "ramping rate"}` +
      `${load.read ? ` + reads at ${load.read.rate}/s` : ""} on ${load.connections} connections` +
      (connection ? ` in ${workers} worker threads` : ""),
  );
  return running;
}

/** Settings a worker thread can receive (structured-cloneable: no callbacks, no sockets), or undefined. */
function threadable(c: pg.ClientConfig | undefined): pg.ClientConfig | undefined {
  if (!c) return undefined;
  try {
    return structuredClone(c);
  } catch {
    return undefined;
  }
}

async function startInProcess(ctx: LoadContext, arrivals: ArrivalProcess): Promise<RunningLoad> {
  const source = new SourceReader(
    plumbing(ctx.connect, SOURCE_APPLICATION_NAME, 30_000),
    ctx.load.source,
    ctx.load.mode,
    ctx.logger,
  );
  let running: InProcessLoad | undefined;
  const flags = flagBoard(ctx, (name, value, now) => running?.onFlag(name, value, now));
  const ledger = new AckLedger(ctx.ackFile);
  let core: SegmentCore | undefined;
  try {
    await source.start();
    await flags.start();
    core = new SegmentCore({
      connect: ctx.connect,
      load: ctx.load,
      runId: ctx.runId,
      seed: ctx.seed ?? 1,
      logger: ctx.logger,
      source,
      flags: flags.values,
      acks: ledger,
      measure: (start) => running!.measure(start),
      arrivals,
      share: WHOLE,
      connections: ctx.load.connections,
      maxInFlight: ctx.load.max_in_flight,
      t0: ctx.t0,
    });
    running = new InProcessLoad(ctx, core, flags, ledger);
    await core.begin();
  } catch (err) {
    await Promise.all([source.stop(), flags.stop(), core?.abandon(), ledger.close()]);
    throw err;
  }
  return running;
}
