/** The choices settled before a clone starts (provider, rows, cache): a flag that cannot apply fails here. */
import type { CloneProvider } from "../clone/provider.ts";
import type { ResolvedScenario } from "../scenario/load.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive, UsageError } from "./errors.ts";
import { defaultProviders } from "./providers.ts";
import { resolveRows } from "./rows.ts";

export interface RunPlan {
  rs: ResolvedScenario;
  provider: CloneProvider;
  /** Rows per seeded table. */
  rows: Record<string, number>;
  /** Asked for the seeded-cluster cache (the provider may not offer it). */
  useCache: boolean;
}

export function planRun(ctx: RunContext, rs: ResolvedScenario): RunPlan {
  const { opts, report } = ctx;
  const s = rs.scenario;
  const providers: Record<string, CloneProvider> =
    opts.providers ?? defaultProviders({ ...opts, aurora: { ...s.target.aurora, ...opts.aurora } });
  const providerName = opts.provider ?? s.target.provider;
  report.context.provider = providerName;
  const provider = providers[providerName];
  if (!provider) {
    const have = Object.keys(providers).join(", ");
    if (opts.provider)
      throw new UsageError(
        `--provider ${opts.provider}: no clone provider of that name (have: ${have})`,
        `pass --provider with one of: ${have}`,
      );
    throw new Inconclusive(`no clone provider named "${providerName}" is available (have: ${have})`);
  }
  // Silently rehearsing on a fresh embedded cluster when a database was named would pass for the wrong thing.
  if (opts.targetUrl !== undefined && providerName !== "url")
    throw new UsageError(
      `--target-url names a database, but this run uses the ${providerName} provider, which ignores it`,
      "add --provider url (or set target.provider: url) to rehearse on that database, or drop --target-url",
    );
  const rows = resolveRows(rs, opts);
  report.context.rows = rows;
  return { rs, provider, rows, useCache: opts.cache ?? s.target.cache };
}
