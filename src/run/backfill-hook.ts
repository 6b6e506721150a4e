/** Backfill steps, run by src/migration/backfill.ts with this run's clone, lag throttle, faults, progress. */
import path from "node:path";
import pg from "pg";
import { ReplicaLagReader } from "../clone/replica-lag.ts";
import { runBackfillStep } from "../migration/backfill.ts";
import { BackfillFaults } from "../migration/backfill-faults.ts";
import type { RunnerOptions } from "../migration/runner.ts";
import { systemClock } from "../util/clock.ts";
import type { ProvisionedClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import type { RunPlan } from "./plan.ts";

export interface BackfillHook {
  backfill: NonNullable<RunnerOptions["backfill"]>;
  /** Where a kill_backfill_worker fault arms the next backfill step (each opens its own connections). */
  faults: BackfillFaults;
}

export function backfillHook(ctx: RunContext, plan: RunPlan, { clone, cfg }: ProvisionedClone): BackfillHook {
  const { log } = ctx;
  const { rs } = plan;
  // The replica's lag for the backfill throttle, read on the primary through a pool (it outlives a restart).
  const lagPool = clone.replica
    ? new pg.Pool({ ...cfg, max: 1, application_name: "rehearse-replica-lag" })
    : undefined;
  lagPool?.on("error", () => {});
  if (lagPool) ctx.resources.pools.push(lagPool);
  const replicaLag = lagPool ? new ReplicaLagReader(lagPool) : undefined;
  const faults = new BackfillFaults();
  const shouldStop = () => ctx.aborted !== undefined;
  return {
    faults,
    backfill: (step) =>
      runBackfillStep(step, {
        connectionConfig: cfg,
        clock: systemClock,
        replicaLag: ctx.opts.replicaLag ?? replicaLag,
        faults,
        shouldStop,
        locate: (at: (string | number)[]) => ({
          file: path.relative(process.cwd(), rs.file) || rs.file,
          ...rs.locate(at),
        }),
        onProgress: (p) => {
          const eta = p.etaMs !== undefined ? `, ETA ${Math.ceil(p.etaMs / 1000)} s` : "";
          log.progress(
            `backfill ${p.step}: ${p.rows} rows, ${Math.floor(p.fraction * 100)}% of the key range (${Math.round(p.rowsPerS)} rows/s${eta})`,
          );
          ctx.emit({ kind: "backfill", ...p });
        },
      }),
  };
}
