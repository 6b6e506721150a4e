/** The invariants' gathering at a stage, over the harness's connection and one more, with its times logged. */
import { createHash } from "node:crypto";
import type pg from "pg";
import { invariantId, type Stage } from "../checks/check.ts";
import { type Gathered, gatherAll } from "../checks/gather.ts";
import { CHECKS, needsGather } from "../checks/registry.ts";
import type { Invariant } from "../scenario/schema.ts";
import { TOOL_VERSION } from "../version.ts";
import type { RunContext } from "./context.ts";

/** Readings kept with the cached cluster a clone was made from (see InvariantCheck.keepBefore). */
export interface KeptReadings {
  read(name: string): Promise<unknown>;
  store(name: string, value: unknown): Promise<void>;
}

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
  /** Where a cached cluster's before-readings are kept; only for a clone of one. */
  kept?: KeptReadings,
): Promise<void> {
  const keep = stage === "before" && kept ? await keptReadings(kept, invariants, into) : undefined;
  const left = invariants.filter((inv) => needsGather(inv, stage) && !keep?.reused.has(inv));
  if (keep && keep.reused.size > 0)
    ctx.log.info(
      `kept with the cached cluster (before): ${[...keep.reused].map(invariantId).join(", ")}: not read again`,
    );
  if (left.length === 0) return;
  const extra: pg.Client[] = [];
  try {
    for (let i = 1; i < Math.min(left.length, GATHER_CONNECTIONS); i++) extra.push(await connect());
    const timings = await gatherAll([db, ...extra], left, stage, into);
    if (timings.length > 0)
      ctx.log.info(`gathered (${stage}): ${timings.map((t) => `${t.id} ${t.ms} ms`).join(", ")}`);
    // Kept for the next run only: a cache that cannot take it costs that run the reading, not this one.
    await keep?.storeNew().catch((err: unknown) => {
      ctx.log.debug(`could not keep the before-readings with the cached cluster: ${(err as Error).message}`);
    });
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

/**
 * The before-readings a cached cluster already has, put into `into`; storeNew() keeps the ones read now. A
 * reading's name hashes the invariant with its check's format and rehearse's version, so a changed invariant,
 * gathered shape or release reads again. A reading that failed is never kept.
 */
async function keptReadings(
  kept: KeptReadings,
  invariants: Invariant[],
  into: Gathered,
): Promise<{ reused: Set<Invariant>; storeNew: () => Promise<void> }> {
  const named = invariants.flatMap((inv) => {
    const format = CHECKS[inv.check]?.keepBefore?.format;
    if (format === undefined || !needsGather(inv, "before")) return [];
    const name = createHash("sha256")
      .update(JSON.stringify({ format, tool: TOOL_VERSION, inv }))
      .digest("hex")
      .slice(0, 24);
    return [{ inv, name }];
  });
  const reused = new Set<Invariant>();
  for (const { inv, name } of named) {
    const value = await kept.read(name);
    if (value === undefined) continue;
    into.set(invariantId(inv), { ...into.get(invariantId(inv)), before: value });
    reused.add(inv);
  }
  return {
    reused,
    storeNew: async () => {
      for (const { inv, name } of named) {
        const value = into.get(invariantId(inv))?.before;
        if (
          reused.has(inv) ||
          value === undefined ||
          (typeof value === "object" && value && "gatherError" in value)
        )
          continue;
        await kept.store(name, value);
      }
    },
  };
}
