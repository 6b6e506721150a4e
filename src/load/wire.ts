/**
 * Lean queries on pg's own connection, for the load's hot path. pg's Client accepts any object with a
 * `submit(connection)` method (a "submittable", what pg-cursor and pg-copy-streams are) and routes the
 * server's replies to its handle* methods. Ours skip what a load generator does not need and pg's Query
 * always does: no Describe round of row metadata, no row parsing, no result objects, no promise per request.
 * One `WireOp` per connection is reused for every operation it runs, so a write allocates little beyond the
 * protocol messages themselves.
 *
 * A write's statements go out in one packet (Parse only the first time on a connection, then Bind/Execute
 * each, one Sync): statements before a Sync form one implicit transaction in the extended protocol, so a
 * multi-statement write is atomic in a single round trip, without BEGIN/COMMIT.
 */
import type pg from "pg";

/** The parts of pg's (untyped) Connection that the submittables use. */
interface PgConnection {
  parse(q: { name: string; text: string; types: number[] }): void;
  bind(c: { statement: string; values: readonly (string | null)[] }): void;
  describe(m: { type: "P" | "S"; name: string }): void;
  execute(c: { portal: string; rows: number }): void;
  close(m: { type: "P" | "S"; name: string }): void;
  sync(): void;
  stream: { cork?: () => void; uncork?: () => void };
}

/** A statement prepared (by name) on each connection the first time that connection runs it. */
export interface PreparedStatement {
  name: string;
  text: string;
  /** Parameter type OIDs; 0 lets the server infer the type from the statement. */
  types: number[];
}

const EXECUTE_ALL = { portal: "", rows: 0 };

/** Methods pg calls on a submittable that the load ignores (rows, copy, portals). */
abstract class Submittable {
  callback?: undefined;
  handleRowDescription(_msg: unknown): void {}
  handleDataRow(_msg: unknown): void {}
  handleCommandComplete(_msg: unknown, _con: unknown): void {}
  handleEmptyQuery(_con: unknown): void {}
  handlePortalSuspended(_con: unknown): void {}
  handleCopyInResponse(con: { sendCopyFail(msg: string): void }): void {
    con.sendCopyFail("rehearse: COPY is not supported in load statements");
  }
  handleCopyData(_msg: unknown, _con: unknown): void {}
  abstract submit(con: PgConnection): Error | null;
  abstract handleError(err: Error, con: unknown): void;
  abstract handleReadyForQuery(con: unknown): void;
}

/**
 * One connection's reusable operation: set `count` statements with their values, then `run(client)`;
 * `onDone` is called exactly once per run, with the error if any.
 */
export class WireOp extends Submittable {
  readonly statements: PreparedStatement[] = [];
  readonly values: (string | null)[][] = [];
  /** Runs statements[start .. start + count) (and their values) in one round trip. */
  start = 0;
  count = 0;
  /** Statement names this connection has prepared. */
  readonly #prepared = new Set<string>();
  /** Parses sent in the current run: confirmed when it succeeds, uncertain when it fails. */
  readonly #parsing: string[] = [];
  /** Names whose Parse outcome is unknown (an error ended the run): closed before being parsed again. */
  readonly #uncertain = new Set<string>();
  #running = false;

  constructor(readonly onDone: (err: Error | null) => void) {
    super();
  }

  run(client: pg.Client): void {
    this.#running = true;
    // pg's typings only know its own query configs; a submittable is the documented extension point.
    (client as unknown as { query(s: Submittable): void }).query(this);
  }

  override submit(con: PgConnection): null {
    const stream = con.stream;
    stream.cork?.();
    try {
      for (let i = this.start, end = this.start + this.count; i < end; i++) {
        const st = this.statements[i]!;
        if (!this.#prepared.has(st.name)) {
          if (this.#uncertain.delete(st.name)) con.close({ type: "S", name: st.name });
          con.parse(st);
          this.#parsing.push(st.name);
        }
        con.bind({ statement: st.name, values: this.values[i]! });
        con.execute(EXECUTE_ALL);
      }
      con.sync();
    } finally {
      stream.uncork?.();
    }
    return null;
  }

  override handleReadyForQuery(): void {
    for (const name of this.#parsing) this.#prepared.add(name);
    this.#parsing.length = 0;
    this.#finish(null);
  }

  override handleError(err: Error): void {
    for (const name of this.#parsing) this.#uncertain.add(name);
    this.#parsing.length = 0;
    this.#finish(err);
  }

  #finish(err: Error | null): void {
    // pg reports a connection loss to the active query and to queued ones; count each run once.
    if (!this.#running) return;
    this.#running = false;
    this.onDone(err);
  }
}

export interface RawResult {
  fields: { name: string; dataTypeID: number }[];
  /** Each column as the server's text, untouched (no type parsing), or null. */
  rows: (string | null)[][];
}

/** An unnamed statement (parsed afresh each time, so names are resolved each time), rows as raw text. */
class RawQuery extends Submittable {
  #fields: RawResult["fields"] = [];
  readonly #rows: (string | null)[][] = [];
  #error: Error | null = null;

  constructor(
    readonly text: string,
    readonly params: readonly (string | null)[],
    readonly done: (err: Error | null, res?: RawResult) => void,
  ) {
    super();
  }

  override submit(con: PgConnection): null {
    con.stream.cork?.();
    try {
      con.parse({ name: "", text: this.text, types: [] });
      con.bind({ statement: "", values: this.params });
      con.describe({ type: "P", name: "" });
      con.execute(EXECUTE_ALL);
      con.sync();
    } finally {
      con.stream.uncork?.();
    }
    return null;
  }

  override handleRowDescription(msg: { fields: { name: string; dataTypeID: number }[] }): void {
    this.#fields = msg.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
  }

  override handleDataRow(msg: { fields: (string | null)[] }): void {
    this.#rows.push(msg.fields);
  }

  override handleError(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.done(err);
  }

  override handleReadyForQuery(): void {
    if (this.#error) return;
    this.done(null, { fields: this.#fields, rows: this.#rows });
  }
}

/** Runs one query with text parameters and returns its rows as raw text. */
export function rawQuery(
  client: pg.Client,
  text: string,
  params: readonly (string | null)[] = [],
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const q = new RawQuery(text, params, (err, res) => (err ? reject(err) : resolve(res!)));
    (client as unknown as { query(s: Submittable): void }).query(q);
  });
}
