/** Backfill connections are labelled and timed out alike; coordinator queries outlive a lost connection. */
import pg from "pg";
import type { Clock } from "../../util/clock.ts";
import { isConnectionLoss } from "./errors.ts";

/** Retrying a lost connection: `attempts` reconnections, waiting `backoffMs` doubling to `maxBackoffMs`. */
export interface Reconnect {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RECONNECT: Reconnect = { attempts: 8, backoffMs: 100, maxBackoffMs: 2000 };

/** The wait before reconnection attempt `attempt` (1-based). */
export function backoff(retry: Reconnect, attempt: number): number {
  return Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** (attempt - 1));
}

/** Opens one connection to the clone, named `rehearse backfill <label>`. */
export type Connect = (label: string) => Promise<pg.Client>;

export function connector(config: pg.ClientConfig, statementTimeout: number | undefined): Connect {
  return async (label) => {
    const c = new pg.Client({ ...config, application_name: `rehearse backfill ${label}` });
    // A backend terminated while idle surfaces as an 'error' event; the next query then fails, and that
    // failure is what the worker handles.
    c.on("error", () => {});
    await c.connect();
    if (statementTimeout !== undefined)
      await c.query(`SET statement_timeout = ${Math.round(statementTimeout)}`);
    return c;
  };
}

/** The backend's pid (pg keeps it from the connection's BackendKeyData; its types do not declare it). */
export function backendPid(c: pg.Client): number {
  return (c as unknown as { processID: number }).processID;
}

/** Runs a query; the coordinator's `query` and a worker's client both fit. */
export interface Queries {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

/**
 * The one connection that plans the step, reads its totals and fires faults. `query` reconnects on a lost
 * connection; `client` is the connection of the moment, for the planning queries that run once, unretried.
 */
export class Coordinator implements Queries {
  #client: pg.Client;

  private constructor(
    client: pg.Client,
    private readonly connect: Connect,
    private readonly clock: Clock,
    private readonly retry: Reconnect,
  ) {
    this.#client = client;
  }

  /** Rejects when the clone cannot be reached at all. */
  static async open(connect: Connect, clock: Clock, retry: Reconnect): Promise<Coordinator> {
    return new Coordinator(await connect("coordinator"), connect, clock, retry);
  }

  get client(): pg.Client {
    return this.#client;
  }

  async query(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#client.query(sql, params);
      } catch (err) {
        if (!isConnectionLoss(err) || attempt > this.retry.attempts) throw err;
        await this.#client.end().catch(() => {});
        await this.clock.sleep(backoff(this.retry, attempt));
        this.#client = await this.connect("coordinator");
      }
    }
  }

  async end(): Promise<void> {
    await this.#client.end().catch(() => {});
  }
}
