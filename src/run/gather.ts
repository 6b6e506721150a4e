/** The invariants' gathering at a stage, over the harness's connection and one more, with its times logged. */
import type pg from "pg";
import { type Gathered, gatherAll } from "../checks/gather.ts";
import type { Stage } from "../checks/check.ts";
import { needsGather } from "../checks/registry.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { RunContext } from "./context.ts";

/**
 * Connections to gather over: the harness's own and one more, so a whole-table digest and the other
 * gatherings run side by side (each may also use the server's parallel workers). Two, not more: the server
 * parallelises each digest, and more sessions would only contend for the same cores.
 */
const GATHER_CONNECTIONS = 2;

export async function gatherOnClone(
  ctx: RunContext,
  db: pg.Client,
  connect: () => Promise<pg.Client>,
  invariants: Invariant[],
  stage: Stage,
  into: Gathered,
): Promise<void> {
  const due = invariants.filter((inv) => needsGather(inv, stage)).length;
  if (due === 0) return;
  const extra: pg.Client[] = [];
  try {
    for (let i = 1; i < Math.min(due, GATHER_CONNECTIONS); i++) extra.push(await connect());
    const timings = await gatherAll([db, ...extra], invariants, stage, into);
    if (timings.length > 0)
      ctx.log.info(`gathered (${stage}): ${timings.map((t) => `${t.id} ${t.ms} ms`).join(", ")}`);
  } finally {
    // Closed now, and taken off the teardown's list: nothing later needs them, and the load and migration
    // that follow should meet the clone with only the sessions they open themselves.
    const { clients } = ctx.resources;
    for (const c of extra) {
      const at = clients.indexOf(c);
      if (at >= 0) clients.splice(at, 1);
      await c.end().catch(() => undefined);
    }
  }
}
