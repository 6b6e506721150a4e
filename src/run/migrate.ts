/**
 * The migration stage: the scenario's phases run by src/migration/runner.ts under the load, with progress,
 * faults and backfills wired in. The judge runs the rollback through the same section runner.
 */
import type pg from "pg";
import { BackgroundSessions } from "../background/sessions.ts";
import type { Clone } from "../clone/provider.ts";
import { runPhases, type RunnerOptions, type RunnerResult } from "../migration/runner.ts";
import type { ResolvedStep } from "../scenario/load.ts";
import { backfillHook, type BackfillHook } from "./backfill-hook.ts";
import type { ProvisionedClone } from "./clone-start.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive } from "./errors.ts";
import { type Connections, runFault } from "./faults.ts";
import { type Section, SectionLoad } from "./load-session.ts";
import type { RunPlan } from "./plan.ts";
import type { Preflight } from "./preflight.ts";

/** What every section of the run shares once the migration starts (the rollback runs with the same). */
export interface SectionEnv {
  clone: Clone;
  connect: () => Promise<pg.Client>;
  pre: Preflight;
  hook: BackfillHook;
}

/** The migration's steps, and what the judge needs to read the clone after them (and to run the rollback). */
export interface Migrated {
  steps: RunnerResult["steps"];
  env: SectionEnv;
  /** The connections as the migration left them (a restart_server fault replaces them). */
  conns: Connections;
}

export async function migrate(
  ctx: RunContext,
  plan: RunPlan,
  pc: ProvisionedClone,
  pre: Preflight,
): Promise<Migrated> {
  const env: SectionEnv = { clone: pc.clone, connect: pc.connect, pre, hook: backfillHook(ctx, plan, pc) };
  const monitor = await pc.connect();
  const migrationDb = await pc.connect();
  const { res, conns } = await runSection(ctx, plan, env, "migration", plan.rs.phases, {
    db: pc.db,
    monitor,
    migrationDb,
  });
  ctx.stopIfAborted();
  if (res.harnessError) throw new Inconclusive(res.harnessError);
  return { steps: res.steps, env, conns };
}

/**
 * Runs phases with the load (and the observers) around them: warmup, the steps with every operation
 * attributed to the step running at its intended start, the soak. Without a load section, just the steps.
 * Returns the connections as the steps left them.
 */
export async function runSection(
  ctx: RunContext,
  plan: RunPlan,
  env: SectionEnv,
  section: Section,
  phases: { name: string; steps: ResolvedStep[] }[],
  conns: Connections,
): Promise<{ res: RunnerResult; conns: Connections }> {
  let live = conns;
  const underLoad = await SectionLoad.start(ctx, plan, section, {
    connect: env.connect,
    connection: env.clone.connectionConfig(),
    ackFile: env.pre.ackFile,
    migrationPid: () => backendPid(live.migrationDb),
  });
  ctx.enter(section === "migration" ? "running the migration" : "rehearsing the rollback");
  const background = backgroundFor(ctx, plan, env, section, () => backendPid(live.migrationDb));
  // Once a second: elapsed times move, and the load's last completed second (rate, p99) if it runs.
  let locksHeld = 0;
  const ticker = setInterval(() => ctx.emit({ kind: "tick", load: underLoad.tick(locksHeld) }), 1000);
  ticker.unref();
  const res = await runPhases(phases, {
    db: live.migrationDb,
    monitor: live.monitor,
    t0: ctx.t0,
    hotOids: env.pre.hotOids,
    shouldStop: () => ctx.aborted !== undefined || underLoad.failure() !== undefined,
    backfill: env.hook.backfill,
    onLocksHeld: (n) => {
      locksHeld = n;
    },
    fault: async (step) => {
      const fresh = await runFault(step, {
        log: ctx.log,
        clone: env.clone,
        conns: live,
        clients: ctx.resources.clients,
        connect: env.connect,
        backfillFaults: env.hook.faults,
        underLoad,
      });
      if (!fresh) return undefined;
      live = fresh;
      return { db: fresh.migrationDb, monitor: fresh.monitor };
    },
    control: underLoad.control(),
    onStep: (e) => onStep(ctx, underLoad, e),
    beforeStep: background ? (phase, step) => background.beforeStep(phase, step) : undefined,
  }).finally(() => clearInterval(ticker));
  // The sessions overlap the steps, not the soak: each still running is ended now.
  await background?.stop();
  ctx.report.steps.push(...res.steps);
  ctx.report.phases.push(...res.phases);
  ctx.report.locks.push(...res.locks);
  (ctx.report.lock_waits ??= []).push(...res.waits);
  ctx.report.effects.push(...res.effects);
  const broken = await underLoad.stop(ctx, plan);
  if (broken) res.harnessError ??= broken;
  return { res, conns: live };
}

/**
 * The scenario's background sessions, for the migration (not the rollback); registered with the teardown, which
 * ends them on every exit path the steps do not reach the end of. Undefined when there are none.
 */
function backgroundFor(
  ctx: RunContext,
  plan: RunPlan,
  env: SectionEnv,
  section: Section,
  migrationPid: () => number,
): BackgroundSessions | undefined {
  if (section !== "migration" || plan.rs.background.length === 0) return undefined;
  const sessions = new BackgroundSessions(plan.rs.background, {
    connect: env.connect,
    t0: ctx.t0,
    seed: plan.rs.scenario.dataset.seed,
    migrationPid,
  });
  // The report holds the live facts; on a failure or an interrupt the teardown ends the sessions.
  ctx.report.background = sessions.facts;
  ctx.resources.background = sessions;
  return sessions;
}

/** A step started or ended: the load, the interrupt's reason, the log and the live view all follow it. */
function onStep(
  ctx: RunContext,
  underLoad: SectionLoad,
  e: Parameters<NonNullable<RunnerOptions["onStep"]>>[0],
) {
  if (e.status === "start") {
    underLoad.mark(e.phase, e.step);
    ctx.atStep(`${e.phase}/${e.step}`);
    ctx.log.info(`${e.phase}/${e.step}: running`);
    ctx.emit({ kind: "step", phase: e.phase, step: e.step, status: "start" });
  } else {
    underLoad.mark(e.phase, null);
    ctx.log.info(`${e.phase}/${e.step}: ${e.status}`);
    ctx.emit({ kind: "step", phase: e.phase, step: e.step, status: e.status });
  }
}

/** The backend pid of a connected client (pg keeps it from the BackendKeyData message). */
function backendPid(c: pg.Client): number {
  return (c as unknown as { processID: number }).processID;
}
