/** Provisioning without the cache: the provider starts a clone; the dataset goes on it unless it has data. */
import { attachClone, checkExtensions, type ProvisionedClone, startClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import type { RunPlan } from "./plan.ts";

export async function freshClone(ctx: RunContext, plan: RunPlan): Promise<ProvisionedClone> {
  const { log, report } = ctx;
  const { provider } = plan;
  if (plan.useCache)
    log.info(`the ${provider.name} provider does not use the seeded-cluster cache (target.cache ignored)`);
  log.info(`starting ${provider.name} clone`);
  const clone = await startClone(ctx, plan, {});
  const { cfg, connect, db } = await attachClone(ctx, plan.rs, clone);
  report.context.clone = {
    method: clone.method ?? "initdb",
    cache: "off",
    ...(clone.image ? { image: clone.image } : {}),
  };
  report.context.postgres_version = (await db.query("SHOW server_version")).rows[0].server_version;
  log.info(`clone ready: PostgreSQL ${report.context.postgres_version} at ${clone.displayUrl()}`);
  ctx.stopIfAborted();
  await checkExtensions(ctx, plan.rs, db, clone.provider);
  if (clone.hasData) log.info("the clone holds its data already: not creating the schema, not seeding");
  return { clone, cfg, connect, db, empty: !clone.hasData };
}
