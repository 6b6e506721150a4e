/**
 * A segment's measurements and acknowledgements, carried to the coordinator and merged there in time order,
 * so a load split over threads is measured by one Measurements, exactly as if one thread had run it: the
 * same windows, per-second series, HDR histograms, unavailability and step detail, with no approximation at
 * the merge (histograms of separate segments cannot be merged into a gap that no segment saw alone).
 *
 * The recorder (segment side) encodes each MeasureSink call as eight numbers in a Float64Array, with times
 * already on the coordinator's clock, and posts the buffer (transferred, not copied) every FLUSH_MS or when
 * it fills, together with the keys acknowledged meanwhile and a watermark: no later event of that segment
 * carries an earlier stamp. The merger applies the events of all segments (and the coordinator's own marks
 * and pauses) in stamp order up to the lowest watermark, summing each segment's latest in-flight and
 * outstanding counts where Measurements wants the load's.
 *
 * The messages are plain data: a segment could send them over a socket from another machine instead.
 */
import type { Kind, Measurements } from "./measurements.ts";
import type { AckSink, MeasureSink } from "./segment-core.ts";

/** How often a segment posts what it recorded (also the merge's lag behind real time). */
export const FLUSH_MS = 10;
const FIELDS = 8;
const CAPACITY = 2048;

const DEMAND = 0;
const DROPPED = 1;
const COMPLETE = 2;
const IN_FLIGHT = 3;

export interface EventBatch {
  type: "events";
  buf: Float64Array;
  n: number;
  /** Error codes first seen in this batch, appended to the segment's table in order. */
  strings: string[];
  acked: string[];
  unknown: string[];
  /** On the coordinator's clock; Infinity in a segment's last batch. */
  watermark: number;
}

const kindCode = (k: Kind) => (k === "write" ? 0 : 1);

export class EventRecorder implements MeasureSink, AckSink {
  #buf = new Float64Array(CAPACITY * FIELDS);
  #n = 0;
  #last = -Infinity;
  readonly #codes = new Map<string, number>();
  #strings: string[] = [];
  #acked: string[] = [];
  #unknown: string[] = [];

  /**
   * offset: this thread's clock plus offset is the coordinator's; post sends a batch (the buffer is the
   * recorder's no more once posted); clock: this thread's performance.now() (a test gives its own).
   */
  constructor(
    private readonly offset: number,
    private readonly post: (batch: EventBatch) => void,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  demand(kind: Kind, intended: number): void {
    this.#push(DEMAND, this.clock(), kindCode(kind), intended, 0, -1, 0);
  }

  dropped(kind: Kind, intended: number, now: number, outstanding: number): void {
    this.#push(DROPPED, now, kindCode(kind), intended, 0, -1, outstanding);
  }

  complete(
    kind: Kind,
    intended: number,
    sent: number,
    done: number,
    error: string | null,
    outstanding: number,
  ): void {
    this.#push(
      COMPLETE,
      done,
      kindCode(kind),
      intended,
      sent,
      error === null ? -1 : this.#code(error),
      outstanding,
    );
  }

  inFlight(n: number, now: number): void {
    this.#push(IN_FLIGHT, now, 0, n, 0, -1, 0);
  }

  ack(key: string): void {
    this.#acked.push(key);
  }

  unknown(key: string): void {
    this.#unknown.push(key);
  }

  /** Posts what was recorded since the last flush, with the watermark (now, or Infinity when `last`). */
  flush(last = false): void {
    const now = this.clock() + this.offset;
    const watermark = last ? Infinity : Math.max(now, this.#last);
    this.#last = watermark;
    const batch: EventBatch = {
      type: "events",
      buf: this.#buf,
      n: this.#n,
      strings: this.#strings,
      acked: this.#acked,
      unknown: this.#unknown,
      watermark,
    };
    this.#buf = new Float64Array(CAPACITY * FIELDS);
    this.#n = 0;
    this.#strings = [];
    this.#acked = [];
    this.#unknown = [];
    this.post(batch);
  }

  #code(error: string): number {
    let c = this.#codes.get(error);
    if (c === undefined) {
      c = this.#codes.size;
      this.#codes.set(error, c);
      this.#strings.push(error);
    }
    return c;
  }

