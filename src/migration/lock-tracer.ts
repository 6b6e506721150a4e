/**
 * Lock tracing for the migration's own backend. Inside a transaction, after each statement, one query reads
 * the locks the backend holds, its per-relation scan counters (pg_stat_xact_user_tables) and relfilenodes;
 * the deltas say what the statement did while it held those locks. A full scan or a rewrite under ACCESS
 * EXCLUSIVE shows on a 100k-row clone, where it costs milliseconds, not only in production, where it costs hours.
 */
import type { Queryable } from "../db/sql.ts";
import { LOCK_MODES } from "../scenario/schema.ts";

export interface HeldLock {
  oid: number;
  relation: string;
  relkind: string | null;
  mode: string;
  /**
   * The table the relation belongs to, when it is not one itself: an index's table, a partition's (or a
   * partition's index's) partitioned root. What a reader groups locks by: what they protect.
   */
  table?: string;
}

export interface TraceSample {
  locks: HeldLock[];
  /** oid → counters. */
  stats: Map<number, { seq_scan: number; seq_tup_read: number; idx_tup_fetch: number; name: string }>;
  /** oid → relfilenode, for user tables, indexes and materialized views; an index also names its table. */
  filenodes: Map<number, { filenode: number; name: string; relkind?: string; table_oid?: number }>;
}

const USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'";

/**
 * Joined to pg_class c: `t.name`, the table a relation belongs to when it is not one itself — an index's
 * table, then the root of its partition tree (pg_partition_root: PostgreSQL 12+); null for a table.
 */
export const OWNER_JOIN = `LEFT JOIN pg_index i ON i.indexrelid = c.oid
     LEFT JOIN LATERAL (
       SELECT rn.nspname || '.' || rc.relname AS name
         FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE rc.oid = coalesce(pg_partition_root(coalesce(i.indrelid, c.oid)), i.indrelid)
          AND rc.oid <> c.oid) t ON c.oid IS NOT NULL`;

/** A sampled lock row as JSON gives it: `table` null for a table. */
export function heldLockOf(row: Omit<HeldLock, "table"> & { table?: string | null }): HeldLock {
  const { table, ...l } = row;
  return { ...l, oid: Number(l.oid), ...(table === null || table === undefined ? {} : { table }) };
}

// One round trip per statement keeps the tracer's own cost inside the measured lock hold small.
const TRACE_SQL = (statsView: string) => `
SELECT
  (SELECT coalesce(json_agg(json_build_object('oid', l.relation::bigint, 'mode', l.mode,
            'relation', coalesce(n.nspname || '.' || c.relname, 'oid:' || l.relation::text), 'relkind', c.relkind,
            'table', t.name)), '[]')
     FROM pg_locks l
     LEFT JOIN pg_class c ON c.oid = l.relation
     LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
     ${OWNER_JOIN}
    WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
      AND (c.oid IS NULL OR (${USER_NS}))) AS locks,
  (SELECT coalesce(json_agg(json_build_object('oid', s.relid::bigint, 'seq_scan', s.seq_scan,
            'seq_tup_read', s.seq_tup_read, 'idx_tup_fetch', coalesce(s.idx_tup_fetch, 0),
            'name', s.schemaname || '.' || s.relname)), '[]')
     FROM ${statsView} s) AS stats,
  (SELECT coalesce(json_agg(json_build_object('oid', c.oid::bigint, 'filenode', c.relfilenode,
            'name', n.nspname || '.' || c.relname, 'relkind', c.relkind, 'table_oid', i.indrelid::bigint)), '[]')
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_index i ON i.indexrelid = c.oid
    WHERE c.relkind IN ('r', 'i', 'm') AND ${USER_NS}) AS filenodes`;

