/**
 * One load connection and the request it is running: its reusable WireOp and the values arrays bound into
 * it, so a request costs no allocation, and the state a non-transactional write needs between its round
 * trips. The engine replaces a connection that dies with a fresh one.
 */
import type pg from "pg";
import { WRITE, type KindCode } from "./request-queue.ts";
import type { SourceRow } from "./source-reader.ts";
import { bindValue, bindValues, type Compiled, type CompiledOp, type Generated } from "./statements.ts";
import { WireOp } from "./wire.ts";

export class Conn {
  readonly op: WireOp;
  alive = true;
  busy = false;
  /** Abandoned at stop: a late completion is ignored. */
  abandoned = false;
  kind: KindCode = WRITE;
  /** The write's operation (index into the mix). */
  mixOp = 0;
  intended = 0;
  sent = 0;
  ackKey: string | null = null;
  /** The write goes to the ack ledger (its operation carries the ack key). */
  acks = true;
  /** Non-transactional writes: the next statement to run, how many, how many already committed. */
  next = 0;
  total = 0;
  committed = 0;
  /** Values arrays, one per statement of each operation and one for the read, reused for every request. */
  readonly writeValues: (string | null)[][][];
  readonly readValues: (string | null)[];

  constructor(
    readonly client: pg.Client,
    readonly position: number,
    ops: CompiledOp[],
    read: Compiled | undefined,
    onDone: (conn: Conn, err: Error | null) => void,
  ) {
    this.op = new WireOp((err) => onDone(this, err));
    this.writeValues = ops.map((o) =>
      o.writes.map((w) => new Array<string | null>(w.sources.length).fill(null)),
    );
    this.readValues = new Array<string | null>(read?.sources.length ?? 0).fill(null);
  }

  /** Takes a request: what it is and when it was meant to start and was sent (for its latency). */
  assign(kind: KindCode, op: number, intended: number, sent: number): void {
    this.busy = true;
    this.kind = kind;
    this.mixOp = op;
    this.intended = intended;
    this.sent = sent;
  }

  /** Binds a read: one statement, one round trip. */
  bindRead(read: Compiled, row: SourceRow, g: Generated): void {
    const op = this.op;
    bindValues(this.readValues, read.sources, row, g);
    op.statements[0] = read.prepared;
    op.values[0] = this.readValues;
    op.start = 0;
    op.count = 1;
  }

  /**
   * Binds a write of operation `this.mixOp`: the statements the flags enable (`when` set, `unless` not), and its
   * ack key. In one transaction they go in one round trip; otherwise one at a time, each committing alone
   * (`continueWrite`).
   */
  bindWrite(
    writes: Compiled[],
    flags: Readonly<Record<string, boolean>>,
    transaction: boolean,
    ackSource: number | null,
    row: SourceRow,
    g: Generated,
  ): void {
    const op = this.op;
    let k = 0;
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      if (w.when !== undefined && flags[w.when] !== true) continue;
      if (w.unless !== undefined && flags[w.unless] === true) continue;
      const values = this.writeValues[this.mixOp]![i]!;
      bindValues(values, w.sources, row, g);
      op.statements[k] = w.prepared;
      op.values[k] = values;
      k++;
    }
    this.acks = ackSource !== null;
    this.ackKey = ackSource === null ? null : bindValue(ackSource, row, g);
    this.committed = 0;
    op.start = 0;
    if (transaction || k <= 1) {
      op.count = k;
      this.next = this.total = k;
    } else {
      op.count = 1;
      this.next = 1;
      this.total = k;
    }
  }

  run(): void {
    this.op.run(this.client);
  }

  /** A statement of a non-transactional write succeeded: sends the next one; false when it was the last. */
  continueWrite(): boolean {
    if (this.kind !== WRITE || this.next >= this.total) return false;
    this.committed++;
    this.op.start = this.next++;
    this.op.count = 1;
    this.op.run(this.client);
    return true;
  }
}
