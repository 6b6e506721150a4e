/**
 * The load and the observers around one section (the migration, or the rollback under a load of its own):
 * where in the section the run is, which both attribute what they see to, and what they report at the end.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { WRITES_PAUSED_FLAG, type RunningLoad } from "../load/engine.ts";
import { mergeLoadReports, mergeObservations } from "../load/merge.ts";
import { nativeEngine } from "../load/native-engine.ts";
import type { RunnerOptions } from "../migration/runner.ts";
import { type RunningObservers, startObservers } from "../observers/runner.ts";
import type { RunReport } from "../report/model.ts";
import { SOAK_PHASE } from "../scenario/ids.ts";
import { soakOf } from "../scenario/schema.ts";
import type { LoadSnapshot } from "../util/logger.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive } from "./errors.ts";
import type { RunPlan } from "./plan.ts";

export type Section = "migration" | "rollback";

export interface LoadStart {
  connect: () => Promise<pg.Client>;
  /** The clone's connection settings, for load segments in worker threads (load.workers > 1). */
  connection?: pg.ClientConfig;
  /** The load's ledger of acknowledged writes (from the preflight). */
  ackFile?: string;
  /** The migration connection's backend, as it is now (a restart replaces it). */
  migrationPid: () => number;
}

export class SectionLoad {
  #current: { phase: string | null; step: string | null } = { phase: null, step: null };
  /** The writers are paused by a pause_writes step that no resume_writes has undone yet. */
  #writersPaused = false;

  private constructor(
    private readonly section: Section,
    private readonly load?: RunningLoad,
    private observers?: RunningObservers,
  ) {}

  /**
   * Without a load section, no load: the section just runs its steps. With one, the load starts, then the
   * observers, then (before the migration only) the warmup.
   */
  static async start(
    ctx: RunContext,
    plan: RunPlan,
    section: Section,
    deps: LoadStart,
  ): Promise<SectionLoad> {
    const spec = plan.rs.scenario.load;
    if (!spec) return new SectionLoad(section);
    ctx.enter(`starting the load and warming up (${section})`);
    const load = await nativeEngine.start({
      connect: deps.connect,
      ...(deps.connection ? { connection: deps.connection } : {}),
      load: spec,
      runId: ctx.report.run_id,
      seed: plan.rs.scenario.dataset.seed,
      t0: ctx.t0,
      ackFile: deps.ackFile!,
      logger: ctx.log,
    });
    const running = new SectionLoad(section, load);
    try {
      running.observers = await startObservers({
        connect: deps.connect,
        t0: ctx.t0,
        migrationPid: deps.migrationPid,
        current: () => running.#current,
      });
    } catch (err) {
      await load.stop().catch(() => {});
      throw new Inconclusive(`the observers could not start: ${(err as Error).message}`);
    }
    if (section === "migration") {
      running.mark("warmup", null);
      ctx.log.info(`load: warming up for ${spec.warmup} ms`);
      await sleep(spec.warmup);
    }
    return running;
  }

  /** The run entered a phase or step (step null between steps): the load and observers attribute to it. */
  mark(phase: string, step: string | null): void {
    this.#current = { phase, step };
    this.load?.mark(phase, step);
  }

  /** Why the load stopped early, if it did: the runner stops the section. */
  failure(): string | undefined {
    return this.load?.failure();
  }

  /** The once-a-second progress: the load's last completed second (rate, p99), if it runs. */
  tick(locksHeld: number): LoadSnapshot {
    const snap = this.load?.snapshot?.();
    const blocked = this.observers?.live().blocked;
    return snap ? { writesPerS: snap.writesPerS, p99Ms: snap.p99Ms, blocked, locksHeld } : { locksHeld };
  }

  /** Flag and pause/resume steps, carried out on the load (none without one). */
  control(): RunnerOptions["control"] {
    const load = this.load;
    if (!load) return undefined;
    return (step) => {
      if (step.kind !== "flag") this.#writersPaused = step.kind === "pause_writes";
      return load.setFlags(
        step.kind === "flag" ? step.flags : { [WRITES_PAUSED_FLAG]: step.kind === "pause_writes" },
      );
    };
  }

  /** A planned outage: the observers pause sampling while `during` runs (nothing to pause without a load). */
  async outage(during: () => Promise<void>): Promise<void> {
    if (this.observers) await this.observers.interrupt(during);
    else await during();
  }

  /**
   * After the steps: the soak (after the migration only: the load keeps running against the migrated schema and
   * is judged as phase "soak"), then the load and the observers stopped and their reports merged into the
   * run's. Returns why the section cannot be judged, if the load broke.
   */
  async stop(ctx: RunContext, plan: RunPlan): Promise<string | undefined> {
    const spec = plan.rs.scenario.load;
    if (!this.load || !spec) return undefined;
    let resumeFailed: string | undefined;
    if (this.section === "migration") {
      this.mark(SOAK_PHASE, null);
      // The soak judges the application against the migrated schema, not a stopped one: writers the last
      // steps left paused resume as it starts (the pause itself was judged in its phase).
      if (this.#writersPaused) {
        this.#writersPaused = false;
        await this.load.setFlags({ [WRITES_PAUSED_FLAG]: false }).catch((err: Error) => {
          resumeFailed = `the writers could not be resumed for the soak: ${err.message}`;
        });
      }
      await sleep(soakOf(spec));
    }
    ctx.enter(`stopping the load (${this.section})`);
    const { report } = ctx;
    const before = this.load.failure();
    const lr = await this.load.stop();
    // A load segment's worker thread that died while stopping leaves its requests out of lr just the same.
    const failure = before ?? this.load.failure();
    // The budgets read the declared SQLSTATEs from the report, so a re-rendered report judges alike.
    if (spec.expected_errors.length > 0) lr.expected_errors = [...spec.expected_errors];
    const obs = await this.observers!.stop();
    report.load = report.load ? mergeLoadReports(report.load, lr) : lr;
    report.observations = report.observations ? mergeObservations(report.observations, obs) : obs;
    if (failure) return `the load stopped early: ${failure}`;
    if (resumeFailed) return resumeFailed;
    return brokenLoad(lr) ?? (obs.failure ? `an observer died: ${obs.failure}` : undefined);
  }
}

/**
 * A load that cannot write is no load: writes failing before the migration even started (the warmup), or
 * none succeeding at all, mean the rehearsal did not run under load, and must not pass as if it had.
 */
function brokenLoad(lr: NonNullable<RunReport["load"]>): string | undefined {
  const top = Object.entries(lr.totals.errors_by_sqlstate)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([code, n]) => {
      const sample = lr.error_samples?.find((e) => e.sqlstate === code);
      return `${code} ×${n}${sample ? ` "${sample.message}"` : ""}`;
    })
    .join(", ");
  const warm = lr.windows.filter((w) => w.section === "warmup" && w.kind === "write" && w.step === null);
  const count = warm.reduce((n, w) => n + w.count, 0);
  const errors = warm.reduce((n, w) => n + w.errors, 0);
  if (count > 0 && errors / count > 0.5) {
    return `the load failed before the migration started: ${errors} of ${count} writes in the warmup failed (${top}); fix the load section or the dataset`;
  }
  if (lr.totals.intended > 0 && lr.totals.writes_ok === 0) {
    return `the load never completed a write (${lr.totals.errors} errors: ${top || "none"}); fix the load section or the dataset`;
  }
  return undefined;
}
