/**
 * Live and dead tuples per user table (pg_stat_user_tables), and whether autovacuum is working on it. A
 * backfill that UPDATEs every row leaves every old version dead until vacuum catches up; the dead-tuple
 * budget reads these samples. The counters are cumulative statistics that backends flush at most about once
 * a second, so they trail the writes by up to ~1 s.
 *
 * Bounded: a table's sample is recorded only when its numbers changed, at most once per `minGapMs` (changes
 * in between are coalesced into the next recorded sample), except that autovacuum starting or stopping is
 * recorded at once. Idle tables cost nothing after their first sample; `finish` records each table's last
 * state so every series ends at the final values.
 */
import type { Queryable } from "../db/sql.ts";
import type { Observations, TableSample } from "../report/model.ts";
import { num, type Observer, sampleAlone } from "./observer.ts";

// Autovacuum work shows in the progress views (vacuum, and analyze) under a worker whose backend_type says
// it is autovacuum's; a manual VACUUM from a session shows there too but is not "autovacuum running".
const SQL = `(
WITH av AS MATERIALIZED (
  SELECT p.relid FROM pg_stat_progress_vacuum p JOIN pg_stat_activity a ON a.pid = p.pid
   WHERE a.backend_type = 'autovacuum worker'
  UNION
  SELECT p.relid FROM pg_stat_progress_analyze p JOIN pg_stat_activity a ON a.pid = p.pid
   WHERE a.backend_type = 'autovacuum worker')
SELECT coalesce(json_agg(json_build_array(s.schemaname || '.' || s.relname, s.n_live_tup, s.n_dead_tup,
                                          s.relid IN (SELECT relid FROM av))), '[]'::json)
  FROM pg_stat_user_tables s
 -- The harness's own tables (flags) are not the scenario's.
 WHERE s.schemaname NOT LIKE '\\_rehearse%'
)`;

export interface TableStatsOptions {
  /** Least time between two recorded samples of one table (autovacuum transitions excepted). */
  minGapMs?: number;
}

interface State {
  /** Last recorded sample. */
  recorded: TableSample;
  /** Latest value seen, when it differs from `recorded` and is waiting for minGapMs to pass. */
  pending?: TableSample;
  /** When the table was last in a sample: a dropped or renamed table gets no closing sample. */
  seen: number;
}

export function tableStatsObserver(opts: TableStatsOptions = {}): Observer {
  const minGap = opts.minGapMs ?? 500;
  const tables = new Map<string, State>();
  const samples: TableSample[] = [];
  let lastIngest = -1;

  const record = (st: State | undefined, s: TableSample): State => {
    samples.push(s);
    if (st) {
      st.recorded = s;
      st.pending = undefined;
      return st;
    }
    return { recorded: s, seen: s.t };
  };

  const observer: Observer = {
    name: "table-stats",
    sql: SQL,
    ingest(value: unknown, nowMs: number) {
      const rows = (Array.isArray(value) ? value : []) as [string, unknown, unknown, boolean][];
      const t = Math.round(nowMs);
      lastIngest = t;
      for (const [table, live, dead, av] of rows) {
        const s: TableSample = {
          t,
          table,
          live: num(live),
          dead: num(dead),
          autovacuum_running: av === true,
        };
        const st = tables.get(table);
        if (st) st.seen = t;
        if (!st) {
          tables.set(table, record(undefined, s));
          continue;
        }
        const r = st.recorded;
        const same = r.live === s.live && r.dead === s.dead && r.autovacuum_running === s.autovacuum_running;
        if (same) {
          st.pending = undefined;
          continue;
        }
        if (r.autovacuum_running !== s.autovacuum_running || t - r.t >= minGap) record(st, s);
        else st.pending = s;
      }
      // A change held back by minGap is recorded once the gap has passed, even if nothing changed since.
      for (const st of tables.values()) {
        if (st.pending && t - st.recorded.t >= minGap) record(st, { ...st.pending, t });
      }
    },
    sample(db: Queryable, nowMs: number) {
      return sampleAlone(observer, db, nowMs);
    },
    finish(nowMs: number) {
      const t = Math.round(nowMs);
      for (const st of tables.values()) {
        // A table gone from the last sample (dropped, renamed) ends where it was last seen, not at `t`.
        const at = st.seen === lastIngest ? t : st.seen;
        const last = st.pending ?? st.recorded;
        if (st.pending || st.recorded.t < at) record(st, { ...last, t: at });
      }
    },
    result(): Partial<Observations> {
      return { tables: [...samples].sort((a, b) => a.t - b.t || a.table.localeCompare(b.table)) };
    },
  };
  return observer;
}
