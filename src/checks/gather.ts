/** The scenario's invariants run as a set: each check's gathering at a stage, then all of them judged. */
import type { CatalogSnapshot } from "../catalog/types.ts";
import type { Queryable } from "../db/sql.ts";
import type { CheckResult } from "../report/model.ts";
import type { Invariant } from "../scenario/schema.ts";
import { type InvariantCheck, invariantId, type RunFacts, type Stage } from "./check.ts";
import { CHECKS } from "./registry.ts";

/** What each invariant's check gathered, by invariant id, before and after. */
export type Gathered = Map<string, { before?: unknown; after?: unknown }>;

/** Each check's reading of the data at a stage, into `into` by invariant id (after sees what before read). */
export async function gatherAll(
  db: Queryable,
  invariants: Invariant[],
  stage: Stage,
  into: Gathered,
): Promise<void> {
  for (const inv of invariants) {
    const check = CHECKS[inv.check] as InvariantCheck | undefined;
    if (!check?.gather || !(check.stages ?? []).includes(stage)) continue;
    const id = invariantId(inv);
    const slot = into.get(id) ?? {};
    try {
      slot[stage] = await check.gather(db, inv, stage, stage === "after" ? slot.before : undefined);
    } catch (err) {
      // A gather that fails leaves the slot empty; evaluate reports that as an error (inconclusive).
      slot[stage] = { gatherError: (err as Error).message };
    }
    into.set(id, slot);
  }
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
