/**
 * Replication replay lag (pg_stat_replication.replay_lag), worst over the connected standbys: a migration
 * that writes WAL faster than a replica replays it shows up here as read-your-writes failures in
 * production. No standby, no rows, no points. replay_lag is NULL when a standby is caught up and nothing has
 * been written lately, which is a lag of 0, not "unknown".
 *
 * At most one point per `minGapMs` (default 500 ms), carrying the worst lag seen since the previous point.
 */
import type { Queryable } from "../db/sql.ts";
import type { Observations } from "../report/model.ts";
import { num, type Observer, sampleAlone } from "./observer.ts";

const SQL = `(SELECT json_agg(round((coalesce(extract(epoch FROM replay_lag), 0) * 1000)::numeric, 1))
               FROM pg_stat_replication)`;

export interface ReplicationOptions {
  minGapMs?: number;
}

export function replicationObserver(opts: ReplicationOptions = {}): Observer {
  const minGap = opts.minGapMs ?? 500;
  const points: { t: number; lag_ms: number }[] = [];
  let lastPoint = -Infinity;
  let pending: { t: number; lag_ms: number } | undefined;

  const observer: Observer = {
    name: "replication",
    sql: SQL,
    ingest(value: unknown, nowMs: number) {
      if (!Array.isArray(value) || value.length === 0) return;
      const lag = Math.max(...value.map(num));
      pending = { t: Math.round(nowMs), lag_ms: Math.max(pending?.lag_ms ?? 0, lag) };
      if (nowMs - lastPoint >= minGap) {
        points.push(pending);
        lastPoint = nowMs;
        pending = undefined;
      }
    },
    sample(db: Queryable, nowMs: number) {
      return sampleAlone(observer, db, nowMs);
    },
    finish() {
      if (pending) points.push(pending);
      pending = undefined;
    },
    result(): Partial<Observations> {
      return { replication_lag: [...points] };
    },
  };
  return observer;
}
