/**
 * Wait versus hold. While one migration statement runs, a second connection polls the migration backend's
 * relation locks: the granted ones, the one it is waiting for (pg_locks.granted = false; waitstart, PG 14+,
 * gives when the wait began), who it waits for (pg_blocking_pids, named from pg_stat_activity) and the load
 * requests queued behind it meanwhile (load backends whose blocking pids include the migration's). Without
 * this, a statement that waited 3.8 s behind a reporting query and then held its lock for 2 ms reads as a
 * 3.8 s hold, and the fix text blames the migration instead of the session it waited for.
 */
import type { Queryable } from "../db/sql.ts";
import type { LockBlocker } from "../report/model.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import { redact } from "../util/redact.ts";
import { type HeldLock, heldLockOf, OWNER_JOIN } from "./lock-tracer.ts";

/** Background sessions connect with application_name `rehearse background <name>`. */
export const BACKGROUND_APPLICATION_PREFIX = "rehearse background ";

const USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'";

// One round trip per poll. waitstart is read through to_jsonb so the query also runs before PG 14 (null
// there: the first sample that sees the wait stands in for its start). The queue part runs only while the
// migration waits; pg_blocking_pids() is called for waiting load backends only.
const WATCH_SQL = `
WITH mine AS MATERIALIZED (
  SELECT l.relation, l.mode, l.granted, (to_jsonb(l) ->> 'waitstart')::timestamptz AS waitstart
    FROM pg_locks l WHERE l.pid = $1 AND l.locktype = 'relation')
SELECT
  (SELECT coalesce(json_agg(json_build_object('oid', m.relation::bigint, 'mode', m.mode,
            'relation', n.nspname || '.' || c.relname, 'relkind', c.relkind, 'table', t.name)), '[]')
     FROM mine m JOIN pg_class c ON c.oid = m.relation JOIN pg_namespace n ON n.oid = c.relnamespace
     ${OWNER_JOIN}
    WHERE m.granted AND ${USER_NS}) AS held,
  (SELECT coalesce(json_agg(json_build_object('oid', m.relation::bigint, 'mode', m.mode,
            'relation', coalesce(n.nspname || '.' || c.relname, 'oid:' || m.relation::text), 'relkind', c.relkind,
            'waited_ms', CASE WHEN m.waitstart IS NULL THEN NULL
                              ELSE extract(epoch FROM clock_timestamp() - m.waitstart) * 1000 END)), '[]')
     FROM mine m LEFT JOIN pg_class c ON c.oid = m.relation LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT m.granted) AS waiting,
  (SELECT coalesce(json_agg(json_build_object('pid', a.pid, 'app', a.application_name, 'state', a.state,
            'query', left(a.query, 400), 'backend_type', a.backend_type)), '[]')
     FROM pg_stat_activity a
    WHERE EXISTS (SELECT 1 FROM mine WHERE NOT granted) AND a.pid = ANY (pg_blocking_pids($1))) AS blockers,
  (SELECT coalesce(json_agg(json_build_object('pid', w.pid, 'since', w.since,
            'waited_ms', extract(epoch FROM clock_timestamp() - w.since) * 1000)), '[]')
     FROM (SELECT DISTINCT l.pid, coalesce((to_jsonb(l) ->> 'waitstart')::timestamptz, a.query_start) AS since
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND a.application_name = $2 AND l.pid <> $1
              AND EXISTS (SELECT 1 FROM mine WHERE NOT granted)
              AND $1 = ANY (pg_blocking_pids(l.pid))) w) AS queued`;

// The cheap poll: the backend's wait event, read from its status entry without touching the lock manager.
// pg_locks takes every lock-manager partition lock, which slows the very DDL being watched; it is read only
// while the backend waits for a lock, or every `heldEveryMs` for the locks it holds.
const WAITING_SQL = `SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_get_activity($1)), false) AS waiting`;