  #push(type: number, t: number, kind: number, a: number, b: number, err: number, count: number): void {
    // Stamps never go back, not even past a flush's watermark taken in the middle of a pump: they only order
    // events; the times Measurements uses are the arguments, unchanged.
    const stamp = Math.max(t + this.offset, this.#last);
    this.#last = stamp;
    const off = this.#n * FIELDS;
    const buf = this.#buf;
    buf[off] = type;
    buf[off + 1] = stamp;
    buf[off + 2] = kind;
    buf[off + 3] = type === IN_FLIGHT ? a : a + this.offset;
    buf[off + 4] = type === COMPLETE ? b + this.offset : b;
    buf[off + 5] = err;
    buf[off + 6] = count;
    buf[off + 7] = t + this.offset;
    if (++this.#n === CAPACITY) this.flush();
  }
}

interface SegmentQueue {
  batches: EventBatch[];
  /** Next event of batches[0]. */
  pos: number;
  strings: string[];
  watermark: number;
  outstanding: [number, number];
  inFlight: number;
}

/** An event of the coordinator's own (a mark, a pause), applied in order with the segments'. */
interface LocalEvent {
  stamp: number;
  apply: (m: Measurements) => void;
}

export class EventMerger {
  readonly #segments: SegmentQueue[];
  readonly #local: LocalEvent[] = [];
  #localPos = 0;

  constructor(
    segments: number,
    private readonly m: Measurements,
    private readonly acks: AckSink,
  ) {
    this.#segments = Array.from({ length: segments }, () => ({
      batches: [],
      pos: 0,
      strings: [],
      watermark: -Infinity,
      outstanding: [0, 0],
      inFlight: 0,
    }));
  }

  /** A segment's batch arrived: its keys go to the ledger now, its events once every segment caught up. */
  push(segment: number, batch: EventBatch): void {
    const q = this.#segments[segment]!;
    for (const k of batch.acked) this.acks.ack(k);
    for (const k of batch.unknown) this.acks.unknown(k);
    q.strings.push(...batch.strings);
    if (batch.n > 0) q.batches.push(batch);
    q.watermark = batch.watermark;
    this.drain();
  }

  /** The coordinator's own event at `stamp` (its performance.now()). */
  local(stamp: number, apply: (m: Measurements) => void): void {
    this.#local.push({ stamp, apply });
    this.drain();
  }

  /** A segment that will send nothing more (stopped, or dead): it no longer holds the merge back. */
  close(segment: number): void {
    this.#segments[segment]!.watermark = Infinity;
    this.drain();
  }

  /** Applies every event no segment can still precede, oldest first. */
  drain(): void {
    const segs = this.#segments;
    let low = Infinity;
    for (const q of segs) if (q.watermark < low) low = q.watermark;
    for (;;) {
      let best = -1;
      let bestStamp = Infinity;
      for (let i = 0; i < segs.length; i++) {
        const q = segs[i]!;
        const b = q.batches[0];
        if (!b) continue;
        const stamp = b.buf[q.pos * FIELDS + 1]!;
        if (stamp < bestStamp) {
          bestStamp = stamp;
          best = i;
        }
      }
      const local = this.#local[this.#localPos];
      if (local && local.stamp <= bestStamp && local.stamp <= low) {
        this.#localPos++;
        local.apply(this.m);
        continue;
      }
      if (best < 0 || bestStamp > low) break;
      this.#apply(segs[best]!);
    }
    if (this.#localPos > 256) {
      this.#local.splice(0, this.#localPos);
      this.#localPos = 0;
    }
  }

  #apply(q: SegmentQueue): void {
    const b = q.batches[0]!;
    const off = q.pos * FIELDS;
    const buf = b.buf;
    const type = buf[off];
    const at = buf[off + 7]!;
    const kindIndex = buf[off + 2]!;
    const kind: Kind = kindIndex === 0 ? "write" : "read";
    if (++q.pos === b.n) {
      q.batches.shift();
      q.pos = 0;
    }
    const m = this.m;
    if (type === DEMAND) m.demand(kind, buf[off + 3]!);
    else if (type === IN_FLIGHT) {
      q.inFlight = buf[off + 3]!;
      let sum = 0;
      for (const s of this.#segments) sum += s.inFlight;
      m.inFlight(sum, at);
    } else {
      q.outstanding[kindIndex] = buf[off + 6]!;
      let outstanding = 0;
      for (const s of this.#segments) outstanding += s.outstanding[kindIndex]!;
      if (type === DROPPED) m.dropped(kind, buf[off + 3]!, at, outstanding);
      else {
        const err = buf[off + 5]!;
        m.complete(kind, buf[off + 3]!, buf[off + 4]!, at, err < 0 ? null : q.strings[err]!, outstanding);
      }
    }
  }
}
