/** The scenario's invariants run as a set: each check's gathering at a stage, then all of them judged. */
import { performance } from "node:perf_hooks";
import type { CatalogSnapshot } from "../catalog/types.ts";
import type { Queryable } from "../db/sql.ts";
import type { CheckResult } from "../report/model.ts";
import type { Invariant } from "../scenario/schema.ts";
import { type InvariantCheck, invariantId, type RunFacts, type Stage } from "./check.ts";
import { CHECKS } from "./registry.ts";

/** What each invariant's check gathered, by invariant id, before and after. */
export type Gathered = Map<string, { before?: unknown; after?: unknown }>;

/** How long one invariant's gathering took at a stage (they overlap: not to be summed into a wall time). */
export interface GatherTiming {
  id: string;
  ms: number;
}

/**
 * Each check's reading of the data at a stage, into `into` by invariant id (after sees what before read).
 *
 * With several connections, gatherings that only read (`readsOnly`) run concurrently, one per connection at
 * a time, longest-expected first; the others run in scenario order on the first connection, since one may
 * change what another reads (a probe burns sequence values that the sequence check would see). Every
 * connection must be a single session (a Client, not a Pool): some gatherings use transactions and temporary
 * tables.
 */
export async function gatherAll(
  dbs: Queryable | readonly Queryable[],
  invariants: Invariant[],
  stage: Stage,
  into: Gathered,
): Promise<GatherTiming[]> {
  const conns = Array.isArray(dbs) ? (dbs as readonly Queryable[]) : [dbs as Queryable];
  const due = invariants.flatMap((inv) => {
    const check = CHECKS[inv.check] as InvariantCheck | undefined;
    return check?.gather && (check.stages ?? []).includes(stage) ? [{ inv, check }] : [];
  });
  const timings: GatherTiming[] = [];
  const gatherOne = async (db: Queryable, { inv, check }: (typeof due)[number]): Promise<void> => {
    const id = invariantId(inv);
    const started = performance.now();
    const slot = into.get(id) ?? {};
    into.set(id, slot);
    try {
      slot[stage] = await check.gather!(db, inv, stage, stage === "after" ? slot.before : undefined);
    } catch (err) {
      // A gather that fails leaves the slot empty; evaluate reports that as an error (inconclusive).
      slot[stage] = { gatherError: (err as Error).message };
    }
    timings.push({ id, ms: Math.round(performance.now() - started) });
  };
  const serial = conns.length > 1 ? due.filter((d) => !d.check.readsOnly) : due;
  // Row digests read whole tables: start them first so the short reads fill in beside them.
  const parallel = conns.length > 1 ? due.filter((d) => d.check.readsOnly).sort(byWeight) : [];
  const worker = async (db: Queryable, first?: typeof serial): Promise<void> => {
    for (const d of first ?? []) await gatherOne(db, d);
    for (let d = parallel.shift(); d; d = parallel.shift()) await gatherOne(db, d);
  };
  await Promise.all(conns.map((db, i) => worker(db, i === 0 ? serial : undefined)));
  return timings;
}

/** Heaviest first: whole-table digests, then whole-table joins, then the rest. */
function byWeight(a: { inv: Invariant }, b: { inv: Invariant }): number {
  const weight = (inv: Invariant) =>
    inv.check === "row_parity" ? 0 : inv.check === "no_lost_writes" ? 1 : 2;
  return weight(a.inv) - weight(b.inv);
}

/** Every invariant judged on the snapshots and the gathered data; a check that cannot say is an error. */
export function evaluateAll(
  invariants: Invariant[],
  before: CatalogSnapshot,
  after: CatalogSnapshot,
  gathered: Gathered,
  stage: CheckResult["stage"],
  run?: RunFacts,
): CheckResult[] {
  return invariants.map((inv) => {
    const id = invariantId(inv);
    const check = CHECKS[inv.check] as InvariantCheck | undefined;
    if (!check)
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `unknown check ${inv.check}`,
        findings: [],
        stage,
      };
    const g = gathered.get(id) ?? {};
    const gerr = [g.before, g.after].find((x) => x && typeof x === "object" && "gatherError" in x) as
      { gatherError: string } | undefined;
    if (gerr) {
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `could not read the data: ${gerr.gatherError}`,
        findings: [],
        stage,
      };
    }
    try {
      return {
        id,
        kind: "invariant",
        ...check.evaluate(inv, { before, after, gathered: g, ...(run ? { run } : {}) }),
        stage,
      };
    } catch (err) {
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `check crashed: ${(err as Error).message}`,
        findings: [],
        stage,
      };
    }
  });
}
