/**
 * Load flags: feature switches the migration flips (`dual_write`, the writers' pause `__writes_paused`), kept
 * where an application would keep them, in a table in the clone (`_rehearse.flags`), and read the way an
 * application would read them, by polling. Setting a flag is an upsert; it takes effect for the load when the
 * poller sees it, which is also when set() resolves, so a step that flips a flag finishes only once the load
 * acts on it. A migration's SQL may flip a flag itself (UPDATE _rehearse.flags …): the poller sees that too.
 *
 * The poller has its own connection and reads every ~20 ms (set() resolves within ~25 ms plus a query).
 */
import type pg from "pg";
import { ident } from "../db/sql.ts";
import type { Logger } from "../util/logger.ts";

export const FLAGS_SCHEMA = "_rehearse";
export const FLAGS_TABLE = "flags";
const TABLE = `${ident(FLAGS_SCHEMA)}.${ident(FLAGS_TABLE)}`;

const POLL_EVERY_MS = 20;
/** set() gives up when the poller has not seen the new values by then (its connection is gone). */
const SEEN_TIMEOUT_MS = 10_000;

export interface FlagRecord {
  name: string;
  value: boolean;
  /** ms since t0: when set() was called (or, for a change made in SQL, the row's changed_at). */
  set_ms: number;
  /** ms since t0: when the poller first saw the value. */
  seen_ms: number;
}

interface Waiter {
  want: Map<string, boolean>;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Creates the flags table if needed (quoted names; IF NOT EXISTS so a second load of the run reuses it). */
export async function ensureFlagsTable(db: pg.ClientBase): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${ident(FLAGS_SCHEMA)}`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (name text PRIMARY KEY, value boolean NOT NULL, changed_at timestamptz)`,
  );
}

export class FlagBoard {
  /** Values as the load last saw them. Read on the hot path, so a plain object lookup. */
  readonly values: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
  readonly records: FlagRecord[] = [];
  readonly #pendingSet = new Map<string, { value: boolean; at: number }>();
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #client: pg.Client | undefined;
  #polling: Promise<void> | undefined;
  #failingSince: number | undefined;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    private readonly t0: number,
    private readonly logger: Logger,
    /** Called when the poller sees a value change (not for the values found at start). */
    private readonly onChange: (name: string, value: boolean, now: number) => void,
  ) {}

  /** Opens the poller's connection, creates the table, and reads the current values. */
  async start(): Promise<void> {
    this.#client = await this.connect();
    await ensureFlagsTable(this.#client);
    await this.#poll(true);
    this.#schedule();
  }

  /** Since when the poller has been failing (performance.now()), if it is. */
  get failingSince(): number | undefined {
    return this.#failingSince;
  }

  /** Upserts the flags and resolves once the poller has seen all of them. */
  async set(flags: Record<string, boolean>, now = performance.now()): Promise<void> {
    const entries = Object.entries(flags);
    if (entries.length === 0) return;
    const at = Math.round((now - this.t0) * 1000) / 1000;
    for (const [name, value] of entries) {
      // Already in force: nothing for the poller to see; the load acts on it from now on.
      if (this.values[name] === value) this.records.push({ name, value, set_ms: at, seen_ms: at });
      else this.#pendingSet.set(name, { value, at: now });
    }
    const seen = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        want: new Map(entries),
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(
            new Error(
              `the load did not see the flags ${entries.map(([n]) => n).join(", ")} within ${SEEN_TIMEOUT_MS / 1000} s`,
            ),
          );
        }, SEEN_TIMEOUT_MS),
      };
      this.#waiters.push(waiter);
    });
    const params: (string | boolean)[] = [];
    const rows = entries.map(([name, value], i) => {
      params.push(name, value);
      return `($${2 * i + 1}::text, $${2 * i + 2}::boolean, clock_timestamp())`;
    });
    const client = this.#client ?? (await this.#reconnect());
    await client.query(
      `INSERT INTO ${TABLE} (name, value, changed_at) VALUES ${rows.join(", ")}
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, changed_at = EXCLUDED.changed_at`,
      params,
    );
    this.#checkWaiters();
    return seen;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling?.catch(() => {});
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error("the load stopped before it saw the flags"));
    }
    this.#waiters = [];
    await this.#client?.end().catch(() => {});
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll(false).finally(() => this.#schedule());
    }, POLL_EVERY_MS);
  }

  async #reconnect(): Promise<pg.Client> {
    this.#client?.end().catch(() => {});
    this.#client = undefined;
    const c = await this.connect();
    this.#client = c;
    return c;
  }

  async #poll(initial: boolean): Promise<void> {
    let rows: { name: string; value: boolean; changed_epoch: number | null }[];
    try {
      const client = this.#client ?? (await this.#reconnect());
      const res = await client.query<{ name: string; value: boolean; changed_epoch: number | null }>(
        `SELECT name, value, (extract(epoch FROM changed_at) * 1000)::float8 AS changed_epoch FROM ${TABLE}`,
      );
      rows = res.rows;
      this.#failingSince = undefined;
    } catch (err) {
      if (initial) throw err;
      this.#failingSince ??= performance.now();
      this.logger.debug(`load: flag poll failed: ${(err as Error).message}`);
      // A broken connection is replaced on the next poll; a query error (table dropped?) is retried.
      if (this.#client && !(this.#client as unknown as { _queryable: boolean })._queryable)
        this.#client = undefined;
      return;
    }
    const now = performance.now();
    for (const r of rows) {
      if (this.values[r.name] === r.value) continue;
      this.values[r.name] = r.value;
      if (initial) continue;
      const pending = this.#pendingSet.get(r.name);
      let setAt: number;
      if (pending && pending.value === r.value) {
        setAt = pending.at;
        this.#pendingSet.delete(r.name);
      } else {
        // Flipped in SQL: place changed_at on the performance clock through the wall clock.
        setAt = r.changed_epoch === null ? now : Math.min(now, now - (Date.now() - r.changed_epoch));
      }
      this.records.push({
        name: r.name,
        value: r.value,
        set_ms: Math.round((setAt - this.t0) * 1000) / 1000,
        seen_ms: Math.round((now - this.t0) * 1000) / 1000,
      });
      this.onChange(r.name, r.value, now);
    }
    this.#checkWaiters();
  }

  #checkWaiters(): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => {
      for (const [name, value] of w.want) if (this.values[name] !== value) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }
}
