/**
 * The migration's locks as the HTML page shows them, in the Gantt and in the table under it: grouped by
 * what they protect (one group per table and mode, its indexes and partitions folded in), the tables the
 * application uses first, the migration's waits apart from its holds, and the load requests that queued
 * behind each group next to it. Pure: the report model in, rows out.
 */
import { BLOCKS_WRITES } from "./format.ts";
import { notableWaits, SHOWN_WAIT_MS } from "./lock-waits-view.ts";
import type { BlockingEpisode, LockHold, LockWait, RunReport } from "./model.ts";

/** What a reader recognises: a relation the tracer could not name was dropped before it was sampled. */
export const relationLabel = (name: string): string =>
  name.startsWith("oid:") ? `dropped relation (${name})` : name;

/** The migration waiting to acquire a lock it did not hold yet (its queue position blocks others too). */
export interface WaitSpan {
  relation: string;
  from_ms: number;
  to_ms: number;
  /** From report.lock_waits (which says how it ended), or only a hold's `waited_ms` (then it was granted). */
  outcome: LockWait["outcome"];
}

/** One table (or a relation that belongs to none) in one lock mode. */
export interface LockGroup {
  /** The table the locks protect, as the tracer named it ("oid:…" when dropped: see relationLabel). */
  owner: string;
  mode: string;
  /** A table the application uses: hot per the lock tracer, or one load requests queued on. */
  hot: boolean;
  /** The locks of this mode on the table itself and on its indexes and partitions, in acquisition order. */
  holds: LockHold[];
  /** The indexes and partitions folded in, by name, each once. */
  covers: string[];
  waits: WaitSpan[];
  /** Episodes of load requests waiting on the migration for this table and mode. */
  waiters: BlockingEpisode[];
  /** Most load requests seen waiting behind it (blocking episodes and the lock waits' queues); 0 when none. */
  loadWaiting: number;
  /** The longest hold, ms (0 when it was never acquired). */
  longestHeld: number;
  /** The longest wait to acquire it, ms. */
  longestWait: number;
  /** The longest time writers stood behind one lock: its wait plus its hold, or a wait that gave up. */
  impact: number;
}

export interface LockView {
  /** Tables the application uses first, then the longest impact first. */
  groups: LockGroup[];
  /** The group that matters most: the longest write-blocking one, on a hot table when there is one. */
  top?: LockGroup;
  /** The top group's longest hold: the bar outlined. */
  topHold?: LockHold;
  /** Load requests that waited on the migration for a lock no group covers, or on another session. */
  otherWaiters: BlockingEpisode[];
}

const keyOf = (owner: string, mode: string) => `${owner}\u0000${mode}`;
const overlaps = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;

/**
 * The migration's waits to draw: the lock waits worth a line (lock-waits-view), and the `waited_ms` of holds
 * whose wait the lock-wait sampler did not record (older reports, a wait shorter than its interval).
 */
function waitSpans(report: RunReport): { mode: string; span: WaitSpan }[] {
  const recorded = notableWaits(report).map((w) => ({
    mode: w.mode,
    span: { relation: w.relation, from_ms: w.started_ms, to_ms: w.ended_ms, outcome: w.outcome },
  }));
  const fromHolds = report.locks
    .filter((l) => (l.waited_ms ?? 0) >= SHOWN_WAIT_MS)
    .map((l) => ({
      mode: l.mode,
      span: {
        relation: l.relation,
        from_ms: l.acquired_ms - l.waited_ms!,
        to_ms: l.acquired_ms,
        outcome: "granted" as const,
      },
    }))
    .filter(
      (h) =>
        !(report.lock_waits ?? []).some(
          (w) =>
            w.relation === h.span.relation &&
            w.mode === h.mode &&
            overlaps(w.started_ms, w.ended_ms, h.span.from_ms, h.span.to_ms),
        ),
    );
  return [...recorded, ...fromHolds].sort((a, b) => a.span.from_ms - b.span.from_ms);
}

/** Tables the application uses: hot per the lock tracer's effects, or where load requests queued. */
function usedTables(report: RunReport, ownerOf: (relation: string) => string): Set<string> {
  const hot = new Set<string>();
  for (const e of report.effects) {
    if (e.hot) hot.add(e.relation);
    if (e.table && e.table_hot) hot.add(e.table);
  }
  for (const e of report.observations?.blocking ?? [])
    if (e.load_waiters > 0 && e.relation) hot.add(ownerOf(e.relation));
  for (const w of report.lock_waits ?? []) if (w.queued_load_requests > 0) hot.add(ownerOf(w.relation));
  return hot;
}

