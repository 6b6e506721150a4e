/**
 * Lock waits: every backend waiting for a lock, who blocks it (pg_blocking_pids: holders of a conflicting
 * lock AND conflicting requests queued ahead of it — the lock queue is how a migration's pending ACCESS
 * EXCLUSIVE stalls plain SELECTs), and the waits grouped into episodes keyed by (blocker, lock object, the
 * blocker's mode). An episode lasts from the first sample that sees it to the first that no longer does, so
 * waits shorter than the sampling interval can be missed; the ones that hurt a load are not that short.
 */
import type { Queryable } from "../db/sql.ts";
import type { BlockingEpisode, Observations } from "../report/model.ts";
import { num, type Observer, sampleAlone } from "./observer.ts";

/** The load engine's connections carry this application_name; the budget counts only them. */
export const LOAD_APPLICATION_NAME = "rehearse-load";

/** One (waiter, blocker) pair as the sample query returns it. */
export interface WaitRow {
  /** The waiting client backend: a parallel worker reports its leader's pid (one request, not three). */
  pid: number;
  app: string | null;
  blocker: number;
  locktype: string;
  /** Lock object identity, comparable between samples (oid, xid, …). */
  obj: string;
  /** "schema.table" for relation-bound locks (and row-lock waits, via the waiter's tuple lock), else null. */
  relname: string | null;
  /** The waiter's requested mode, and the strongest mode the blocker holds or requests on the same object. */
  mode: string;
  blocker_mode: string | null;
  /** How long the waiter has waited, ms (pg_locks.waitstart, else query_start). */
  wait_ms: number;
}

const MODES = `ARRAY['AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock',
  'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']`;

// pg_locks is read once (MATERIALIZED) and reused for the waiters, the blockers' modes and the row-lock
// relations: every read of it takes the lock manager's partition locks, which is the cost that matters.
// pg_blocking_pids() runs only for waiters, so an idle database pays for one pg_locks scan and nothing else.
const SQL = `(
WITH l AS MATERIALIZED (
  SELECT locktype, database, relation, page, tuple, virtualxid, transactionid::text AS xid,
         classid, objid, objsubid, pid, mode, granted, waitstart
    FROM pg_locks WHERE pid IS NOT NULL),
w AS MATERIALIZED (
  SELECT l.*, pg_blocking_pids(l.pid) AS blockers,
         coalesce(l.relation, (SELECT t.relation FROM l t
                                WHERE t.pid = l.pid AND t.locktype = 'tuple' AND t.granted LIMIT 1)) AS rel
    FROM l WHERE NOT l.granted AND l.pid <> pg_backend_pid())
SELECT coalesce(json_agg(json_build_object(
         'pid', coalesce(a.leader_pid, w.pid),
         'app', a.application_name,
         'blocker', b.pid,
         'locktype', w.locktype,
         'obj', concat_ws('/', w.database, w.relation, w.page, w.tuple, w.virtualxid, w.xid, w.classid, w.objid, w.objsubid),
         'relname', CASE WHEN w.rel IS NULL THEN NULL
                         WHEN c.oid IS NULL THEN 'oid:' || w.rel::text
                         ELSE n.nspname || '.' || c.relname END,
         'mode', w.mode,
         'blocker_mode', bm.mode,
         'wait_ms', round((extract(epoch FROM clock_timestamp() - coalesce(w.waitstart, a.query_start, clock_timestamp())) * 1000)::numeric, 1)
       )), '[]'::json)
  FROM w
  CROSS JOIN LATERAL unnest(w.blockers) AS b(pid)
  LEFT JOIN pg_stat_activity a ON a.pid = w.pid
  LEFT JOIN pg_class c ON c.oid = w.rel
       AND coalesce(w.database, 0) IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL (
    SELECT bl.mode FROM l bl
     WHERE bl.pid = b.pid AND bl.locktype = w.locktype
       AND bl.database IS NOT DISTINCT FROM w.database AND bl.relation IS NOT DISTINCT FROM w.relation
       AND bl.page IS NOT DISTINCT FROM w.page AND bl.tuple IS NOT DISTINCT FROM w.tuple
       AND bl.virtualxid IS NOT DISTINCT FROM w.virtualxid AND bl.xid IS NOT DISTINCT FROM w.xid
       AND bl.classid IS NOT DISTINCT FROM w.classid AND bl.objid IS NOT DISTINCT FROM w.objid
       AND bl.objsubid IS NOT DISTINCT FROM w.objsubid
     ORDER BY array_position(${MODES}, bl.mode::text) DESC NULLS LAST LIMIT 1) bm ON true
)`;

