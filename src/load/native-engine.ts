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
import { WRITES_PAUSED_FLAG, type LoadContext, type LoadEngine, type RunningLoad } from "./engine.ts";
import { FlagBoard } from "./flags.ts";
import { Measurements, type Section } from "./measurements.ts";
import { SourceReader, type SourceRow } from "./source-reader.ts";
import { GENERATED_PARAMS, parseTemplate, resolveParams, TemplateError } from "./template.ts";
import { WireOp, type PreparedStatement } from "./wire.ts";

const WRITE = 0;
const READ = 1;
type KindCode = typeof WRITE | typeof READ;

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

// A statement parameter's source: ≥ 0 is a history row index, negative a generated value.
const GEN_UUID = -1;
const GEN_NOW = -2;
const GEN_RUN = -3;
const GEN_OP = -4;
const GEN_CODE: Record<(typeof GENERATED_PARAMS)[number], number> = {
  new_uuid: GEN_UUID,
  now: GEN_NOW,
  run_id: GEN_RUN,
  op: GEN_OP,
};

interface Compiled {
  prepared: PreparedStatement;
  when: string | undefined;
  unless: string | undefined;
  sources: Int32Array;
}

/** Compiles one template against the history columns; names each statement for PREPARE. */
function compile(sql: string, name: string, source: SourceReader, where: string): Compiled {
  try {
    const t = parseTemplate(sql);
    const params = resolveParams(t.names, source.columns);
    const sources = Int32Array.from(params, (p) => (p.kind === "column" ? p.index : GEN_CODE[p.name]));
    // History columns are bound with their own column's type, so `-:amount` resolves (an untyped parameter
    // would leave `-` ambiguous); generated values stay untyped and take the type their context needs.
    const types = Array.from(sources, (s) => (s >= 0 ? (source.types[s] ?? 0) : 0));
    return { prepared: { name, text: t.text, types }, when: undefined, unless: undefined, sources };
  } catch (err) {
    if (err instanceof TemplateError) throw new Error(`${where}: ${err.message}`);
    throw err;
  }
}

/** SQLSTATE (or "connection"/"timeout") and whether the write may have committed. */
function classify(err: Error): { code: string; unknown: boolean } {
  const e = err as Error & { code?: unknown; severity?: unknown };
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === "string") {
    // FATAL/PANIC end the session: the server may have committed before it died. Class 08 is the
    // connection itself; 57P0x is an administrator or crash shutdown.
    const unknown = e.severity !== "ERROR" || e.code.startsWith("08") || e.code.startsWith("57P");
    return { code: e.code, unknown };
  }
  return { code: "connection", unknown: true };
}

/** One connection and the request it is running; replaced by a fresh one when it dies. */
class Conn {
  readonly op: WireOp;
  alive = true;
  busy = false;
  /** Abandoned at stop: a late completion is ignored. */
  abandoned = false;
  kind: KindCode = WRITE;
  intended = 0;
  sent = 0;
  ackKey: string | null = null;
  /** Non-transactional writes: the next statement to run, how many, how many already committed. */
  next = 0;
  total = 0;
  committed = 0;
  /** Values arrays, one per write statement and one for the read, reused for every request. */
  readonly writeValues: (string | null)[][];
  readonly readValues: (string | null)[];

  constructor(
    readonly client: pg.Client,
    readonly position: number,
    writes: Compiled[],
    read: Compiled | undefined,
    onDone: (conn: Conn, err: Error | null) => void,
  ) {
    this.op = new WireOp((err) => onDone(this, err));
    this.writeValues = writes.map((w) => new Array<string | null>(w.sources.length).fill(null));
    this.readValues = new Array<string | null>(read?.sources.length ?? 0).fill(null);
  }
}

class NativeLoad implements RunningLoad {
  readonly #ctx: LoadContext;
  readonly #load: Load;
  readonly #source: SourceReader;
  readonly #flags: FlagBoard;
  readonly #ledger: AckLedger;
  readonly #writes: Compiled[];
  readonly #read: Compiled | undefined;
  readonly #transaction: boolean;
  readonly #ackSource: number;
  readonly #needUuid: boolean;
  readonly #needNow: boolean;
  readonly #needOp: boolean;

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

  // FIFO of arrived requests waiting for a connection: intended start and kind, in a ring.
  readonly #qAt: Float64Array;
  readonly #qKind: Uint8Array;
  #qHead = 0;
  #qLen = 0;
  #running = 0;
  #writesRunning = 0;
  #writesOutstanding = 0;
  #readsOutstanding = 0;

