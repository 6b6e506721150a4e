/** The provisioning stage: one clone for the run, by one of two strategies (from the cache, or fresh). */
import type { ProvisionedClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import type { RunPlan } from "./plan.ts";
import { cachedClone } from "./provision-cache.ts";
import { freshClone } from "./provision-fresh.ts";

export async function provision(ctx: RunContext, plan: RunPlan): Promise<ProvisionedClone> {
  const snapshots = plan.provider.snapshots;
  return plan.useCache && snapshots ? cachedClone(ctx, plan, snapshots) : freshClone(ctx, plan);
}

/** Once the dataset is in place: the replica the run streams to, if it has one. */
export function recordReplica(ctx: RunContext, plan: RunPlan, { clone }: ProvisionedClone): void {
  if (!clone.replica) return;
  ctx.report.context.replica = { settings: plan.rs.scenario.target.replica_settings };
  ctx.log.info(`replica streaming at ${clone.replica.displayUrl()}`);
}
