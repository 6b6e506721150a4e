/** Starting the run's clone and connecting to it: shared by both provisioning strategies (fresh, cached). */
import type pg from "pg";
import { missingExtensions, missingExtensionsReason } from "../clone/extensions.ts";
import {
  type Clone,
  type CloneOptions,
  CloneRefusedError,
  CloneUnavailableError,
} from "../clone/provider.ts";
import type { ResolvedScenario } from "../scenario/load.ts";
import { connector } from "../util/connect.ts";
import { registerSecret } from "../util/redact.ts";
import type { RunContext } from "./context.ts";
import type { KeptReadings } from "./gather.ts";
import { Inconclusive, located } from "./errors.ts";
import type { RunPlan } from "./plan.ts";
import { CLONE_DATABASE } from "./providers.ts";

/** What provisioning hands on: a clone the teardown will stop, and the run's first connection to it. */
export interface ProvisionedClone {
  clone: Clone;
  cfg: pg.ClientConfig;
  /** Connects to the clone; the client is closed by the teardown. */
  connect: () => Promise<pg.Client>;
  /** The harness's own connection (snapshots, gathering). */
  db: pg.Client;
  /** The clone still needs the dataset (schema, seeding); false when it came seeded or holds its data. */
  empty: boolean;
  /** The cached cluster's kept before-readings, when the clone is a copy of one. */
  kept?: KeptReadings;
}

/**
 * The run's clone (with its replica, if asked for), registered for the teardown at once; a machine that
 * cannot make it is inconclusive.
 */
export async function startClone(ctx: RunContext, plan: RunPlan, options: CloneOptions): Promise<Clone> {
  const { rs, provider } = plan;
  const s = rs.scenario;
  try {
    const clone = await provider.start({
      settings: s.target.settings,
      version: s.target.version,
      image: s.target.image,
      replica: s.target.replica
        ? { settings: s.target.replica_settings, cpu: s.target.replica_cpu }
        : undefined,
      log: (l) => ctx.log.debug(l),
      database: CLONE_DATABASE,
      runId: ctx.report.run_id,
      ...options,
    });
    ctx.resources.clone = clone;
    return clone;
  } catch (err) {
    if (err instanceof CloneUnavailableError) throw new Inconclusive(err.message);
    // A provider the scenario chose is refused for what scenario.yaml says: point at that line.
    if (err instanceof CloneRefusedError && !ctx.opts.provider)
      throw new Inconclusive(
        located(rs, ["target", s.target.aurora ? "aurora" : "provider"], err.message, err.fix),
      );
    throw err;
  }
}

/** The clone's connection settings (its password kept out of every log) and the run's first connection. */
export async function attachClone(
  ctx: RunContext,
  rs: ResolvedScenario,
  clone: Clone,
): Promise<Pick<ProvisionedClone, "cfg" | "connect" | "db">> {
  const cfg = clone.connectionConfig();
  if (typeof cfg.password === "string") registerSecret(cfg.password);
  checkCapabilities(rs, clone);
  const connect = connector(cfg, ctx.resources.clients);
  return { cfg, connect, db: await connect() };
}

/** target.extensions, before the schema runs: its CREATE EXTENSION would fail with less to go on. */
export async function checkExtensions(
  ctx: RunContext,
  rs: ResolvedScenario,
  on: pg.Client,
  providerLabel: string,
): Promise<void> {
  const wanted = rs.scenario.target.extensions;
  if (wanted.length === 0) return;
  ctx.enter("checking extensions");
  const missing = await missingExtensions(on, wanted);
  if (missing.length > 0) {
    const num = Number((await on.query("SHOW server_version_num")).rows[0].server_version_num);
    throw new Inconclusive(missingExtensionsReason(providerLabel, Math.floor(num / 10000), missing));
  }
}

/** A scenario that needs what the clone cannot do (a replica, a restart) cannot be rehearsed: bad input. */
function checkCapabilities(rs: ResolvedScenario, clone: Clone): void {
  const problems: string[] = [];
  if (rs.scenario.target.replica && !clone.replica)
    problems.push(
      located(
        rs,
        ["target", "replica"],
        `the ${clone.provider} provider cannot start a replica`,
        "use provider: embedded, or remove target.replica",
      ),
    );
  const steps = [
    ...rs.phases.flatMap((p) =>
      p.steps.map((st, si) => ({ st, at: ["migration", "phases", rs.phases.indexOf(p), "steps", si] })),
    ),
    ...rs.rollback.map((st, si) => ({ st, at: ["rollback", "steps", si] })),
  ];
  for (const { st, at } of steps) {
    if (st.kind === "fault" && st.fault === "restart_server" && !clone.restart)
      problems.push(
        located(
          rs,
          [...at, "fault"],
          `fault "restart_server" needs a provider that can restart its server; ${clone.provider} cannot`,
          "use provider: embedded, or remove the step",
        ),
      );
  }
  if (problems.length > 0) throw new Inconclusive(problems.join("\n"));
}
