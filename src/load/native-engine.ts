/**
 * The native load engine: replays the source table's history as production-like traffic while the
 * migration runs, and measures what that traffic saw.
 *
 * Model. Requests arrive on an open schedule (arrivals.ts), each with an intended start; they wait in a FIFO
 * for one of `connections` connections and are measured from that intended start, so a stall shows in full
 * (no coordinated omission). A request is dropped (counted, never sent) when the requests already arrived
 * and not completed (queued + running) number `max_in_flight`, or when it waited longer than `drop_after`; write arrivals while the writers are paused are
 * counted as paused. Everything runs on the main thread, event-driven: a completion immediately takes the
 * next queued request for its connection, and a sub-millisecond alarm (alarm.ts) wakes the loop for arrivals
 * when a connection is free.
 *
 * Speed. Each connection owns one reusable WireOp (wire.ts): named prepared statements bound with raw text
 * values, every statement of a write plus Sync in one packet, no row parsing, no promise per request. The
 * history rows are the server's own text, passed back untouched. Worker threads were measured and not kept:
 * on the small machines this runs on, the database needs the cores more than the load does (see
 * bench/load.ts).
 *
 * Outcomes. A write whose statements all succeeded is acknowledged (its ack key goes to the ack ledger). A
 * write that failed with an ERROR from the server was rolled back (its statements ran in one implicit
 * transaction) and is just an error; one whose fate is unknown (the connection died, FATAL, the stop deadline
 * passed, or a non-transactional write failed after an earlier statement committed) is indeterminate.
 *
 * Parts. This file schedules and counts; statements.ts compiles and binds the templates, connection.ts runs
 * one request on one connection, request-queue.ts holds the arrived requests, error-tally.ts what failed.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { literal } from "../db/sql.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import type { LoadReport } from "../report/model.ts";
import type { Load } from "../scenario/schema.ts";
import { AckLedger } from "./ack-ledger.ts";
import { Alarm } from "./alarm.ts";
import { type ArrivalProcess, ArrivalSchedule, describeRate } from "./arrivals.ts";
import { Conn } from "./connection.ts";
import { WRITES_PAUSED_FLAG, type LoadContext, type LoadEngine, type RunningLoad } from "./engine.ts";
import { classify, ErrorTally } from "./error-tally.ts";
import { FlagBoard } from "./flags.ts";
import { Measurements, type Section } from "./measurements.ts";
import { MixTally, WeightedPick } from "./mix.ts";
import { READ, RequestQueue, WRITE, type KindCode } from "./request-queue.ts";
import { SourceReader, type SourceRow } from "./source-reader.ts";
import { compileLoad, type Generated, type LoadStatements } from "./statements.ts";

/** A request sent this much after its intended start counts as late. */
const LATE_MS = 1;
/** stop() waits this long for requests still running, then abandons them (indeterminate). */
const STOP_WAIT_MS = 5000;
/** Fewer than half the connections for this long makes the run inconclusive. */
const DEGRADED_MS = 5000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/** When no connection is free, arrivals only need counting: wake at most this often for them. */
const COARSE_TICK_MS = 2;

class NativeLoad implements RunningLoad {
  readonly #ctx: LoadContext;
  readonly #load: Load;
  readonly #source: SourceReader;
  readonly #flags: FlagBoard;
  readonly #ledger: AckLedger;
  readonly #st: LoadStatements;
  /** The current request's generated values: one object, refilled per request. */
  readonly #gen: Generated;
  /** Which operation of the write mix each write arrival runs, and what each did. */
  readonly #pick: WeightedPick;
  readonly #mix: MixTally;

  readonly #conns: (Conn | undefined)[];
  readonly #free: Conn[] = [];
  #alive = 0;
  /** When each connection was lost while the load ran (ms since t0); each one was then replaced. */
  readonly #losses: number[] = [];
  #degradedSince: number | undefined;
  readonly #backoff: number[];

  #m!: Measurements;
  #alarm!: Alarm;
  #start = 0;
  #writeSchedule!: ArrivalSchedule;
  #readSchedule: ArrivalSchedule | undefined;
  #nextWrite = Infinity;
  #nextRead = Infinity;

  readonly #queue: RequestQueue;
  #running = 0;
  #writesRunning = 0;
  #writesOutstanding = 0;
  #readsOutstanding = 0;

  #intended = 0;
  #writesOk = 0;
  #readsOk = 0;
  readonly #errors = new ErrorTally();
  #late = 0;
  #dropped = 0;
  #pausedCount = 0;
  #opCounter = 0;

