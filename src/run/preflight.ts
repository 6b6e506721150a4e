/** The preflight stage: the scenario and its load checked against the seeded catalog; "before" readings. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { takeSnapshot } from "../catalog/snapshot.ts";
import type { CatalogSnapshot } from "../catalog/types.ts";
import type { Gathered } from "../checks/gather.ts";
import { setAckLedger } from "../checks/no-lost-writes.ts";
import { LoadValidationError, validateLoad } from "../load/validate.ts";
import { registerCleanup } from "../util/cleanup.ts";
import type { ProvisionedClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive } from "./errors.ts";
import { gatherOnClone } from "./gather.ts";
import type { RunPlan } from "./plan.ts";
import { checkReferences, hotTableOids } from "./references.ts";

/** What the migration and the judge need from before the migration. */
export interface Preflight {
  /** The catalog before the migration. */
  before: CatalogSnapshot;
  hotOids: Set<number>;
  /** The invariants' "before" readings; the judge adds the "after" ones. */
  gathered: Gathered;
  /** Where the load records acknowledged writes (no_lost_writes reads it); only with a load section. */
  ackFile?: string;
}

export async function preflight(
  ctx: RunContext,
  plan: RunPlan,
  { db, clone, connect, kept }: ProvisionedClone,
): Promise<Preflight> {
  const { rs } = plan;
  const s = rs.scenario;
  ctx.enter("checking the scenario against the catalog");
  const before = await takeSnapshot(db);
  checkReferences(rs, before);
  const hotOids = hotTableOids(rs, before);
  const gathered: Gathered = new Map();
  ctx.enter("gathering the invariants' data before the migration");
  await gatherOnClone(ctx, db, connect, s.invariants, "before", gathered, kept);
  if (clone.replica?.settle) {
    // The seeding's WAL is not the migration's: start with the replica caught up (then capped, if asked).
    ctx.enter("waiting for the replica to catch up");
    await clone.replica.settle();
  }
  if (!s.load) return { before, hotOids, gathered };
  ctx.enter("checking the load against the catalog");
  try {
    await validateLoad(db, rs, before);
  } catch (err) {
    if (err instanceof LoadValidationError) throw new Inconclusive(err.message);
    throw err;
  }
  const ackDir = await mkdtemp(path.join(tmpdir(), "rehearse-ack-"));
  ctx.resources.ackDir = {
    path: ackDir,
    unregister: registerCleanup(`remove ${ackDir}`, () => rm(ackDir, { recursive: true, force: true })),
  };
  const ackFile = path.join(ackDir, "acked.txt");
  setAckLedger(ackFile);
  return { before, hotOids, gathered, ackFile };
}
