/**
 * One segment of the load in a worker thread: its share of the arrivals, the write mix and the history
 * (share.ts), its own connections, a SegmentCore measuring into an EventRecorder. It obeys the coordinator
 * (segmented-load.ts) by messages: flag values, "tell me when your writes are idle", stop. Everything it
 * sends is plain data (SegmentMessage), so the same loop could run in a process on another machine.
 */
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import type { Load } from "../scenario/schema.ts";
import type { Logger } from "../util/logger.ts";
import type { ArrivalProcess } from "./arrivals.ts";
import { plumbing, SegmentCore, SOURCE_APPLICATION_NAME } from "./segment-core.ts";
import { EventRecorder, FLUSH_MS, type EventBatch } from "./segment-events.ts";
import type { SegmentTotals } from "./segment-totals.ts";
import type { Share } from "./share.ts";
import { SourceReader } from "./source-reader.ts";

/** What the coordinator gives a segment to start with (workerData). */
export interface SegmentInit {
  share: Share;
  connection: pg.ClientConfig;
  load: Load;
  runId: string;
  seed: number;
  arrivals: ArrivalProcess;
  connections: number;
  maxInFlight: number;
  /** The coordinator's performance.timeOrigin and its t0 (performance.now() there). */
  origin: number;
  t0: number;
  flags: Record<string, boolean>;
  /** The end of history, read once for all segments before any wrote (source-reader.ts). */
  bound: string;
}

/** Coordinator → segment. */
export type CoordinatorMessage =
  { type: "flag"; name: string; value: boolean } | { type: "writes-idle"; id: number } | { type: "stop" };

/** Segment → coordinator. Times are on the coordinator's clock. */
export type SegmentMessage =
  | { type: "started"; start: number; operations: { name: string; weight: number }[] }
  | { type: "start-failed"; message: string }
  | EventBatch
  | { type: "idle"; id: number }
  | { type: "log"; level: "info" | "debug"; line: string }
  | { type: "failure"; message: string }
  | { type: "stopped"; totals: SegmentTotals; at: number };

const port = parentPort!;
const init = workerData as SegmentInit;
const send = (m: SegmentMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
// This thread's clock plus offset is the coordinator's.
const offset = performance.timeOrigin - init.origin;

const logger: Logger = {
  info: (line) => send({ type: "log", level: "info", line }),
  progress: () => {},
  debug: (line) => send({ type: "log", level: "debug", line }),
};
const connect = async () => {
  const c = new pg.Client(init.connection);
  await c.connect();
  return c;
};

const recorder = new EventRecorder(offset, (b) => send(b, [b.buf.buffer as ArrayBuffer]));
const flags: Record<string, boolean> = Object.assign(Object.create(null) as object, init.flags);
const source = new SourceReader(
  plumbing(connect, SOURCE_APPLICATION_NAME, 30_000),
  init.load.source,
  init.load.mode,
  logger,
  init.share,
);

/** Opens the share of the history, then the connections; the core, once it runs. */
async function begin(): Promise<SegmentCore> {
  await source.start(init.bound);
  // After the first batch: the statements are compiled against the history's column types.
  const core = new SegmentCore({
    connect,
    load: init.load,
    runId: init.runId,
    seed: init.seed,
    logger,
    source,
    flags,
    acks: recorder,
    measure: () => recorder,
    arrivals: init.arrivals,
    share: init.share,
    connections: init.connections,
    maxInFlight: init.maxInFlight,
    t0: init.t0 - offset,
  });
  try {
    const start = await core.begin();
    send({
      type: "started",
      start: start + offset,
      operations: core.operations.map((o) => ({ name: o.name, weight: o.weight })),
    });
    return core;
  } catch (err) {
    await core.abandon();
    throw err;
  }
}

/** Posts events every FLUSH_MS and a failure once; obeys the coordinator; stops when told. */
function serve(core: SegmentCore): void {
  const flushTimer = setInterval(() => recorder.flush(), FLUSH_MS);
  let told = false;
  const failureTimer = setInterval(() => {
    const f = core.failure();
    if (f && !told) {
      told = true;
      send({ type: "failure", message: f });
    }
  }, 100);
  port.on("message", (m: CoordinatorMessage) => {
    if (m.type === "flag") {
      flags[m.name] = m.value;
      core.onFlag(m.name, m.value, performance.now());
    } else if (m.type === "writes-idle") {
      void core.writesIdle().then(() => send({ type: "idle", id: m.id }));
    } else
      void (async () => {
        clearInterval(failureTimer);
        const { totals, at } = await core.stop();
        clearInterval(flushTimer);
        recorder.flush(true);
        send({ type: "stopped", totals, at: at + offset });
        port.close();
      })();
  });
}

try {
  serve(await begin());
} catch (err) {
  await source.stop();
  send({ type: "start-failed", message: (err as Error).message });
  port.close();
}