interface WaitingRow extends HeldLock {
  waited_ms: number | null;
}
interface BlockerRow {
  pid: number;
  app: string | null;
  state: string | null;
  query: string | null;
  backend_type: string | null;
}
interface QueuedRow {
  pid: number;
  since: string | null;
  waited_ms: number | null;
}

/** Names a blocker the way a person looks for it: the background session, the load, or what it runs. */
export function nameBlocker(b: BlockerRow): LockBlocker {
  const app = b.app ?? "";
  const state = b.state ?? undefined;
  if (app.startsWith(BACKGROUND_APPLICATION_PREFIX)) {
    return {
      pid: Number(b.pid),
      name: `background session ${app.slice(BACKGROUND_APPLICATION_PREFIX.length)}`,
      kind: "background",
      state,
    };
  }
  if (app === LOAD_APPLICATION_NAME) return { pid: Number(b.pid), name: "load", kind: "load", state };
  const flat = redact((b.query ?? "").replace(/\s+/g, " ").trim());
  const text = flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
  // An idle transaction's query is its last one, long finished: say so, or the text reads as the culprit.
  const what =
    text === ""
      ? (b.backend_type ?? "another session")
      : state?.startsWith("idle in transaction")
        ? `${state} after: ${text}`
        : text;
  return { pid: Number(b.pid), name: `pid ${b.pid}: ${what}`, kind: "query", state };
}

/** One lock wait as the watch saw it; times are the runner's (ms since run start). */
export interface WatchedWait {
  lock: HeldLock;
  started_ms: number;
  ended_ms: number;
  /** Still waiting when the statement ended. */
  open: boolean;
  blockers: LockBlocker[];
  queued_load_requests: number;
  queued_load_max_ms: number;
}

/** What the watch saw while one statement ran. */
export interface StatementWatch {
  waits: WatchedWait[];
  /** Locks seen granted while the statement ran, with when first seen and whether a wait was open then. */
  held: Map<string, { lock: HeldLock; seen_ms: number; during_wait: boolean }>;
  /**
   * When the statement acquired a lock first seen after it ended (or during it): after its last wait ended
   * when that lock was not already held during the wait, else at the statement's start.
   */
  acquiredAt(key: string, statementStart: number): number;
}

interface OpenWait {
  lock: HeldLock;
  started_ms: number;
  last_seen_ms: number;
  ended_ms?: number;
  blockers: Map<number, LockBlocker>;
  queued: Map<string, number>;
}

export const lockKey = (l: { oid: number; mode: string }) => `${l.oid}/${l.mode}`;

/**
 * Polls every `intervalMs` until stopped: the backend's wait event each time, and pg_locks while it waits for a
 * lock or every `heldEveryMs` (0: every poll) for the locks it holds. `onHeld` gets the granted locks of each
 * full sample (the live view); a failing poll ends the watch quietly: the statement's result does not depend on it.
 */
