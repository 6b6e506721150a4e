/** The fault steps a scenario can inject, one handler each, next to the section runner that calls them. */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Clone } from "../clone/provider.ts";
import type { BackfillFaults } from "../migration/backfill-faults.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import type { ResolvedFaultStep } from "../scenario/load.ts";
import type { Logger } from "../util/logger.ts";
import type { SectionLoad } from "./load-session.ts";

/** The run's connections to the clone: the harness's own, the runner's two. A restart replaces all three. */
export interface Connections {
  db: pg.Client;
  monitor: pg.Client;
  migrationDb: pg.Client;
}

/** What a fault may act on. */
export interface FaultTarget {
  log: Logger;
  clone: Clone;
  conns: Connections;
  /** The run's client list (a replaced connection leaves it) and how to open a fresh one. */
  clients: pg.Client[];
  connect: () => Promise<pg.Client>;
  backfillFaults: BackfillFaults;
  underLoad: SectionLoad;
}

/** Carries out (or arms) one fault; resolves with fresh connections when it killed the old ones. */
type FaultHandler = (step: ResolvedFaultStep, on: FaultTarget) => Promise<Connections | undefined>;

const HANDLERS: Record<ResolvedFaultStep["fault"], FaultHandler> = {
  // Armed here, carried out by the next backfill step after its `after_batches`.
  kill_backfill_worker: async (step, on) => {
    on.backfillFaults.arm(step.after_batches);
    return undefined;
  },
  terminate_load_connections: async (step, on) => {
    const n = await terminateLoadConnections(on.conns.migrationDb);
    on.log.info(`${step.phase}/${step.name}: terminated ${n} load connection(s)`);
    return undefined;
  },
  restart_server: async (step, on) => {
    await on.underLoad.outage(async () => {
      const t = performance.now();
      await on.clone.restart!();
      on.log.info(`${step.phase}/${step.name}: server restarted in ${Math.round(performance.now() - t)} ms`);
    });
    // Every session died with the server: the runner's two and the harness's own.
    const db = await reconnect(on, on.conns.db);
    const monitor = await reconnect(on, on.conns.monitor);
    const migrationDb = await reconnect(on, on.conns.migrationDb);
    return { db, monitor, migrationDb };
  },
};

export async function runFault(step: ResolvedFaultStep, on: FaultTarget): Promise<Connections | undefined> {
  const handler = HANDLERS[step.fault] as FaultHandler | undefined;
  if (!handler) throw new Error(`fault "${step.fault}" is not available`);
  return handler(step, on);
}

/** Swaps a connection a restart killed for a fresh one (the dead one is closed and forgotten). */
async function reconnect(on: FaultTarget, dead: pg.Client): Promise<pg.Client> {
  const i = on.clients.indexOf(dead);
  if (i >= 0) on.clients.splice(i, 1);
  await Promise.race([dead.end().catch(() => {}), sleep(1000)]);
  return on.connect();
}

/**
 * The fault terminate_load_connections: ends every backend of the load engine (its writers and readers, its
 * source reader and flag poller, all named by LOAD_APPLICATION_NAME), waiting until each has exited. The
 * engine reconnects; what was in flight counts as an error or an indeterminate write.
 */
async function terminateLoadConnections(db: pg.Client): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n
       FROM pg_stat_activity
      WHERE (application_name = $1 OR starts_with(application_name, $1 || '-')) AND pid <> pg_backend_pid()`,
    [LOAD_APPLICATION_NAME],
  );
  const n = res.rows[0]?.n ?? 0;
  if (n === 0) throw new Error("no load connection was open to terminate");
  return n;
}
