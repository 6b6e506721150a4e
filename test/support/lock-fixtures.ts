/** Builders for the lock timeline's model pieces in report tests: a default, overridden by the fields given. */
import type { BlockingEpisode, LockHold, LockWait } from "../../src/report/model.ts";

/** A 100 ms ACCESS EXCLUSIVE on public.orders at 24 s. */
export const hold = (p: Partial<LockHold>): LockHold => ({
  section: "migration",
  phase: "cutover",
  step: "attach",
  statement: 0,
  relation: "public.orders",
  relation_oid: 1,
  relkind: "r",
  mode: "AccessExclusiveLock",
  acquired_ms: 24_000,
  released_ms: 24_100,
  held_ms: 100,
  in_transaction: true,
  ...p,
});

/** A 5 s wait for ACCESS EXCLUSIVE on public.orders behind a background session, granted at 24 s. */
export const wait = (p: Partial<LockWait>): LockWait => ({
  section: "migration",
  phase: "cutover",
  step: "attach",
  statement: 0,
  attempt: 1,
  relation: "public.orders",
  relation_oid: 1,
  relkind: "r",
  mode: "AccessExclusiveLock",
  started_ms: 19_000,
  ended_ms: 24_000,
  wait_ms: 5_000,
  outcome: "granted",
  blockers: [{ pid: 7, name: "background session reporting", kind: "background" }],
  queued_load_requests: 0,
  queued_load_max_ms: 0,
  ...p,
});

/** Eight load requests waiting on the migration's ACCESS EXCLUSIVE on public.orders. */
export const episode = (p: Partial<BlockingEpisode>): BlockingEpisode => ({
  blocker_pid: 42,
  blocker_is_migration: true,
  relation: "public.orders",
  mode: "AccessExclusiveLock",
  started_ms: 19_010,
  ended_ms: 24_100,
  max_waiters: 8,
  load_waiters: 8,
  max_load_waiters: 8,
  longest_wait_ms: 5_080,
  phase: "cutover",
  step: "attach",
  ...p,
});
