/**
 * WAL generated per second: the cost a migration imposes on replicas, backups and archive storage (a table
 * rewrite writes the whole table to WAL again). The insert position (pg_current_wal_insert_lsn) is where WAL
 * is generated; pg_current_wal_lsn is where it has been written, which on the clone (synchronous_commit off)
 * trails by up to wal_writer_delay and would make the rate jumpy. Positions are made absolute byte counts
 * with pg_wal_lsn_diff against 0/0, so the delta is plain subtraction here.
 *
 * One point per `minGapMs` at least (default 500 ms): at a 100 ms sampling interval, per-sample rates are
 * mostly the noise of WAL flushing in blocks, and a long run would carry ten points a second.
 */
import type { Queryable } from "../db/sql.ts";
import type { Observations } from "../report/model.ts";
import { num, type Observer, sampleAlone } from "./observer.ts";

const SQL = `(SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text)`;

export interface WalOptions {
  minGapMs?: number;
}

export function walObserver(opts: WalOptions = {}): Observer {
  const minGap = opts.minGapMs ?? 500;
  const points: { t: number; bytes_per_s: number }[] = [];
  /** Start of the current bucket; `latest` is the newest position seen. */
  let from: { t: number; lsn: number } | undefined;
  let latest: { t: number; lsn: number } | undefined;

  const flush = () => {
    if (!from || !latest || latest.t <= from.t) return;
    const bytes = Math.max(0, latest.lsn - from.lsn);
    points.push({ t: Math.round(latest.t), bytes_per_s: Math.round((bytes * 1000) / (latest.t - from.t)) });
    from = latest;
  };

  const observer: Observer = {
    name: "wal",
    sql: SQL,
    ingest(value: unknown, nowMs: number) {
      // LSNs fit a double exactly up to 2^53 bytes (8 PiB of WAL): far beyond any clone.
      const lsn = num(value);
      latest = { t: nowMs, lsn };
      if (!from) from = latest;
      else if (nowMs - from.t >= minGap) flush();
    },
    sample(db: Queryable, nowMs: number) {
      return sampleAlone(observer, db, nowMs);
    },
    finish() {
      flush();
    },
    result(): Partial<Observations> {
      return { wal: [...points] };
    },
  };
  return observer;
}