export function watchStatement(
  monitor: Queryable,
  pid: number,
  now: () => number,
  onHeld?: (held: HeldLock[]) => void,
  { intervalMs = 25, heldEveryMs = 100 }: { intervalMs?: number; heldEveryMs?: number } = {},
): { stop(endMs: number, failed: boolean): Promise<StatementWatch> } {
  const waits = new Map<string, OpenWait>();
  const done: OpenWait[] = [];
  const held: StatementWatch["held"] = new Map();
  let running = true;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  // The first full sample comes after heldEveryMs, as the old 100 ms progress poll did: a short statement never pays for one.
  let lastFull = now();

  const ingest = (row: {
    /** Absent from a cheap poll that only saw the backend was not waiting. */
    held?: (Omit<HeldLock, "table"> & { table?: string | null })[];
    waiting: WaitingRow[];
    blockers: BlockerRow[];
    queued: QueuedRow[];
  }) => {
    const at = now();
    const waitingNow = new Set<string>();
    for (const w of row.waiting) {
      const lock: HeldLock = { oid: Number(w.oid), mode: w.mode, relation: w.relation, relkind: w.relkind };
      const key = lockKey(lock);
      waitingNow.add(key);
      let o = waits.get(key);
      if (!o) {
        const since = w.waited_ms === null ? 0 : Number(w.waited_ms);
        o = {
          lock,
          started_ms: Math.max(0, at - since),
          last_seen_ms: at,
          blockers: new Map(),
          queued: new Map(),
        };
        waits.set(key, o);
      }
      o.last_seen_ms = at;
      for (const b of row.blockers) o.blockers.set(Number(b.pid), nameBlocker(b));
      const waitedSoFar = at - o.started_ms;
      for (const q of row.queued) {
        // Queued behind the migration only since the migration itself began to wait.
        const queuedMs = Math.min(Number(q.waited_ms ?? 0), waitedSoFar);
        const k = `${q.pid}/${q.since ?? ""}`;
        o.queued.set(k, Math.max(o.queued.get(k) ?? 0, queuedMs));
      }
    }
    for (const [key, o] of waits) {
      if (waitingNow.has(key)) continue;
      // Granted somewhere between the last sample that saw it waiting and this one.
      o.ended_ms = (o.last_seen_ms + at) / 2;
      done.push(o);
      waits.delete(key);
    }
    if (!row.held) return;
    for (const l of row.held) {
      const lock = heldLockOf(l);
      const key = lockKey(lock);
      if (!held.has(key)) held.set(key, { lock, seen_ms: at, during_wait: waitingNow.size > 0 });
    }
    onHeld?.(row.held.map(heldLockOf));
  };

  const poll = async () => {
    if (now() - lastFull < heldEveryMs) {
      const cheap = await monitor.query(WAITING_SQL, [pid]);
      if (!running) return;
      if (!(cheap.rows[0] as { waiting: boolean }).waiting) {
        if (waits.size > 0) ingest({ waiting: [], blockers: [], queued: [] });
        return;
      }
    }
    const res = await monitor.query(WATCH_SQL, [pid, LOAD_APPLICATION_NAME]);
    lastFull = now();
    if (running) ingest(res.rows[0] as Parameters<typeof ingest>[0]);
  };

  const tick = () => {
    inFlight = poll()
      .catch(() => {
        running = false;
      })
      .finally(() => {
        inFlight = undefined;
        if (running) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);

  return {
    async stop(endMs: number, failed: boolean) {
      running = false;
      clearTimeout(timer);
      // An in-flight poll is not awaited (its result is dropped): the next statement, and the COMMIT that ends
      // the hold, must not wait for the watch. A wait worth reporting was seen by the polls before it.
      void inFlight;
      const all: WatchedWait[] = [];
      for (const o of [...done, ...waits.values()]) {
        const open = o.ended_ms === undefined;
        all.push({
          lock: o.lock,
          started_ms: o.started_ms,
          // Still waiting at the last sample: a failed statement waited until it gave up; a successful one was
          // granted between that sample and its end.
          ended_ms: o.ended_ms ?? (failed ? endMs : (o.last_seen_ms + endMs) / 2),
          open,
          blockers: [...o.blockers.values()],
          queued_load_requests: o.queued.size,
          queued_load_max_ms: Math.round(Math.max(0, ...o.queued.values())),
        });
      }
      const lastWaitEnd = Math.max(-Infinity, ...all.map((w) => w.ended_ms));
      return {
        waits: all,
        held,
        acquiredAt(key, statementStart) {
          const waited = all.find((w) => lockKey(w.lock) === key);
          if (waited) return Math.max(statementStart, waited.ended_ms);
          // Locks are taken one after another: one already held while a wait was open (or before it ended)
          // was taken before that wait; the others after the last wait.
          const h = held.get(key);
          if (all.length === 0 || h?.during_wait || (h && h.seen_ms < lastWaitEnd)) return statementStart;
          return Math.max(statementStart, lastWaitEnd);
        },
      };
    },
  };
}
