/**
 * What the background sessions held and got in the way of, sampled from the harness's own connection every
 * 100 ms: their relation locks (pg_locks) and the backends waiting behind them (pg_blocking_pids, called only
 * for backends that wait on a lock, so an uncontended clone pays one cheap pg_locks read per sample).
 */
import type { Queryable } from "../db/sql.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import type { BackgroundRun } from "../report/model.ts";

const HELD_SQL = `SELECT l.pid, l.mode, n.nspname || '.' || c.relname AS rel
  FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.locktype = 'relation' AND l.granted AND l.pid = ANY ($1::int[])
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relkind IN ('r', 'p', 'm')`;

const WAITERS_SQL = `SELECT a.pid, coalesce(a.application_name, '') AS app, b.blocker,
       round((extract(epoch FROM clock_timestamp() - coalesce(a.state_change, a.query_start, clock_timestamp())) * 1000)::numeric)::int AS wait_ms
  FROM pg_stat_activity a CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS b(blocker)
 WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
   AND (b.blocker = ANY ($1::int[]) OR a.pid = ANY ($1::int[]))`;

interface Tally {
  load: Set<number>;
  others: Set<string>;
}

/** Accumulates the samples into each run's `held`, `blocked` and `waited_ms`. */
export class BackgroundSampler {
  #tallies = new Map<BackgroundRun, Tally>();

  constructor(
    private readonly db: Queryable,
    private readonly migrationPid: () => number | undefined,
  ) {}

  /** One sample over the runs still going; a failed sample is skipped (the next one will see the same). */
  async sample(runs: BackgroundRun[]): Promise<void> {
    const live = runs.filter((r) => r.ended === undefined && r.pid !== undefined);
    if (live.length === 0) return;
    const pids = live.map((r) => r.pid!);
    const byPid = new Map(live.map((r) => [r.pid!, r]));
    try {
      const held = await this.db.query<{ pid: number; mode: string; rel: string }>(HELD_SQL, [pids]);
      for (const h of held.rows) {
        const run = byPid.get(h.pid)!;
        const lock = `${h.mode} on ${h.rel}`;
        if (!run.held.includes(lock)) run.held.push(lock);
      }
      const waits = await this.db.query<{ pid: number; app: string; blocker: number; wait_ms: number }>(
        WAITERS_SQL,
        [pids],
      );
      this.tallyWaits(byPid, waits.rows);
    } catch {
      // A sample lost to a restart or a terminated backend: the sessions' facts stay as last seen.
    }
  }

  private tallyWaits(
    byPid: Map<number, BackgroundRun>,
    rows: { pid: number; app: string; blocker: number; wait_ms: number }[],
  ): void {
    const waitersNow = new Map<BackgroundRun, number>();
    for (const w of rows) {
      const self = byPid.get(w.pid);
      if (self) self.waited_ms = Math.max(self.waited_ms, w.wait_ms);
      const run = byPid.get(w.blocker);
      if (!run || w.pid === w.blocker) continue;
      const t = this.tally(run);
      waitersNow.set(run, (waitersNow.get(run) ?? 0) + 1);
      if (w.pid === this.migrationPid()) {
        run.blocked.migration_wait_ms = Math.max(run.blocked.migration_wait_ms, w.wait_ms);
      } else if (w.app === LOAD_APPLICATION_NAME) {
        t.load.add(w.pid);
        run.blocked.load_backends = t.load.size;
      } else {
        t.others.add(w.app || `pid ${w.pid}`);
        run.blocked.others = [...t.others];
      }
    }
    for (const [run, n] of waitersNow) run.blocked.max_waiters = Math.max(run.blocked.max_waiters, n);
  }

  private tally(run: BackgroundRun): Tally {
    let t = this.#tallies.get(run);
    if (!t) this.#tallies.set(run, (t = { load: new Set(), others: new Set() }));
    return t;
  }
}
