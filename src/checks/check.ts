import type { CatalogSnapshot } from "../catalog/types.ts";
import type { Queryable } from "../db/sql.ts";
import type { CheckResult } from "../report/model.ts";
import type { Invariant } from "../scenario/schema.ts";

export type Stage = "before" | "after";

/** What a check sees: catalog snapshots taken before and after, plus the data it gathered at each stage. */
export interface CheckInput<G> {
  before: CatalogSnapshot;
  after: CatalogSnapshot;
  gathered: { before?: G; after?: G };
  /** Facts of the run the data does not hold (absent without a load, and in unit tests that need none). */
  run?: RunFacts;
}

/** What the load saw, for checks whose evidence it explains (a failed insert still consumed its id). */
export interface RunFacts {
  /** Load writes that completed with an error, over every section. */
  failed_writes: number;
}

/**
 * One invariant. `gather` reads the data the catalog does not hold (max(id), row hashes, a probe) and is
 * the only part that touches the database; `evaluate` is a pure function of snapshots and gathered facts,
 * so it unit-tests without PostgreSQL.
 */
export interface InvariantCheck<I extends Invariant = Invariant, G = unknown> {
  kind: I["check"];
  /** Which stages need gathering (default: none). */
  stages?: readonly Stage[];
  /**
   * Its gathering only reads (temporary tables aside), so it may run on its own connection beside other
   * gatherings. Left unset, a gathering may change what another reads (a probe that burns sequence values,
   * nextval() then setval()), and such gatherings run one after another on the first connection.
   */
  readsOnly?: true;
  /**
   * Its before-reading depends only on the dataset as seeded (rows, catalog), so a cached cluster reads the
   * same every time: the reading is kept with the cache entry and reused on the next clone of it. `format`
   * names the gathered shape; bump it when that changes, so an older reading is not taken for a newer one.
   */
  keepBefore?: { format: number };
  /** `earlier` is what this check gathered in the before stage, when gathering after. */
  gather?(db: Queryable, inv: I, stage: Stage, earlier?: G): Promise<G>;
  evaluate(inv: I, input: CheckInput<G>): Omit<CheckResult, "id" | "kind">;
}

/** The id a scenario's expect.failing uses for an invariant: its explicit `id`, else its check name. */
export function invariantId(inv: Invariant): string {
  return inv.id ?? inv.check;
}