  #intended = 0;
  #writesOk = 0;
  #readsOk = 0;
  #errors = 0;
  #late = 0;
  #dropped = 0;
  #pausedCount = 0;
  readonly #errorsBy: Record<string, number> = {};
  /** The first message seen for each SQLSTATE: counts say how often, this says what. */
  readonly #errorSamples = new Map<string, { sqlstate: string; message: string; first_ms: number }>();
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
    const load = ctx.load;
    this.#writes = load.write.statements.map((st, i) => ({
      ...compile(st.sql, `rehearse_w${i}`, source, `load.write.statements[${i}].sql`),
      when: st.when,
      unless: st.unless,
    }));
    this.#read = load.read ? compile(load.read.sql, "rehearse_r", source, "load.read.sql") : undefined;
    this.#transaction = load.write.transaction;

    const used = new Set<number>();
    for (const c of [...this.#writes, ...(this.#read ? [this.#read] : [])])
      for (const s of c.sources) used.add(s);
    const ackKey = load.write.ack_key;
    const ackGen = (GENERATED_PARAMS as readonly string[]).includes(ackKey);
    const ackCol = source.columns.get(ackKey);
    if (!ackGen && ackCol === undefined)
      throw new Error(
        `load.write.ack_key: :${ackKey} is neither a history column (source.columns) nor a generated value (${GENERATED_PARAMS.join(", ")})`,
      );
    this.#ackSource = ackGen ? GEN_CODE[ackKey as (typeof GENERATED_PARAMS)[number]] : ackCol!;
    if (!this.#writes.some((w) => w.sources.includes(this.#ackSource)))
      ctx.logger.info(
        `load: no write statement uses :${ackKey} (write.ack_key), so the ack ledger's keys are not in the table`,
      );
    used.add(this.#ackSource);
    this.#needUuid = used.has(GEN_UUID);
    this.#needNow = used.has(GEN_NOW);
    this.#needOp = used.has(GEN_OP);

    this.#ledger = new AckLedger(ctx.ackFile);
    this.#conns = new Array<Conn | undefined>(load.connections).fill(undefined);
    this.#backoff = new Array<number>(load.connections).fill(RECONNECT_MIN_MS);
    this.#qAt = new Float64Array(load.max_in_flight);
    this.#qKind = new Uint8Array(load.max_in_flight);
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
    this.#m = new Measurements(this.#ctx.t0, this.#start, this.#read !== undefined);
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
    const conn = new Conn(client, position, this.#writes, this.#read, (c, err) => this.#complete(c, err));
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
    this.#m.inFlight(this.#qLen + this.#running, now);
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
    if (kind === WRITE && this.#paused) {
      this.#pausedCount++;
      return;
    }
    if (this.#qLen + this.#running >= this.#load.max_in_flight) {
      this.#dropped++;
      return;
    }
    const cap = this.#qAt.length;
    const tail = (this.#qHead + this.#qLen) % cap;
    this.#qAt[tail] = at;
    this.#qKind[tail] = kind;
    this.#qLen++;
    if (kind === WRITE) this.#writesOutstanding++;
    else this.#readsOutstanding++;
  }

  #dispatch(now: number): void {
    const dropAfter = this.#load.drop_after;
    const cap = this.#qAt.length;
    while (this.#qLen > 0 && this.#free.length > 0) {
      const at = this.#qAt[this.#qHead]!;
      const kind = this.#qKind[this.#qHead]! as KindCode;
      this.#qHead = (this.#qHead + 1) % cap;
      this.#qLen--;
      if (now - at > dropAfter || (kind === WRITE && this.#paused)) {
        if (kind === WRITE && this.#paused) this.#pausedCount++;
        else this.#dropped++;
        if (kind === WRITE) this.#writesOutstanding--;
        else this.#readsOutstanding--;
        continue;
      }
      const row = this.#source.next();
      if (row === undefined) {
        this.#exhausted();
        this.#dropped++;
        if (kind === WRITE) this.#writesOutstanding--;
        else this.#readsOutstanding--;
        continue;
      }
      this.#send(this.#free.pop()!, kind, at, now, row);
    }
  }

  #send(conn: Conn, kind: KindCode, at: number, now: number, row: SourceRow): void {
    conn.busy = true;
    conn.kind = kind;
    conn.intended = at;
    conn.sent = now;
    if (now - at > LATE_MS) this.#late++;
    const n = ++this.#opCounter;
    const uuid = this.#needUuid ? randomUUID() : "";
    const iso = this.#needNow ? new Date().toISOString() : "";
    const opStr = this.#needOp ? String(n) : "";
    const op = conn.op;
    if (kind === READ) {
      const read = this.#read!;
      this.#fill(conn.readValues, read.sources, row, uuid, iso, opStr);
      op.statements[0] = read.prepared;
      op.values[0] = conn.readValues;
      op.start = 0;
      op.count = 1;
    } else {
      let k = 0;
      const flags = this.#flags.values;
      for (let i = 0; i < this.#writes.length; i++) {
        const w = this.#writes[i]!;
        if (w.when !== undefined && flags[w.when] !== true) continue;
        if (w.unless !== undefined && flags[w.unless] === true) continue;
        const values = conn.writeValues[i]!;
        this.#fill(values, w.sources, row, uuid, iso, opStr);
        op.statements[k] = w.prepared;
        op.values[k] = values;
        k++;
      }
      const a = this.#ackSource;
      conn.ackKey = this.#value(a, row, uuid, iso, opStr);
      conn.committed = 0;
      op.start = 0;
      if (this.#transaction || k <= 1) {
        op.count = k;
        conn.next = conn.total = k;
      } else {
        op.count = 1;
        conn.next = 1;
        conn.total = k;
      }
      this.#writesRunning++;
    }
    this.#running++;
    op.run(conn.client);
  }

  #value(s: number, row: SourceRow, uuid: string, iso: string, opStr: string): string | null {
    return s >= 0
      ? row[s]!
      : s === GEN_UUID
        ? uuid
        : s === GEN_NOW
          ? iso
          : s === GEN_RUN
            ? this.#ctx.runId
            : opStr;
  }

  /** Binds one statement's values in place (the array is reused for every request on the connection). */
  #fill(
    values: (string | null)[],
    sources: Int32Array,
    row: SourceRow,
    uuid: string,
    iso: string,
    opStr: string,
  ) {
    for (let p = 0; p < sources.length; p++) values[p] = this.#value(sources[p]!, row, uuid, iso, opStr);
  }

  #complete(conn: Conn, err: Error | null): void {
    if (conn.abandoned || !conn.busy) return;
    // A non-transactional write runs its statements one round trip each; each commits alone.
    if (err === null && conn.kind === WRITE && conn.next < conn.total) {
      conn.committed++;
      conn.op.start = conn.next++;
      conn.op.count = 1;
      conn.op.run(conn.client);
      return;
    }
    const done = performance.now();
    conn.busy = false;
    this.#running--;
    let code: string | null = null;
    if (err !== null) {
      const c = classify(err);
      code = c.code;
      this.#errors++;
      this.#errorsBy[code] = (this.#errorsBy[code] ?? 0) + 1;
      if (!this.#errorSamples.has(code)) {
        this.#errorSamples.set(code, {
          sqlstate: code,
          message: err.message.slice(0, 300),
          first_ms: done - this.#ctx.t0,
        });
      }
      if (conn.kind === WRITE && (c.unknown || conn.committed > 0)) this.#ledger.unknown(conn.ackKey ?? "");
      // FATAL: the server is closing this session; do not hand it another request meanwhile.
      const severity = (err as { severity?: unknown }).severity;
      if (severity === "FATAL" || severity === "PANIC") this.#died(conn);
    }
    if (conn.kind === WRITE) {
      this.#writesRunning--;
      this.#writesOutstanding--;
      if (err === null) {
        this.#writesOk++;
        this.#ledger.ack(conn.ackKey ?? "");
      }
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
    this.#dropped += this.#qLen;
    this.#qLen = 0;
    this.#writesOutstanding = this.#writesRunning;
    this.#readsOutstanding = this.#running - this.#writesRunning;
    if (this.#running > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_WAIT_MS);
        this.#drainWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    const now = performance.now();
    for (const conn of this.#conns) {
      if (!conn?.busy) continue;
      // Still running after the deadline: abandoned, and a write's outcome is unknown.
      conn.abandoned = true;
      conn.busy = false;
      this.#running--;
      this.#errors++;
      this.#errorsBy.timeout = (this.#errorsBy.timeout ?? 0) + 1;
      if (conn.kind === WRITE) {
        this.#writesRunning--;
        this.#ledger.unknown(conn.ackKey ?? "");
      }
      this.#m.complete(conn.kind === WRITE ? "write" : "read", conn.intended, conn.sent, now, "timeout", 0);
    }
    for (const w of this.#idleWaiters) w();
    this.#idleWaiters = [];
    await this.#closeAll();
    await Promise.all([this.#source.stop(), this.#flags.stop(), this.#ledger.close()]);
    const parts = this.#m.finish(now);
    const report: LoadReport = {
      engine: "native",
      mode: this.#load.mode,
      rate: describeRate(this.#load.rate),
      connections: this.#load.connections,
      totals: {
        intended: this.#intended,
        writes_ok: this.#writesOk,
        reads_ok: this.#readsOk,
        errors: this.#errors,
        late: this.#late,
        dropped: this.#dropped,
        paused: this.#pausedCount,
        errors_by_sqlstate: { ...this.#errorsBy },
      },
      error_samples: [...this.#errorSamples.values()],
      windows: parts.windows,
      series: parts.series,
      unavailability: parts.unavailability,
      ack: {
        acknowledged: this.#ledger.acknowledged,
        indeterminate: this.#ledger.indeterminate,
        file: this.#ctx.ackFile,
      },
      source: { rows_read: this.#source.rowsRead, wrapped: this.#source.wrapped },
      flags: this.#flags.records,
      ...(this.#losses.length > 0 ? { connection_losses: [...this.#losses] } : {}),
    };
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
