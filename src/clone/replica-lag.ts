/**
 * Replica lag as the primary sees it (pg_stat_replication), for the backfill's replica-lag throttle
 * (ReplicaLagSource in src/migration/throttle.ts).
 *
 * replay_lag is a time: how long ago the primary flushed the WAL the standby has just replayed. It is NULL
 * once the standby has caught up and nothing new was written (a lag of 0), and it only moves when the
 * standby replies — so it can read small while the standby is far behind in bytes (a burst just written, a
 * standby that stopped replying). The byte distance from the primary's current WAL position to the replay
 * position is therefore read alongside it and returned as `lag_bytes`.
 */
import type { Queryable } from "../db/sql.ts";
import { literal } from "../db/sql.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { REPLICA_APPLICATION_NAME } from "./standby.ts";

export interface ReplicaLagReading {
  /** Replay lag in ms (0 when the standby has caught up). */
  lag_ms: number;
  /** Bytes of WAL written on the primary that the standby has not replayed yet. */
  lag_bytes: number;
  /** When the reading was taken, in ms on the clock's scale (Clock.now().getTime(): epoch ms by default). */
  sampled_at_ms: number;
}

export interface ReplicaLagReaderOptions {
  /** Which standby (pg_stat_replication.application_name); default: rehearse's replica. Null: the worst of any. */
  applicationName?: string | null;
  clock?: Clock;
}

/** Reads the replica's lag on the primary; undefined when no standby is connected. */
export class ReplicaLagReader {
  readonly #db: Queryable;
  readonly #sql: string;
  readonly #clock: Clock;

  /** `db`: a connection to the primary (any database), used for one small query per read. */
  constructor(db: Queryable, opts: ReplicaLagReaderOptions = {}) {
    this.#db = db;
    this.#clock = opts.clock ?? systemClock;
    const name = opts.applicationName === undefined ? REPLICA_APPLICATION_NAME : opts.applicationName;
    this.#sql = `SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0)::float8 AS lag_ms,
                        coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS lag_bytes
                   FROM pg_stat_replication
                  WHERE state IN ('streaming', 'catchup')${name === null ? "" : ` AND application_name = ${literal(name)}`}
                  ORDER BY replay_lag DESC NULLS LAST, lag_bytes DESC
                  LIMIT 1`;
  }

  async read(): Promise<ReplicaLagReading | undefined> {
    const res = await this.#db.query<{ lag_ms: number; lag_bytes: number }>(this.#sql);
    const sampled_at_ms = this.#clock.now().getTime();
    const row = res.rows[0];
    if (!row) return undefined;
    return { lag_ms: row.lag_ms, lag_bytes: Math.max(0, row.lag_bytes), sampled_at_ms };
  }
}
