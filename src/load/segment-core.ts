/**
 * The native load engine's request machine: one segment of the load (share.ts), on the thread it runs on.
 * native-engine.ts runs one in-process for the whole load; segmented-load.ts runs one per worker thread.
 *
 * Model. Requests arrive on an open schedule (arrivals.ts), each with an intended start; they wait in a FIFO
 * for one of the segment's connections and are measured from that intended start, so a stall shows in full
 * (no coordinated omission). A request is dropped (counted, never sent) when the requests already arrived and
 * not completed (queued + running) number the segment's `max_in_flight`, or when it waited longer than
 * `drop_after`; write arrivals while the writers are paused are counted as paused. Event-driven: a completion
 * immediately takes the next queued request for its connection, and a sub-millisecond alarm (alarm.ts) wakes
 * the loop for arrivals when a connection is free.
 *
 * Speed. Each connection owns one reusable WireOp (wire.ts): named prepared statements bound with raw text
 * values, every statement of a write plus Sync in one packet, no row parsing, no promise per request. The
 * history rows are the server's own text, passed back untouched.
 *
 * Outcomes. A write whose statements all succeeded is acknowledged (its ack key goes to the ack ledger). A
 * write that failed with an ERROR from the server was rolled back (its statements ran in one implicit
 * transaction) and is just an error; one whose fate is unknown (the connection died, FATAL, the stop deadline
 * passed, or a non-transactional write failed after an earlier statement committed) is indeterminate.
 *
 * Ports. What it measures goes to a MeasureSink, what it acknowledges to an AckSink, and it reads flags from
 * a FlagValues: in-process those are Measurements, the AckLedger and the FlagBoard themselves; in a worker
 * thread, recorders that forward them to the coordinator (segment-events.ts). The core never knows which.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { literal } from "../db/sql.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import type { Load } from "../scenario/schema.ts";
import type { Logger } from "../util/logger.ts";
import { Alarm } from "./alarm.ts";
import { type ArrivalProcess, ArrivalSchedule } from "./arrivals.ts";
import { Conn } from "./connection.ts";
import type { AckLedger } from "./ack-ledger.ts";
import { WRITES_PAUSED_FLAG } from "./engine.ts";
import { FlagBoard } from "./flags.ts";
import { classify, ErrorTally } from "./error-tally.ts";
import type { Kind } from "./measurements.ts";
import { MixTally, WeightedPick } from "./mix.ts";
import { READ, RequestQueue, WRITE, type KindCode } from "./request-queue.ts";
import type { Share } from "./share.ts";
import type { SourceReader, SourceRow } from "./source-reader.ts";
import { compileLoad, type Generated, type LoadStatements } from "./statements.ts";
import type { SegmentTotals } from "./segment-totals.ts";

/** A request sent this much after its intended start counts as late. */
const LATE_MS = 1;
/** stop() waits this long for requests still running, then abandons them (indeterminate). */
const STOP_WAIT_MS = 5000;
/** Fewer than half the connections for this long makes the run inconclusive. */
export const DEGRADED_MS = 5000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/** When no connection is free, arrivals only need counting: wake at most this often for them. */
const COARSE_TICK_MS = 2;

/** Where the segment's measurements go (Measurements has these methods; so does a segment's recorder). */
export interface MeasureSink {
  demand(kind: Kind, intended: number): void;
  dropped(kind: Kind, intended: number, now: number, outstanding: number): void;
  complete(
    kind: Kind,
    intended: number,
    sent: number,
    done: number,
    error: string | null,
    outstanding: number,
  ): void;
  inFlight(n: number, now: number): void;
}

/** Where acknowledged and indeterminate writes' keys go. */
export interface AckSink {
  ack(key: string): void;
  unknown(key: string): void;
}

export interface SegmentDeps {
  /** Opens a load connection (the core sets application_name). */
  connect: () => Promise<pg.Client>;
  load: Load;
  runId: string;
  seed: number;
  logger: Logger;
  source: SourceReader;
  /** The flags as the load sees them now (read per request). */
  flags: Readonly<Record<string, boolean>>;
  acks: AckSink;
  /** The measurements, given when the schedule starts (performance.now() of this thread). */
  measure: (start: number) => MeasureSink;
  arrivals: ArrivalProcess;
  share: Share;
  /** This segment's connections and max_in_flight (its portion of the load's). */
  connections: number;
  maxInFlight: number;
  /** performance.now() (this thread's) of the run's t0, for connection-loss times. */
  t0: number;
}

