/** What a caller can ask of one rehearsal: apart from the pipeline, so every stage can read it. */
import type { CloneProvider } from "../clone/provider.ts";
import type { ReplicaLagSource } from "../migration/throttle.ts";
import type { RunReport } from "../report/model.ts";
import type { AuroraTarget } from "../scenario/schema.ts";
import type { Logger, ProgressEvent } from "../util/logger.ts";

export interface RehearsalOptions {
  scenarioPath: string;
  /** Multiply every table's rows by this. */
  scale?: number;
  /** Override row counts: table → rows; the key "*" means the dataset's largest table. */
  rows?: Record<string, number>;
  rollback?: boolean;
  runId?: string;
  logger: Logger;
  /** Providers by name; tests may pass their own. */
  providers?: Record<string, CloneProvider>;
  /** Called with the report as it stands when the process is interrupted, to write it synchronously. */
  onAbort?: (report: RunReport) => void;
  /**
   * Structured progress: stage changes, step start/end, seeding progress, a tick every second while the
   * migration runs, and "done". Defaults to the logger's `event`, if it has one.
   */
  onEvent?: (e: ProgressEvent) => void;
  /**
   * Clone from the seeded-cluster cache (seeding once per dataset). Default: the scenario's `target.cache`
   * (false).
   */
  cache?: boolean;
  /** Use this provider instead of the scenario's target.provider (--provider). */
  provider?: string;
  /** For the url provider: the database (--target-url); else the PG* environment. */
  targetUrl?: string;
  /** For the url provider: rehearse on a database without the clone marker. */
  allowUnmarked?: boolean;
  /** For the aurora provider: settings over the scenario's target.aurora (--aurora-… flags). */
  aurora?: Partial<AuroraTarget>;
  /**
   * The replica's lag, for backfill steps throttled on `replica_lag`. The replica provider plugs in here;
   * without it such a step fails saying so.
   */
  replicaLag?: ReplicaLagSource;
}
