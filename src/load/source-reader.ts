/**
 * The load's source: the table's own history, read by keyset (`WHERE key < $last ORDER BY key DESC LIMIT n`
 * for reverse, ascending for forward), a batch at a time with the next batch prefetched, never whole. Rows are
 * kept as the server's text (no type parsing) because they go straight back to the server as parameters.
 *
 * "History" is the table as it was when the load started: everything up to its highest key then. The load's
 * own writes land above that bound, so reverse mode never replays them and forward mode never chases its own
 * tail; at the end a wrap starts over from that same bound.
 *
 * A migration may rename or replace the table mid-run (ledger becomes ledger_history under a new partitioned
 * ledger): each batch names the table afresh (an unnamed statement, parsed each time), and a batch that fails
 * (the table briefly missing, a lock timeout, a dropped connection) is retried shortly while the buffered
 * rows keep the load going. Should the buffer run dry anyway, the last batch is replayed rather than leave
 * arrivals without a row: the schedule, not the source, decides the load.
 *
 * A segment of a load split over threads (share.ts) reads only the rows whose key hashes to it (hashtext of
 * the key's text, so any key type): the segments replay disjoint parts of the history, newest first each.
 */
import type pg from "pg";
import { ident, qualified } from "../db/sql.ts";
import type { Load } from "../scenario/schema.ts";
import type { Logger } from "../util/logger.ts";
import { segmentOf, type Share, WHOLE } from "./share.ts";
import { rawQuery } from "./wire.ts";

export type SourceRow = (string | null)[];

/** Batches kept ready besides the one being consumed. */
const PREFETCH_BATCHES = 2;
const RETRY_MS = 100;

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceError";
  }
}

/** The end of history: the source's highest key now (text, as the server prints it). */
export async function historyBound(client: pg.Client, src: Load["source"]): Promise<string> {
  const key = ident(src.key);
  const top = await rawQuery(
    client,
    `SELECT ${key} FROM ${qualified(src.table)} WHERE ${key} IS NOT NULL ORDER BY ${key} DESC LIMIT 1`,
  );
  if (top.rows.length === 0)
    throw new SourceError(`the load's source table ${src.table} has no rows to replay`);
  return top.rows[0]![0]!;
}

export class SourceReader {
  /** Column name → index in a row: the key first, then the listed columns. */
  readonly columns = new Map<string, number>();
  /** Each row index's type OID, from the first batch. */
  types: number[] = [];
  rowsRead = 0;
  wrapped = 0;
  /** Arrivals served from a replayed batch because no fresh one was ready. */
  starved = 0;