export class SegmentCore {
  readonly #d: SegmentDeps;
  readonly #load: Load;
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

  #m!: MeasureSink;
  #alarm: Alarm | undefined;
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
  #stopped: Promise<{ totals: SegmentTotals; at: number }> | undefined;
  #failure: string | undefined;
  #idleWaiters: (() => void)[] = [];
  #drainWaiter: (() => void) | undefined;

  constructor(deps: SegmentDeps) {
    this.#d = deps;
    this.#load = deps.load;
    this.#st = compileLoad(deps.load, deps.source, deps.logger);
    this.#gen = { uuid: "", now: "", runId: deps.runId, op: "" };
    this.#pick = new WeightedPick(
      this.#st.ops.map((o) => o.weight),
      deps.seed,
      deps.share,
    );
    this.#mix = new MixTally(this.#st.ops.length);
    this.#conns = new Array<Conn | undefined>(deps.connections).fill(undefined);
    this.#backoff = new Array<number>(deps.connections).fill(RECONNECT_MIN_MS);
    this.#queue = new RequestQueue(deps.maxInFlight);
  }

  /** The compiled write mix (names and weights, for the report's per-operation counts). */
  get operations(): readonly { name: string; weight: number }[] {
    return this.#st.ops;
  }

  /** Opens the connections (half must succeed), then starts the schedule; returns when it started. */
  async begin(): Promise<number> {
    const n = this.#d.connections;
    const opened = await Promise.allSettled(Array.from({ length: n }, (_, i) => this.#open(i)));
    const failed = opened.filter((r) => r.status === "rejected");
    if (this.#alive < n / 2) {
      const why = failed[0]?.status === "rejected" ? (failed[0].reason as Error).message : "unknown";
      throw new Error(`the load could open only ${this.#alive} of ${n} connections: ${why}`);
    }
    for (let i = 0; i < n; i++) if (!this.#conns[i]) this.#reconnectLater(i);

    this.#start = performance.now();
    this.#m = this.#d.measure(this.#start);
    if (this.#d.flags[WRITES_PAUSED_FLAG] === true) this.#paused = true;
    const share = this.#d.share;
    this.#writeSchedule = new ArrivalSchedule(this.#load.rate, this.#d.arrivals, Math.random, share);
    this.#nextWrite = this.#start + this.#writeSchedule.next();
    if (this.#load.read) {
      this.#readSchedule = new ArrivalSchedule(this.#load.read.rate, this.#d.arrivals, Math.random, share);
      this.#nextRead = this.#start + this.#readSchedule.next();
    }
    this.#alarm = new Alarm(() => this.#pump(performance.now()));
    this.#pump(performance.now());
    return this.#start;
  }

  /** Resolves once no write is running (the writers' pause: those sent before the load saw it finish). */
  writesIdle(): Promise<void> {
    if (this.#writesRunning === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Why this segment stopped early or could not keep up its connections, if it did. */
  failure(now = performance.now()): string | undefined {
    if (this.#failure) return this.#failure;
    if (this.#degradedSince !== undefined && now - this.#degradedSince > DEGRADED_MS)
      return `the load kept only ${this.#alive} of ${this.#d.connections} connections for more than ${DEGRADED_MS / 1000} s`;
    return undefined;
  }

  /** Stops arrivals, waits for in-flight requests (bounded), closes; the counts, and when it stopped. */
  stop(): Promise<{ totals: SegmentTotals; at: number }> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  // ------------------------------------------------------------------ connections

  async #open(position: number): Promise<void> {
    const client = await this.#d.connect();
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
      this.#losses.push(Math.round(performance.now() - this.#d.t0));
      this.#d.logger.debug(`load: connection ${conn.position} lost; reconnecting`);
      this.#reconnectLater(conn.position);
    }
  }

  #reconnectLater(position: number): void {
    const delay = this.#backoff[position]!;
    this.#backoff[position] = Math.min(delay * 2, RECONNECT_MAX_MS);
    setTimeout(() => {
      if (this.#stopping || this.#conns[position]) return;
      this.#open(position).catch((err: Error) => {
        this.#d.logger.debug(`load: reconnect failed: ${err.message}`);
        this.#reconnectLater(position);
      });
    }, delay);
  }

  #health(): void {
    if (this.#alive < this.#d.connections / 2) this.#degradedSince ??= performance.now();
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
    this.#alarm?.arm(precise ? next : Math.max(next, now + COARSE_TICK_MS));
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
    if (this.#queue.length + this.#running >= this.#d.maxInFlight) {
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
      const row = this.#d.source.next();
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
        this.#d.flags,
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
      this.#errors.record(code, err.message, done - this.#d.t0);
      if (conn.kind === WRITE && conn.acks && (c.unknown || conn.committed > 0))
        this.#d.acks.unknown(conn.ackKey ?? "");
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
        if (conn.acks) this.#d.acks.ack(conn.ackKey ?? "");
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
    this.#d.logger.info(`load: ${this.#failure}`);
    this.#nextWrite = Infinity;
    this.#nextRead = Infinity;
  }

  /** The flags changed; only the writers' pause needs action, other flags are read per request. */
  onFlag(name: string, value: boolean, now: number): void {
    if (name !== WRITES_PAUSED_FLAG || !this.#m) return;
    this.#paused = value;
    if (!value) this.#pump(now);
  }

  // ------------------------------------------------------------------ stopping

  async #stop(): Promise<{ totals: SegmentTotals; at: number }> {
    this.#stopping = true;
    this.#alarm?.close();
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
    await this.#d.source.stop();
    return { totals: this.#totals(), at: now };
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
        if (conn.acks) this.#d.acks.unknown(conn.ackKey ?? "");
      }
      this.#m.complete(conn.kind === WRITE ? "write" : "read", conn.intended, conn.sent, now, "timeout", 0);
    }
  }

  /** What this segment counted, as plain data (it crosses threads). */
  #totals(): SegmentTotals {
    const src = this.#d.source;
    return {
      intended: this.#intended,
      writes_ok: this.#writesOk,
      reads_ok: this.#readsOk,
      errors: this.#errors.count,
      late: this.#late,
      dropped: this.#dropped,
      paused: this.#pausedCount,
      errors_by_sqlstate: { ...this.#errors.bySqlstate },
      error_samples: this.#errors.samples(),
      mix: {
        intended: [...this.#mix.intended],
        ok: [...this.#mix.ok],
        errors: [...this.#mix.errors],
        dropped: [...this.#mix.dropped],
      },
      source: { rows_read: src.rowsRead, wrapped: src.wrapped, starved: src.starved },
      connection_losses: [...this.#losses],
    };
  }

  /** begin() failed: release what it opened. */
  async abandon(): Promise<void> {
    this.#alarm?.close();
    await this.#closeAll();
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
export function plumbing(connect: () => Promise<pg.Client>, name: string, statementTimeoutMs: number) {
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

/** The load's flag poller (one per load, on the coordinating thread), on a connection of its own. */
export function flagBoard(
  ctx: { connect: () => Promise<pg.Client>; t0: number; logger: Logger },
  onChange: (name: string, value: boolean, now: number) => void,
): FlagBoard {
  return new FlagBoard(
    plumbing(ctx.connect, `${LOAD_APPLICATION_NAME}-flags`, 5_000),
    ctx.t0,
    ctx.logger,
    onChange,
  );
}

/** Why the coordinating thread's own parts make the run inconclusive: the ack ledger, the flag poller. */
export function coordinatorFailure(ackFile: string, ledger: AckLedger, flags: FlagBoard): string | undefined {
  const ledgerError = ledger.error;
  if (ledgerError) return `cannot write the ack ledger ${ackFile}: ${ledgerError.message}`;
  const flagsFailing = flags.failingSince;
  if (flagsFailing !== undefined && performance.now() - flagsFailing > DEGRADED_MS)
    return `the load could not read its flags (_rehearse.flags) for more than ${DEGRADED_MS / 1000} s`;
  return undefined;
}

/** The history reader's connection name (source batches). */
export const SOURCE_APPLICATION_NAME = `${LOAD_APPLICATION_NAME}-source`;

/** The line the load logs when it stops. */
export function stoppedLine(t: SegmentTotals): string {
  return (
    `load: stopped: ${t.writes_ok} writes, ${t.reads_ok} reads, ${t.errors} errors, ${t.dropped} dropped, ` +
    `${t.paused} paused, ${t.late} late of ${t.intended} intended` +
    (t.source.starved > 0 ? `; ${t.source.starved} rows replayed while source batches were late` : "")
  );
}