/** Reads the backend's locks, scan counters and relfilenodes in one query. */
export async function sample(db: Queryable, inTransaction: boolean): Promise<TraceSample> {
  // Inside a transaction the xact view has this transaction's counts; outside, the flushed cumulative view.
  const view = inTransaction ? "pg_stat_xact_user_tables" : "pg_stat_user_tables";
  const res = await db.query(TRACE_SQL(view));
  const row = res.rows[0] as {
    locks: (Omit<HeldLock, "table"> & { table?: string | null })[];
    stats: { oid: number; seq_scan: number; seq_tup_read: number; idx_tup_fetch: number; name: string }[];
    filenodes: { oid: number; filenode: number; name: string; relkind: string; table_oid: number | null }[];
  };
  return {
    locks: row.locks.map(heldLockOf),
    stats: new Map(row.stats.map((s) => [Number(s.oid), s])),
    filenodes: new Map(
      row.filenodes.map((f) => [
        Number(f.oid),
        {
          filenode: Number(f.filenode),
          name: f.name,
          relkind: f.relkind,
          ...(f.table_oid === null ? {} : { table_oid: Number(f.table_oid) }),
        },
      ]),
    ),
  };
}

/** Only the backend's relation locks: cheap enough to poll every few ms from a second connection. */
export async function sampleLocksOf(db: Queryable, pid: number): Promise<HeldLock[]> {
  const res = await db.query(
    `SELECT l.relation::bigint AS oid, l.mode, n.nspname || '.' || c.relname AS relation, c.relkind
       FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = $1 AND l.locktype = 'relation' AND l.granted AND ${USER_NS}`,
    [pid],
  );
  return res.rows.map((r) => ({ ...r, oid: Number(r.oid) }));
}

export interface RelationEffect {
  oid: number;
  relation: string;
  seq_scans: number;
  seq_tup_read: number;
  idx_tup_fetch: number;
  rewritten: boolean;
  relkind?: string;
  /** An index: the table it belongs to. */
  table_oid?: number;
  /** An index created by the statement on a table that existed before it (CREATE INDEX, ADD UNIQUE…). */
  built?: boolean;
}

/**
 * What changed between two samples: relations scanned, relations given a new relfilenode, and indexes built
 * on a table that already existed (an index on a table created by the same statement was built on no rows).
 */
export function diffSamples(before: TraceSample, after: TraceSample): RelationEffect[] {
  const out = new Map<number, RelationEffect>();
  const get = (oid: number, name: string): RelationEffect => {
    let e = out.get(oid);
    if (!e) {
      e = { oid, relation: name, seq_scans: 0, seq_tup_read: 0, idx_tup_fetch: 0, rewritten: false };
      out.set(oid, e);
    }
    return e;
  };
  for (const [oid, s] of after.stats) {
    const b = before.stats.get(oid);
    const seq = Number(s.seq_scan) - Number(b?.seq_scan ?? 0);
    const tup = Number(s.seq_tup_read) - Number(b?.seq_tup_read ?? 0);
    const idx = Number(s.idx_tup_fetch) - Number(b?.idx_tup_fetch ?? 0);
    if (seq > 0 || tup > 0 || idx > 0) {
      const e = get(oid, s.name);
      e.seq_scans = Math.max(0, seq);
      e.seq_tup_read = Math.max(0, tup);
      e.idx_tup_fetch = Math.max(0, idx);
    }
  }
  for (const [oid, f] of after.filenodes) {
    const b = before.filenodes.get(oid);
    if (b && b.filenode !== f.filenode) get(oid, f.name).rewritten = true;
    else if (!b && f.relkind === "i" && f.table_oid !== undefined && before.filenodes.has(f.table_oid))
      get(oid, f.name).built = true;
  }
  for (const e of out.values()) {
    const f = after.filenodes.get(e.oid);
    if (f?.relkind) e.relkind = f.relkind;
    if (f?.table_oid !== undefined) e.table_oid = f.table_oid;
  }
  return [...out.values()];
}

const rank = (mode: string) => (LOCK_MODES as readonly string[]).indexOf(mode);

/** The strongest of the given lock modes (by PostgreSQL's conflict table order). */
export function strongest(modes: string[]): string | null {
  let best: string | null = null;
  for (const m of modes) if (best === null || rank(m) > rank(best)) best = m;
  return best;
}