export interface LockWaitsOptions {
  /** The migration's backend pid (a function when it may change, e.g. after a reconnect). */
  migrationPid?: number | (() => number | undefined);
  /** The phase/step running now, stamped on an episode when it is first seen. */
  current?: () => { phase: string | null; step: string | null };
}

interface Open {
  episode: BlockingEpisode;
  loadPids: Set<number>;
}

/** The lock-wait observer. */
export function lockWaitsObserver(
  opts: LockWaitsOptions = {},
): Observer & { readonly open: number; readonly blockedNow: number } {
  const open = new Map<string, Open>();
  /** Load requests waiting on a lock in the latest sample, for the live progress view. */
  let blockedNow = 0;
  const closed: BlockingEpisode[] = [];
  const migrationPid = () =>
    typeof opts.migrationPid === "function" ? opts.migrationPid() : opts.migrationPid;

  const close = (key: string, at: number) => {
    const o = open.get(key)!;
    o.episode.ended_ms = Math.max(o.episode.started_ms, at);
    o.episode.load_waiters = o.loadPids.size;
    closed.push(o.episode);
    open.delete(key);
  };

  const observer = {
    name: "lock-waits",
    sql: SQL,
    get open() {
      return open.size;
    },
    get blockedNow() {
      return blockedNow;
    },
    ingest(value: unknown, nowMs: number) {
      const rows = (Array.isArray(value) ? value : []) as WaitRow[];
      blockedNow = new Set(rows.filter((r) => r.app === LOAD_APPLICATION_NAME).map((r) => r.pid)).size;
      const groups = new Map<string, WaitRow[]>();
      for (const r of rows) {
        // The blocker's own mode names the lock that hurts ("AccessExclusiveLock on ledger"); a waiter's mode
        // only says what it wanted. Non-relation locks say what they are: "ExclusiveLock (transactionid)".
        const base = r.blocker_mode ?? r.mode;
        const mode = r.locktype === "relation" ? base : `${base} (${r.locktype})`;
        const key = `${r.blocker}|${r.locktype}|${r.obj}|${mode}`;
        const g = groups.get(key);
        if (g) g.push({ ...r, mode });
        else groups.set(key, [{ ...r, mode }]);
      }
      for (const key of [...open.keys()]) if (!groups.has(key)) close(key, nowMs);
      for (const [key, waits] of groups) {
        const pids = new Set(waits.map((w) => num(w.pid)));
        const longest = Math.max(...waits.map((w) => num(w.wait_ms)));
        let o = open.get(key);
        if (!o) {
          const first = waits[0]!;
          const cur = opts.current?.() ?? { phase: null, step: null };
          o = {
            loadPids: new Set(),
            episode: {
              blocker_pid: num(first.blocker),
              blocker_is_migration: migrationPid() !== undefined && num(first.blocker) === migrationPid(),
              relation: first.relname,
              mode: first.mode,
              // The longest waiter has been waiting since before this sample saw it.
              started_ms: Math.max(0, Math.round(nowMs - longest)),
              ended_ms: nowMs,
              max_waiters: 0,
              load_waiters: 0,
              max_load_waiters: 0,
              longest_wait_ms: 0,
              phase: cur.phase,
              step: cur.step,
            },
          };
          open.set(key, o);
        }
        const e = o.episode;
        e.max_waiters = Math.max(e.max_waiters, pids.size);
        e.longest_wait_ms = Math.max(e.longest_wait_ms, Math.round(longest));
        e.ended_ms = nowMs;
        // Distinct backends, not rows: pg_blocking_pids() may list one blocker more than once (parallel
        // workers report their leader's pid), so one waiting request can come back as several rows.
        const loadNow = new Set<number>();
        for (const w of waits) {
          if (w.app !== LOAD_APPLICATION_NAME) continue;
          o.loadPids.add(num(w.pid));
          loadNow.add(num(w.pid));
        }
        e.load_waiters = o.loadPids.size;
        e.max_load_waiters = Math.max(e.max_load_waiters ?? 0, loadNow.size);
      }
    },
    sample(db: Queryable, nowMs: number) {
      return sampleAlone(observer, db, nowMs);
    },
    finish(nowMs: number) {
      for (const key of [...open.keys()]) close(key, nowMs);
    },
    result(): Partial<Observations> {
      return { blocking: [...closed].sort((a, b) => a.started_ms - b.started_ms) };
    },
  };
  return observer;
}