  readonly #src: Load["source"];
  readonly #reverse: boolean;
  /** source.at_end, or stop once a wrapped pass found the table empty. */
  #atEnd: "wrap" | "stop";
  readonly #select: string;
  /** The segment's share of the keys, as a condition ("" for the whole history). */
  readonly #mine: string;
  readonly #share: Share;
  #client: pg.Client | undefined;
  /** Highest key when the load started: the end of history (text, compared by the server). */
  #bound: string | null = null;
  /** Key of the last row fetched; null: the next fetch starts a pass. */
  #cursor: string | null = null;
  #passDone = false;
  #exhausted = false;
  #fetching = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #current: SourceRow[] = [];
  #pos = 0;
  readonly #ready: SourceRow[][] = [];
  #lastError: string | undefined;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    source: Load["source"],
    mode: Load["mode"],
    private readonly logger: Logger,
    share: Share = WHOLE,
  ) {
    this.#src = source;
    this.#reverse = mode === "reverse";
    this.#atEnd = source.at_end;
    const names = [source.key, ...source.columns.filter((c) => c !== source.key)];
    names.forEach((n, i) => this.columns.set(n, i));
    this.#select = `SELECT ${names.map(ident).join(", ")} FROM ${qualified(source.table)}`;
    this.#share = share;
    this.#mine = share.of > 1 ? ` AND ${segmentOf(source.key, share.of)} = ${Math.trunc(share.index)}` : "";
  }

  /**
   * Reads the bound (unless given) and the first batch: errors here (no table, no rows) stop the load before it
   * starts. The segments of one load are given the bound the coordinator read before any of them wrote: read
   * by each, a segment starting later would count another's first writes as history and replay them.
   */
  async start(bound?: string): Promise<void> {
    const client = await this.#connection();
    this.#bound = bound ?? (await historyBound(client, this.#src));
    const first = await this.#query();
    if (first.rows.length === 0)
      throw new SourceError(
        this.#share.of > 1
          ? `segment ${this.#share.index + 1} of ${this.#share.of} of the load has no rows of ${this.#src.table} to replay (too few rows for load.workers: ${this.#share.of}; set fewer)`
          : `the load's source table ${this.#src.table} has no rows to replay`,
      );
    this.types = first.fields.map((f) => f.dataTypeID);
    this.#accept(first.rows);
    this.#current = this.#ready.shift()!;
    this.#maybeFetch();
  }

  /** True once at_end is stop and every row has been handed out. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** The next history row; undefined once exhausted (at_end: stop). */
  next(): SourceRow | undefined {
    if (this.#pos >= this.#current.length) {
      const batch = this.#ready.shift();
      if (batch) {
        this.#current = batch;
        this.#pos = 0;
      } else if (this.#passDone && !this.#fetching && this.#atEnd === "stop") {
        this.#exhausted = true;
        return undefined;
      } else {
        // Starved: the next batch is late (blocked or failing). Replay the current one.
        this.starved++;
        if (this.starved === 1)
          this.logger.info(
            `load: source batches are late (${this.#lastError ?? "waiting"}); replaying the last batch`,
          );
        this.#pos = 0;
        if (this.#current.length === 0) return undefined;
      }
      this.#maybeFetch();
    }
    return this.#current[this.#pos++];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => {});
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client && (this.#client as unknown as { _queryable: boolean })._queryable) return this.#client;
    this.#client?.end().catch(() => {});
    this.#client = undefined;
    const c = await this.connect();
    this.#client = c;
    return c;
  }

  #query() {
    const key = ident(this.#src.key);
    const dir = this.#reverse ? "DESC" : "ASC";
    const limit = ` ORDER BY ${key} ${dir} LIMIT ${this.#src.batch}`;
    const client = this.#client!;
    if (this.#cursor === null)
      return rawQuery(client, `${this.#select} WHERE ${key} <= $1${this.#mine}${limit}`, [this.#bound]);
    if (this.#reverse)
      return rawQuery(client, `${this.#select} WHERE ${key} < $1${this.#mine}${limit}`, [this.#cursor]);
    return rawQuery(client, `${this.#select} WHERE ${key} > $1 AND ${key} <= $2${this.#mine}${limit}`, [
      this.#cursor,
      this.#bound,
    ]);
  }

  #accept(rows: SourceRow[]): void {
    this.rowsRead += rows.length;
    if (rows.length > 0) {
      this.#ready.push(rows);
      this.#cursor = rows[rows.length - 1]![0]!;
    }
    // Fewer rows than asked for: this pass reached the end of history.
    if (rows.length < this.#src.batch) this.#passDone = true;
  }

  #maybeFetch(): void {
    if (this.#fetching || this.#stopped || this.#ready.length >= PREFETCH_BATCHES) return;
    if (this.#passDone) {
      if (this.#atEnd === "stop") return;
      this.#passDone = false;
      this.#cursor = null;
      this.wrapped++;
    }
    this.#fetching = true;
    void this.#fetch().then((ok) => {
      this.#fetching = false;
      // Keep filling up to the prefetch depth; after a failure the retry timer calls again.
      if (ok) this.#maybeFetch();
    });
  }

  /** One batch; false when it failed (a retry is scheduled) or the load stopped. */
  async #fetch(): Promise<boolean> {
    try {
      await this.#connection();
      const res = await this.#query();
      if (this.#stopped) return false;
      if (res.rows.length === 0 && this.#cursor === null) {
        // A wrapped pass found nothing: the history is gone (table emptied). Stop rather than spin.
        this.#passDone = true;
        this.#atEnd = "stop";
        this.logger.info(`load: the source table ${this.#src.table} is empty now; the history is exhausted`);
        return false;
      }
      this.#accept(res.rows);
      this.#lastError = undefined;
      return true;
    } catch (err) {
      if (this.#stopped) return false;
      this.#lastError = (err as Error).message;
      this.logger.debug(`load: source batch failed, retrying: ${this.#lastError}`);
      this.#retry = setTimeout(() => this.#maybeFetch(), RETRY_MS);
      return false;
    }
  }
}
