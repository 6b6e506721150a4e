/**
 * Provisioning from the seeded-cluster cache: the dataset is made once, on a keepable build server stored
 * under a key of everything that shapes it; each run then starts a thin copy of that stopped cluster.
 */
import type pg from "pg";
import type { CloneProvider } from "../clone/provider.ts";
import {
  type CacheEntry,
  cachedPassword,
  cacheKey,
  lookupCache,
  readGathered,
  storeGathered,
  storeCache,
} from "../clone/snapshot-cache.ts";
import { closeClients, connector } from "../util/connect.ts";
import { registerSecret } from "../util/redact.ts";
import { TOOL_VERSION } from "../version.ts";
import { attachClone, checkExtensions, type ProvisionedClone, startClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import { prepareDataset } from "./dataset.ts";
import { Inconclusive, located } from "./errors.ts";
import type { RunPlan } from "./plan.ts";
import { CLONE_DATABASE } from "./providers.ts";

type Snapshots = NonNullable<CloneProvider["snapshots"]>;

export async function cachedClone(
  ctx: RunContext,
  plan: RunPlan,
  snapshots: Snapshots,
): Promise<ProvisionedClone> {
  const { log, report } = ctx;
  const { rs, rows } = plan;
  const s = rs.scenario;
  if (s.target.replica)
    throw new Inconclusive(
      located(
        rs,
        ["target", "cache"],
        "target.cache and target.replica cannot be combined yet",
        "run without --cache (or set target.cache: false), or remove target.replica",
      ),
    );
  const key = cacheKey({
    schemaSql: rs.schemaSql.text,
    afterSql: rs.afterSql?.text,
    tables: s.dataset.tables,
    rows,
    seed: s.dataset.seed,
    fireTriggers: s.dataset.fire_triggers,
    database: CLONE_DATABASE,
    serverVersion: snapshots.version(),
    toolVersion: TOOL_VERSION,
  });
  let entry = await lookupCache(key);
  const hit = entry !== undefined;
  if (entry) {
    log.info(`seeded cluster found in the cache (${key}): not seeding`);
    report.seeding = entry.meta.seeding;
  } else {
    log.info(`no seeded cluster in the cache for ${key}: seeding one for it`);
    entry = await buildEntry(ctx, plan, snapshots, key);
  }
  ctx.enter("cloning the cached cluster");
  const password = await cachedPassword(entry);
  registerSecret(password);
  const clone = await startClone(ctx, plan, {
    from: { dataDir: entry.dataDir, password, source: `cache:${key}` },
  });
  const { cfg, connect, db } = await attachClone(ctx, rs, clone);
  report.context.clone = {
    method: clone.method ?? "initdb",
    cache: hit ? "hit" : "miss",
    cache_key: key,
  };
  report.context.postgres_version = (await db.query("SHOW server_version")).rows[0].server_version;
  log.info(
    `clone ready (${clone.method}, cache ${hit ? "hit" : "miss"}): PostgreSQL ${report.context.postgres_version} at ${clone.displayUrl()}`,
  );
  ctx.stopIfAborted();
  // The cached cluster's schema ran on the same binaries; checked again on the clone the run uses.
  await checkExtensions(ctx, rs, db, clone.provider);
  const cached = entry;
  return {
    clone,
    cfg,
    connect,
    db,
    empty: false,
    kept: {
      read: (name) => readGathered(cached, name),
      store: (name, value) => storeGathered(cached, name, value),
    },
  };
}

/** A cache miss: seeds a keepable cluster and stores it; the build server is stopped whatever happens. */
async function buildEntry(
  ctx: RunContext,
  plan: RunPlan,
  snapshots: Snapshots,
  key: string,
): Promise<CacheEntry> {
  const s = plan.rs.scenario;
  const build = await snapshots.startKeepable({
    settings: s.target.settings,
    version: s.target.version,
    log: (l) => ctx.log.debug(l),
    database: CLONE_DATABASE,
  });
  const buildClients: pg.Client[] = [];
  const closeBuild = () => closeClients(buildClients);
  try {
    const buildCfg = build.connectionConfig();
    if (typeof buildCfg.password === "string") registerSecret(buildCfg.password);
    const buildConnect = connector(buildCfg, buildClients);
    const bdb = await buildConnect();
    const pgVersion = (await bdb.query("SHOW server_version")).rows[0].server_version as string;
    await checkExtensions(ctx, plan.rs, bdb, build.provider);
    await prepareDataset(ctx, plan, bdb, buildConnect);
    ctx.stopIfAborted();
    ctx.enter("storing the seeded cluster in the cache");
    await closeBuild();
    return await storeCache(await build.stopAndKeep(), {
      key,
      scenario: s.name,
      created_at: new Date().toISOString(),
      server_version: snapshots.version(),
      postgres_version: pgVersion,
      rows: plan.rows,
      seeding: ctx.report.seeding!,
    });
  } finally {
    await closeBuild();
    await build.stop().catch(() => {});
  }
}