  #paused = false;
  #stopping = false;
  #stopped: Promise<LoadReport> | undefined;
  #failure: string | undefined;
  #idleWaiters: (() => void)[] = [];
  #drainWaiter: (() => void) | undefined;

  readonly #arrivals: ArrivalProcess;

  constructor(ctx: LoadContext, source: SourceReader, flags: FlagBoard, arrivals: ArrivalProcess) {
    this.#ctx = ctx;
    this.#arrivals = arrivals;
    this.#load = ctx.load;
    this.#source = source;
    this.#flags = flags;
    this.#st = compileLoad(ctx.load, source, ctx.logger);
    this.#gen = { uuid: "", now: "", runId: ctx.runId, op: "" };
    this.#pick = new WeightedPick(
      this.#st.ops.map((o) => o.weight),
      ctx.seed ?? 1,
    );
    this.#mix = new MixTally(this.#st.ops.length);
    this.#ledger = new AckLedger(ctx.ackFile);
    this.#conns = new Array<Conn | undefined>(ctx.load.connections).fill(undefined);
    this.#backoff = new Array<number>(ctx.load.connections).fill(RECONNECT_MIN_MS);
    this.#queue = new RequestQueue(ctx.load.max_in_flight);
  }

  /** Opens the connections (half must succeed), then starts the schedule. */
  async begin(): Promise<void> {
    const n = this.#load.connections;
    const opened = await Promise.allSettled(Array.from({ length: n }, (_, i) => this.#open(i)));
    const failed = opened.filter((r) => r.status === "rejected");
    if (this.#alive < n / 2) {
      const why = failed[0]?.status === "rejected" ? (failed[0].reason as Error).message : "unknown";
      throw new Error(`the load could open only ${this.#alive} of ${n} connections: ${why}`);
    }
    for (let i = 0; i < n; i++) if (!this.#conns[i]) this.#reconnectLater(i);

    this.#start = performance.now();
    this.#m = new Measurements(this.#ctx.t0, this.#start, this.#st.read !== undefined, this.#load.drop_after);
    if (this.#flags.values[WRITES_PAUSED_FLAG] === true) {
      this.#paused = true;
      this.#m.paused(true, this.#start);
    }
    this.#writeSchedule = new ArrivalSchedule(this.#load.rate, this.#arrivals);
    this.#nextWrite = this.#start + this.#writeSchedule.next();
    if (this.#load.read) {
      this.#readSchedule = new ArrivalSchedule(this.#load.read.rate, this.#arrivals);
      this.#nextRead = this.#start + this.#readSchedule.next();
    }
    this.#alarm = new Alarm(() => this.#pump(performance.now()));
    this.#pump(performance.now());
  }

  // ------------------------------------------------------------------ RunningLoad

  snapshot(): { writesPerS: number; p99Ms: number; inFlight: number } | undefined {
    const s = this.#m.latestSecond();
    return s ? { writesPerS: s.writes, p99Ms: s.write_p99, inFlight: s.in_flight } : undefined;
  }

  mark(phase: string, step: string | null, section?: Section): void {
    if (this.#stopping) return;
    this.#m.mark(phase, step, performance.now(), section);
  }

  async setFlags(flags: Record<string, boolean>): Promise<void> {
    await this.#flags.set(flags);
    // Pausing means "no write running": wait for those sent before the load saw the flag.
    if (flags[WRITES_PAUSED_FLAG] === true && this.#writesRunning > 0)
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  failure(): string | undefined {
    if (this.#failure) return this.#failure;
    const now = performance.now();
    const ledgerError = this.#ledger.error;
    if (ledgerError) return `cannot write the ack ledger ${this.#ctx.ackFile}: ${ledgerError.message}`;
    if (this.#degradedSince !== undefined && now - this.#degradedSince > DEGRADED_MS)
      return `the load kept only ${this.#alive} of ${this.#load.connections} connections for more than ${DEGRADED_MS / 1000} s`;
    const flagsFailing = this.#flags.failingSince;
    if (flagsFailing !== undefined && now - flagsFailing > DEGRADED_MS)
      return `the load could not read its flags (_rehearse.flags) for more than ${DEGRADED_MS / 1000} s`;
    return undefined;
  }

  stop(): Promise<LoadReport> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  // ------------------------------------------------------------------ connections

  async #open(position: number): Promise<void> {
    const client = await this.#ctx.connect();
    try {
      await client.query(`SET application_name = ${literal(LOAD_APPLICATION_NAME)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.#stopping) {
      await client.end().catch(() => {});
      return;
    }
    const st = this.#st;
    const conn = new Conn(client, position, st.ops, st.read, (c, err) => this.#complete(c, err));
    const died = () => this.#died(conn);
    client.on("error", died);
    client.on("end", died);
    this.#conns[position] = conn;
    this.#backoff[position] = RECONNECT_MIN_MS;
    this.#alive++;
    this.#health();
    this.#free.push(conn);
    if (this.#m) this.#pump(performance.now());
  }

  #died(conn: Conn): void {
    if (!conn.alive) return;
    conn.alive = false;
    this.#alive--;
    this.#health();
    const i = this.#free.indexOf(conn);
    if (i >= 0) this.#free.splice(i, 1);
    if (this.#conns[conn.position] === conn) this.#conns[conn.position] = undefined;
    if (!this.#stopping) {
      this.#losses.push(Math.round(performance.now() - this.#ctx.t0));
      this.#ctx.logger.debug(`load: connection ${conn.position} lost; reconnecting`);
      this.#reconnectLater(conn.position);
    }
  }

  #reconnectLater(position: number): void {
    const delay = this.#backoff[position]!;
    this.#backoff[position] = Math.min(delay * 2, RECONNECT_MAX_MS);
    setTimeout(() => {
      if (this.#stopping || this.#conns[position]) return;
      this.#open(position).catch((err: Error) => {
        this.#ctx.logger.debug(`load: reconnect failed: ${err.message}`);
        this.#reconnectLater(position);
      });
    }, delay);
  }

  #health(): void {
    if (this.#alive < this.#load.connections / 2) this.#degradedSince ??= performance.now();
    else this.#degradedSince = undefined;
  }

  // ------------------------------------------------------------------ the schedule

  /** Turns due arrivals into queued requests, hands queued requests to free connections, re-arms. */
  #pump(now: number): void {
    if (this.#stopping) return;
    while (this.#nextWrite <= now) {
      this.#arrive(WRITE, this.#nextWrite);
      this.#nextWrite = this.#start + this.#writeSchedule.next();
    }
    if (this.#readSchedule)
      while (this.#nextRead <= now) {
        this.#arrive(READ, this.#nextRead);
        this.#nextRead = this.#start + this.#readSchedule.next();
      }
    this.#dispatch(now);
    this.#m.inFlight(this.#queue.length + this.#running, now);
    const next = Math.min(this.#nextWrite, this.#nextRead);
    if (next === Infinity) return;
    // Precision matters only when the next arrival could be sent at once; otherwise completions pump anyway
    // and the alarm only needs to keep counting arrivals (and drops) while everything is stuck.
    const precise = this.#free.length > 0 && !(this.#paused && next === this.#nextWrite);
    this.#alarm.arm(precise ? next : Math.max(next, now + COARSE_TICK_MS));
  }

  #arrive(kind: KindCode, at: number): void {
    this.#intended++;
    this.#m.demand(kind === WRITE ? "write" : "read", at);
    // Picked for every write arrival, paused or not, so the sequence depends on the seed alone.
    const op = kind === WRITE ? this.#pick.next() : 0;
    if (kind === WRITE) this.#mix.intended[op]!++;
    if (kind === WRITE && this.#paused) {
      this.#pausedCount++;
      return;
    }
    if (this.#queue.length + this.#running >= this.#load.max_in_flight) {
      this.#drop(kind, op, at, at);
      return;
    }
    this.#queue.push(at, kind, op);
    if (kind === WRITE) this.#writesOutstanding++;
    else this.#readsOutstanding++;
  }

  #dispatch(now: number): void {
    const dropAfter = this.#load.drop_after;
    const queue = this.#queue;
    while (queue.length > 0 && this.#free.length > 0) {
      const at = queue.headAt();
      const kind = queue.headKind();
      const op = queue.headOp();
      queue.shift();
      if (now - at > dropAfter || (kind === WRITE && this.#paused)) {
        if (kind === WRITE) this.#writesOutstanding--;
        else this.#readsOutstanding--;
        if (kind === WRITE && this.#paused) this.#pausedCount++;
        else this.#drop(kind, op, at, now);
        continue;
      }
      const row = this.#source.next();
      if (row === undefined) {
        this.#exhausted();
        if (kind === WRITE) this.#writesOutstanding--;
        else this.#readsOutstanding--;
        this.#drop(kind, op, at, now);
        continue;
      }
      this.#send(this.#free.pop()!, kind, op, at, now, row);
    }
  }

  /** A request never sent: counted, and measured as a failure of its intended start's window. */
  #drop(kind: KindCode, op: number, at: number, now: number): void {
    this.#dropped++;
    if (kind === WRITE) this.#mix.dropped[op]!++;
    const k = kind === WRITE ? "write" : "read";
    this.#m.dropped(k, at, now, kind === WRITE ? this.#writesOutstanding : this.#readsOutstanding);
  }

  #send(conn: Conn, kind: KindCode, op: number, at: number, now: number, row: SourceRow): void {
    conn.assign(kind, op, at, now);
    if (now - at > LATE_MS) this.#late++;
    const st = this.#st;
    const n = ++this.#opCounter;
    const g = this.#gen;
    g.uuid = st.needUuid ? randomUUID() : "";
    g.now = st.needNow ? new Date().toISOString() : "";
    g.op = st.needOp ? String(n) : "";
    if (kind === READ) conn.bindRead(st.read!, row, g);
    else {
      const o = st.ops[op]!;
      conn.bindWrite(
        o.writes,
        this.#flags.values,
        this.#load.write.transaction,
        o.acks ? st.ackSource : null,
        row,
        g,
      );
      this.#writesRunning++;
    }
    this.#running++;
    conn.run();
  }

  #complete(conn: Conn, err: Error | null): void {
    if (conn.abandoned || !conn.busy) return;
    // A non-transactional write runs its statements one round trip each; each commits alone.
    if (err === null && conn.continueWrite()) return;
    const done = performance.now();
    conn.busy = false;
    this.#running--;
    let code: string | null = null;
    if (err !== null) {
      const c = classify(err);
      code = c.code;
      this.#errors.record(code, err.message, done - this.#ctx.t0);
      if (conn.kind === WRITE && conn.acks && (c.unknown || conn.committed > 0))
        this.#ledger.unknown(conn.ackKey ?? "");
      // FATAL: the server is closing this session; do not hand it another request meanwhile.
      const severity = (err as { severity?: unknown }).severity;
      if (severity === "FATAL" || severity === "PANIC") this.#died(conn);
    }
    if (conn.kind === WRITE) {
      this.#writesRunning--;
      this.#writesOutstanding--;
      if (err === null) {
        this.#writesOk++;
        this.#mix.ok[conn.mixOp]!++;
        if (conn.acks) this.#ledger.ack(conn.ackKey ?? "");
      } else this.#mix.errors[conn.mixOp]!++;
      this.#m.complete("write", conn.intended, conn.sent, done, code, this.#writesOutstanding);
      if (this.#writesRunning === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    } else {
      this.#readsOutstanding--;
      if (err === null) this.#readsOk++;
      this.#m.complete("read", conn.intended, conn.sent, done, code, this.#readsOutstanding);
    }
    if (conn.alive) this.#free.push(conn);
    if (this.#stopping) {
      if (this.#running === 0) this.#drainWaiter?.();
      return;
    }
    this.#pump(done);
  }

  #exhausted(): void {
    if (this.#failure) return;
    this.#failure = `history exhausted: every row of ${this.#load.source.table} was replayed (source.at_end: stop)`;
    this.#ctx.logger.info(`load: ${this.#failure}`);
    this.#nextWrite = Infinity;
    this.#nextRead = Infinity;
  }

  /** The poller saw a flag change; only the writers' pause needs action, other flags are read per request. */
  onFlag(name: string, value: boolean, now: number): void {
    if (name !== WRITES_PAUSED_FLAG || !this.#m) return;
    this.#paused = value;
    this.#m.paused(value, now);
    if (!value) this.#pump(now);
  }

  // ------------------------------------------------------------------ stopping

  async #stop(): Promise<LoadReport> {
    this.#stopping = true;
    this.#alarm.close();
    // Arrived but never sent: dropped.
    this.#dropped += this.#queue.length;
    for (; this.#queue.length > 0; this.#queue.shift())
      if (this.#queue.headKind() === WRITE) this.#mix.dropped[this.#queue.headOp()]!++;
    this.#writesOutstanding = this.#writesRunning;
    this.#readsOutstanding = this.#running - this.#writesRunning;
    await this.#drain();
    const now = performance.now();
    this.#abandonRunning(now);
    for (const w of this.#idleWaiters) w();
    this.#idleWaiters = [];
    await this.#closeAll();
    await Promise.all([this.#source.stop(), this.#flags.stop(), this.#ledger.close()]);
    const report = this.#report(now);
    const t = report.totals;
    this.#ctx.logger.info(
      `load: stopped: ${t.writes_ok} writes, ${t.reads_ok} reads, ${t.errors} errors, ${t.dropped} dropped, ` +
        `${t.paused} paused, ${t.late} late of ${t.intended} intended` +
        (this.#source.starved > 0
          ? `; ${this.#source.starved} rows replayed while source batches were late`
          : ""),
    );
    return report;
  }

  /** Waits for the requests still running, at most STOP_WAIT_MS. */
  async #drain(): Promise<void> {
    if (this.#running > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_WAIT_MS);
        this.#drainWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
  }

  /** Still running after the deadline: abandoned, counted as timeouts, and a write's outcome is unknown. */
  #abandonRunning(now: number): void {
    for (const conn of this.#conns) {
      if (!conn?.busy) continue;
      conn.abandoned = true;
      conn.busy = false;
      this.#running--;
      this.#errors.timeout();
      if (conn.kind === WRITE) {
        this.#writesRunning--;
        this.#mix.errors[conn.mixOp]!++;
        if (conn.acks) this.#ledger.unknown(conn.ackKey ?? "");
      }
      this.#m.complete(conn.kind === WRITE ? "write" : "read", conn.intended, conn.sent, now, "timeout", 0);
    }
  }

  /** What the load saw, once everything is closed. */
  #report(now: number): LoadReport {
    const parts = this.#m.finish(now);
    return {
      engine: "native",
      mode: this.#load.mode,
      rate: describeRate(this.#load.rate),
      connections: this.#load.connections,
      totals: {
        intended: this.#intended,
        writes_ok: this.#writesOk,
        reads_ok: this.#readsOk,
        errors: this.#errors.count,
        late: this.#late,
        dropped: this.#dropped,
        paused: this.#pausedCount,
        errors_by_sqlstate: { ...this.#errors.bySqlstate },
      },
      error_samples: this.#errors.samples(),
      windows: parts.windows,
      series: parts.series,
      ...(parts.detail.length > 0 ? { detail: parts.detail } : {}),
      unavailability: parts.unavailability,
      ack: {
        acknowledged: this.#ledger.acknowledged,
        indeterminate: this.#ledger.indeterminate,
        file: this.#ctx.ackFile,
      },
      source: { rows_read: this.#source.rowsRead, wrapped: this.#source.wrapped },
      flags: this.#flags.records,
      ...(this.#losses.length > 0 ? { connection_losses: [...this.#losses] } : {}),
      // Only a scenario that gives a mix gets per-operation counts: older reports' load stays as it was.
      ...(this.#load.write.mix ? { operations: this.#mix.report(this.#st.ops) } : {}),
    };
  }

  /** begin() failed: release what the constructor opened. */
  async abandon(): Promise<void> {
    await this.#closeAll();
    await this.#ledger.close();
  }

  async #closeAll(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#conns.map(async (conn) => {
        if (!conn) return;
        conn.alive = false;
        if (conn.abandoned) {
          // Its backend is still busy and would not read a Terminate: drop the socket instead.
          (
            conn.client as unknown as { connection: { stream: { destroy(): void } } }
          ).connection.stream.destroy();
          return;
        }
        await Promise.race([conn.client.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
      }),
    );
  }
}

/** Connections for the engine's own plumbing (source batches, the flag poller), named apart from the load. */
function plumbing(connect: () => Promise<pg.Client>, name: string, statementTimeoutMs: number) {
  return async (): Promise<pg.Client> => {
    const c = await connect();
    c.on("error", () => {});
    try {
      await c.query(`SET application_name = ${literal(name)}; SET statement_timeout = ${statementTimeoutMs}`);
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    return c;
  };
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

async function startNative(ctx: LoadContext, arrivals: ArrivalProcess): Promise<RunningLoad> {
  const source = new SourceReader(
    plumbing(ctx.connect, `${LOAD_APPLICATION_NAME}-source`, 30_000),
    ctx.load.source,
    ctx.load.mode,
    ctx.logger,
  );
  let engine: NativeLoad | undefined;
  const flags = new FlagBoard(
    plumbing(ctx.connect, `${LOAD_APPLICATION_NAME}-flags`, 5_000),
    ctx.t0,
    ctx.logger,
    (name, value, now) => engine?.onFlag(name, value, now),
  );
  try {
    await source.start();
    await flags.start();
    engine = new NativeLoad(ctx, source, flags, arrivals);
    await engine.begin();
  } catch (err) {
    await Promise.all([source.stop(), flags.stop(), engine?.abandon()]);
    throw err;
  }
  const load = ctx.load;
  ctx.logger.info(
    `load: ${load.mode} replay of ${load.source.table} at ${typeof load.rate === "number" ? `${load.rate}/s` : "ramping rate"}` +
      `${load.read ? ` + reads at ${load.read.rate}/s` : ""} on ${load.connections} connections`,
  );
  return engine;
}