/** Groups the report's locks, waits and waiters: see LockView. */
export function lockView(report: RunReport): LockView {
  // An index's or partition's table, as the tracer resolved it for any of its holds.
  const tableOf = new Map<string, string>();
  for (const l of report.locks) if (l.table) tableOf.set(l.relation, l.table);
  const ownerOf = (relation: string) => tableOf.get(relation) ?? relation;
  const hot = usedTables(report, ownerOf);

  const byKey = new Map<string, LockGroup>();
  const group = (owner: string, mode: string) => {
    const k = keyOf(owner, mode);
    let g = byKey.get(k);
    if (!g) {
      g = {
        owner,
        mode,
        hot: hot.has(owner),
        holds: [],
        covers: [],
        waits: [],
        waiters: [],
        loadWaiting: 0,
        longestHeld: 0,
        longestWait: 0,
        impact: 0,
      };
      byKey.set(k, g);
    }
    return g;
  };
  for (const l of [...report.locks].sort((a, b) => a.acquired_ms - b.acquired_ms)) {
    const g = group(ownerOf(l.relation), l.mode);
    g.holds.push(l);
    if (l.relation !== g.owner && !g.covers.includes(l.relation)) g.covers.push(l.relation);
    g.longestHeld = Math.max(g.longestHeld, l.held_ms);
    g.impact = Math.max(g.impact, l.held_ms + (l.waited_ms ?? 0));
  }
  for (const { mode, span } of waitSpans(report)) {
    const g = group(ownerOf(span.relation), mode);
    g.waits.push(span);
    const ms = span.to_ms - span.from_ms;
    g.longestWait = Math.max(g.longestWait, ms);
    g.impact = Math.max(g.impact, ms);
  }
  for (const w of report.lock_waits ?? []) {
    const g = byKey.get(keyOf(ownerOf(w.relation), w.mode));
    if (g) g.loadWaiting = Math.max(g.loadWaiting, w.queued_load_requests);
  }
  for (const g of byKey.values()) g.covers.sort();

  const groups = [...byKey.values()].sort((a, b) => Number(b.hot) - Number(a.hot) || b.impact - a.impact);
  const otherWaiters: BlockingEpisode[] = [];
  for (const e of report.observations?.blocking ?? []) {
    // Episodes without load requests are the migration or a background session waiting: drawn as waits.
    if (e.load_waiters <= 0) continue;
    const g =
      e.blocker_is_migration && e.relation ? groupOf(groups, byKey, ownerOf(e.relation), e) : undefined;
    if (!g) {
      otherWaiters.push(e);
      continue;
    }
    g.waiters.push(e);
    g.loadWaiting = Math.max(g.loadWaiting, e.max_load_waiters ?? e.load_waiters);
  }

  const top = groups.find((g) => BLOCKS_WRITES.has(g.mode));
  if (!top) return { groups, otherWaiters };
  const topHold = [...top.holds].sort((a, b) => b.held_ms - a.held_ms)[0];
  return topHold ? { groups, top, topHold, otherWaiters } : { groups, top, otherWaiters };
}

/**
 * The group a load wait on the migration belongs to: the same table in the mode the migration held or
 * requested (an episode's mode is the blocker's), else the first group of the table it overlaps in time.
 */
function groupOf(
  groups: LockGroup[],
  byKey: Map<string, LockGroup>,
  owner: string,
  e: BlockingEpisode,
): LockGroup | undefined {
  const exact = byKey.get(keyOf(owner, e.mode));
  if (exact) return exact;
  return groups.find(
    (g) =>
      g.owner === owner &&
      (g.holds.some((l) => overlaps(l.acquired_ms, l.released_ms, e.started_ms, e.ended_ms)) ||
        g.waits.some((w) => overlaps(w.from_ms, w.to_ms, e.started_ms, e.ended_ms))),
  );
}

/** "3 indexes, 2 partitions" for a group's `covers`, from the holds' relkind. */
export function coversText(g: LockGroup): string {
  const kindOf = new Map(g.holds.map((l) => [l.relation, l.relkind]));
  const n = { index: 0, partition: 0, other: 0 };
  for (const rel of g.covers) {
    const k = kindOf.get(rel);
    if (k === "i" || k === "I") n.index++;
    else if (k === "r" || k === "p" || k === "f") n.partition++;
    else n.other++;
  }
  const parts: string[] = [];
  if (n.index) parts.push(`${n.index} ${n.index === 1 ? "index" : "indexes"}`);
  if (n.partition) parts.push(`${n.partition} ${n.partition === 1 ? "partition" : "partitions"}`);
  if (n.other) parts.push(`${n.other} other ${n.other === 1 ? "relation" : "relations"}`);
  return parts.join(", ");
}
