/**
 * One rehearsal, start to finish: clone → schema → seed → snapshot → migration (traced) → snapshot → checks →
 * budgets → (rollback → checks) → report. Never throws: whatever happens, the caller gets a RunReport whose
 * status says what it means — passed, failed, inconclusive (could not be carried out) or aborted.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { evaluateBudgets } from "../budgets/index.ts";
import { takeSnapshot } from "../catalog/snapshot.ts";
import type { CatalogSnapshot } from "../catalog/types.ts";
import { type InvariantCheck, invariantId, type Stage } from "../checks/check.ts";
import { CHECKS } from "../checks/registry.ts";
import { EmbeddedProvider } from "../clone/embedded.ts";
import { ReplicaLagReader } from "../clone/replica-lag.ts";
import { missingExtensions, missingExtensionsReason } from "../clone/extensions.ts";
import {
  type Clone,
  type CloneOptions,
  type CloneProvider,
  CloneRefusedError,
  CloneUnavailableError,
} from "../clone/provider.ts";
import { SystemProvider } from "../clone/system.ts";
import { UrlProvider } from "../clone/url.ts";
import { AuroraProvider } from "../clone/aurora.ts";
import { ContainerProvider } from "../clone/container.ts";
import { cachedPassword, cacheKey, lookupCache, storeCache } from "../clone/snapshot-cache.ts";
import { splitName } from "../db/sql.ts";
import { runBackfillStep } from "../migration/backfill.ts";
import { BackfillFaults } from "../migration/backfill-faults.ts";
import { locateError, type RunnerConnections, runPhases } from "../migration/runner.ts";
import type { ReplicaLagSource } from "../migration/throttle.ts";
import { type CheckResult, REPORT_SCHEMA_VERSION, type RunReport } from "../report/model.ts";
import {
  formatProblem,
  loadScenario,
  type ResolvedBackfillStep,
  type ResolvedFaultStep,
  type ResolvedScenario,
  type ResolvedSqlStep,
  type ResolvedStep,
  ScenarioError,
} from "../scenario/load.ts";
import type { AuroraTarget, Invariant } from "../scenario/schema.ts";
import type { SqlText } from "../scenario/sql.ts";
import { seedDataset } from "../seed/seeder.ts";
import { syncSeededSequences } from "../seed/sequences.ts";
import { setAckLedger } from "../checks/no-lost-writes.ts";
import { WRITES_PAUSED_FLAG, type RunningLoad } from "../load/engine.ts";
import { mergeLoadReports, mergeObservations } from "../load/merge.ts";
import { nativeEngine } from "../load/native-engine.ts";
import { LoadValidationError, validateLoad } from "../load/validate.ts";
import { LOAD_APPLICATION_NAME } from "../observers/lock-waits.ts";
import { type RunningObservers, startObservers } from "../observers/runner.ts";
import { onInterrupt, registerCleanup, signalExitCode } from "../util/cleanup.ts";
import { systemClock } from "../util/clock.ts";
import { closeClients, connector } from "../util/connect.ts";
import type { Logger, ProgressEvent } from "../util/logger.ts";
import { redact, registerSecret } from "../util/redact.ts";
import { TOOL_VERSION } from "../version.ts";

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

/** The providers a run can use, by target.provider name. */
export function defaultProviders(opts: Pick<RehearsalOptions, "targetUrl" | "allowUnmarked" | "aurora">) {
  return {
    embedded: new EmbeddedProvider(),
    system: new SystemProvider(),
    url: new UrlProvider({ url: opts.targetUrl, allowUnmarked: opts.allowUnmarked }),
    aurora: new AuroraProvider({ settings: opts.aurora ?? {} }),
    container: new ContainerProvider(),
  } satisfies Record<string, CloneProvider>;
}

/** The database every provider creates in its clone (and the cache key includes). */
const CLONE_DATABASE = "rehearsal";

class Inconclusive extends Error {}

/** A flag that cannot apply to this scenario or provider (--rows naming no seeded table…): exit 2, with a fix. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** What to pass instead. */
    readonly fix: string,
  ) {
    super(message);
  }
}

export function newRunId(scenario: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  return `${stamp}-${scenario}-${randomBytes(3).toString("hex")}`;
}

function emptyReport(opts: RehearsalOptions, name: string): RunReport {
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    tool: { name: "rehearse", version: TOOL_VERSION },
    run_id: opts.runId ?? newRunId(name),
    scenario: { name, path: opts.scenarioPath, description: "" },
    started_at: new Date().toISOString(),
    finished_at: "",
    duration_ms: 0,
    status: "inconclusive",
    exit_code: 2,
    context: {
      provider: "embedded",
      settings: {},
      seed: 0,
      scale: opts.scale ?? 1,
      rows: {},
      rollback: opts.rollback ?? false,
      node: process.version,
    },
    timings: [],
    phases: [],
    steps: [],
    locks: [],
    effects: [],
    checks: [],
    failing: [],
    expectation: { verdict: "pass", failing: [], met: false, explanation: "" },
  };
}

/** Runs one rehearsal. Never throws. */
export async function rehearse(opts: RehearsalOptions): Promise<RunReport> {
  const log = opts.logger;
  const emit = (e: ProgressEvent) => {
    try {
      (opts.onEvent ?? log.event?.bind(log))?.(e);
    } catch {
      // Progress display must never break a rehearsal.
    }
  };
  const t0 = performance.now();
  const report = emptyReport(opts, path.basename(path.resolve(opts.scenarioPath)));
  let aborted: NodeJS.Signals | undefined;
  const stopListening = onInterrupt((signal) => {
    aborted = signal;
    report.status = "aborted";
    report.exit_code = signalExitCode(signal);
    report.reason = `interrupted by ${signal} during ${stage}${at ? ` (${at})` : ""}`;
    finish(report, t0);
    opts.onAbort?.(report);
  });
  let stage = "loading the scenario";
  /** The migration step running ("phase/step"), so an aborted report says which phase the signal hit. */
  let at: string | undefined;
  let stageStart = performance.now();
  emit({ kind: "stage", stage });
  /** Closes the current stage's timing and opens the next: the report says where the wall time went. */
  const enter = (next: string) => {
    report.timings.push({ stage, ms: Math.round(performance.now() - stageStart) });
    stage = next;
    at = undefined;
    stageStart = performance.now();
    emit({ kind: "stage", stage: next });
  };
  let clone: Clone | undefined;
  let ackDir: string | undefined;
  let unregisterAckDir: (() => void) | undefined;
  const clients: pg.Client[] = [];
  const pools: pg.Pool[] = [];
  try {
    const rs = await loadScenario(opts.scenarioPath);
    const s = rs.scenario;
    report.scenario = {
      name: s.name,
      path: opts.scenarioPath,
      description: s.description,
      writeup: s.writeup,
    };
    report.run_id = opts.runId ?? newRunId(s.name);
    report.context.seed = s.dataset.seed;
    report.context.settings = s.target.settings;
    report.context.provider = s.target.provider;
    report.expectation = {
      verdict: s.expect.verdict,
      failing: s.expect.failing,
      met: false,
      explanation: "",
    };

    enter("starting the clone");
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
    const useCache = opts.cache ?? s.target.cache;
    /** target.extensions, before the schema runs: its CREATE EXTENSION would fail with less to go on. */
    const checkExtensions = async (on: pg.Client, providerLabel: string) => {
      if (s.target.extensions.length === 0) return;
      enter("checking extensions");
      const missing = await missingExtensions(on, s.target.extensions);
      if (missing.length > 0) {
        const num = Number((await on.query("SHOW server_version_num")).rows[0].server_version_num);
        throw new Inconclusive(missingExtensionsReason(providerLabel, Math.floor(num / 10000), missing));
      }
    };
    /** schema.sql, seeding, sequences past the seeded values, dataset.after: the dataset as the scenario says. */
    const prepareDataset = async (db: pg.Client, connectTo: () => Promise<pg.Client>) => {
      enter("creating the schema");
      await runSetupSql(db, rs.schemaSql, "dataset.schema");
      await checkDatasetTables(db, rs);
      enter("seeding");
      const seedStart = performance.now();
      const seeded = await seedDataset(connectTo, s.dataset, {
        rows,
        onProgress: (p) => {
          log.progress(`seeding ${p.table}: ${p.rows}/${p.total} rows (${Math.round(p.rowsPerS)} rows/s)`);
          emit({ kind: "seed", table: p.table, rows: p.rows, total: p.total, rowsPerS: p.rowsPerS });
        },
      });
      const seedMs = performance.now() - seedStart;
      const totalRows = seeded.reduce((n, t) => n + t.rows, 0);
      report.seeding = {
        tables: seeded,
        rows: totalRows,
        duration_ms: Math.round(seedMs),
        rows_per_s: Math.round(totalRows / (seedMs / 1000)),
      };
      log.info(`seeded ${totalRows} rows in ${Math.round(seedMs)} ms (${report.seeding.rows_per_s} rows/s)`);
      const moved = await syncSeededSequences(db, s.dataset);
      if (moved.length > 0) log.info(`advanced ${moved.join(", ")} past the seeded values`);
      if (rs.afterSql) {
        enter("running dataset.after");
        await runSetupSql(db, rs.afterSql, "dataset.after");
      }
    };
    const serverLog = (l: string) => log.debug(l);
    /** The run's clone (with its replica, if asked for); a machine that cannot make it is inconclusive. */
    const startClone = async (options: CloneOptions): Promise<Clone> => {
      try {
        return await provider.start({
          settings: s.target.settings,
          version: s.target.version,
          image: s.target.image,
          replica: s.target.replica
            ? { settings: s.target.replica_settings, cpu: s.target.replica_cpu }
            : undefined,
          log: serverLog,
          database: CLONE_DATABASE,
          runId: report.run_id,
          ...options,
        });
      } catch (err) {
        if (err instanceof CloneUnavailableError) throw new Inconclusive(err.message);
        // A provider the scenario chose is refused for what scenario.yaml says: point at that line.
        if (err instanceof CloneRefusedError && !opts.provider)
          throw new Inconclusive(
            located(rs, ["target", s.target.aurora ? "aurora" : "provider"], err.message, err.fix),
          );
        throw err;
      }
    };
    let running: Clone;
    let cfg: pg.ClientConfig;
    let connect: () => Promise<pg.Client>;
    /** Replaced after a restart_server fault, like the runner's two connections. */
    let db: pg.Client;
    if (useCache && provider.snapshots) {
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
        serverVersion: provider.snapshots.version(),
        toolVersion: TOOL_VERSION,
      });
      let entry = await lookupCache(key);
      const hit = entry !== undefined;
      if (entry) {
        log.info(`seeded cluster found in the cache (${key}): not seeding`);
        report.seeding = entry.meta.seeding;
      } else {
        log.info(`no seeded cluster in the cache for ${key}: seeding one for it`);
        const build = await provider.snapshots.startKeepable({
          settings: s.target.settings,
          version: s.target.version,
          log: serverLog,
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
          await checkExtensions(bdb, build.provider);
          await prepareDataset(bdb, buildConnect);
          if (aborted) return report;
          enter("storing the seeded cluster in the cache");
          await closeBuild();
          entry = await storeCache(await build.stopAndKeep(), {
            key,
            scenario: s.name,
            created_at: new Date().toISOString(),
            server_version: provider.snapshots.version(),
            postgres_version: pgVersion,
            rows,
            seeding: report.seeding!,
          });
        } finally {
          await closeBuild();
          await build.stop().catch(() => {});
        }
      }
      enter("cloning the cached cluster");
      const password = await cachedPassword(entry);
      registerSecret(password);
      clone = running = await startClone({
        from: { dataDir: entry.dataDir, password, source: `cache:${key}` },
      });
      cfg = running.connectionConfig();
      if (typeof cfg.password === "string") registerSecret(cfg.password);
      checkCapabilities(rs, running);
      connect = connector(cfg, clients);
      db = await connect();
      report.context.clone = {
        method: running.method ?? "initdb",
        cache: hit ? "hit" : "miss",
        cache_key: key,
      };
      report.context.postgres_version = (await db.query("SHOW server_version")).rows[0].server_version;
      log.info(
        `clone ready (${running.method}, cache ${hit ? "hit" : "miss"}): PostgreSQL ${report.context.postgres_version} at ${running.displayUrl()}`,
      );
      if (aborted) return report;
      // The cached cluster's schema ran on the same binaries; checked again on the clone the run uses.
      await checkExtensions(db, running.provider);
    } else {
      if (useCache)
        log.info(
          `the ${provider.name} provider does not use the seeded-cluster cache (target.cache ignored)`,
        );
      log.info(`starting ${provider.name} clone`);
      clone = running = await startClone({});
      cfg = running.connectionConfig();
      if (typeof cfg.password === "string") registerSecret(cfg.password);
      checkCapabilities(rs, running);
      connect = connector(cfg, clients);
      db = await connect();
      report.context.clone = {
        method: running.method ?? "initdb",
        cache: "off",
        ...(running.image ? { image: running.image } : {}),
      };
      report.context.postgres_version = (await db.query("SHOW server_version")).rows[0].server_version;
      log.info(`clone ready: PostgreSQL ${report.context.postgres_version} at ${running.displayUrl()}`);
      if (aborted) return report;
      await checkExtensions(db, running.provider);
      if (running.hasData) {
        log.info("the clone holds its data already: not creating the schema, not seeding");
      } else {
        await prepareDataset(db, connect);
      }
    }
    if (running.replica) {
      report.context.replica = { settings: s.target.replica_settings };
      log.info(`replica streaming at ${running.replica.displayUrl()}`);
    }
    /** Swaps a connection a restart killed for a fresh one (the dead one is closed and forgotten). */
    const replace = async (dead: pg.Client): Promise<pg.Client> => {
      const i = clients.indexOf(dead);
      if (i >= 0) clients.splice(i, 1);
      await endWithin(dead, 1000);
      return connect();
    };
    if (aborted) return report;

    enter("checking the scenario against the catalog");
    const before = await takeSnapshot(db);
    checkReferences(rs, before);
    const hotOids = new Set<number>();
    for (const t of s.target.hot_tables) {
      const table = before.tables[qualify(t)];
      if (!table)
        throw new Inconclusive(
          located(
            rs,
            ["target", "hot_tables"],
            `hot table "${t}" does not exist after seeding`,
            "name a table that schema.sql creates",
          ),
        );
      hotOids.add(table.oid);
    }
    const gathered = new Map<string, { before?: unknown; after?: unknown }>();
    await gatherAll(db, s.invariants, "before", gathered);
    if (running.replica?.settle) {
      // The seeding's WAL is not the migration's: start with the replica caught up (then capped, if asked).
      enter("waiting for the replica to catch up");
      await running.replica.settle();
    }

    if (s.load) {
      enter("checking the load against the catalog");
      try {
        await validateLoad(db, rs, before);
      } catch (err) {
        if (err instanceof LoadValidationError) throw new Inconclusive(err.message);
        throw err;
      }
      ackDir = await mkdtemp(path.join(tmpdir(), "rehearse-ack-"));
      unregisterAckDir = registerCleanup(`remove ${ackDir}`, () =>
        rm(ackDir!, { recursive: true, force: true }),
      );
      setAckLedger(path.join(ackDir, "acked.txt"));
    }

    /**
     * Runs phases with the load (and the observers) around them: warmup, the steps with every operation
     * attributed to the step running at its intended start, cooldown. Without a load section, just the steps.
     */
    const runUnderLoad = async (
      section: "migration" | "rollback",
      phases: { name: string; steps: ResolvedStep[] }[],
      conns: { migrationDb: pg.Client; monitor: pg.Client },
    ) => {
      let load: RunningLoad | undefined;
      let observers: RunningObservers | undefined;
      let current: { phase: string | null; step: string | null } = { phase: null, step: null };
      if (s.load) {
        enter(`starting the load and warming up (${section})`);
        const started = await nativeEngine.start({
          connect,
          load: s.load,
          runId: report.run_id,
          t0,
          ackFile: path.join(ackDir!, "acked.txt"),
          logger: log,
        });
        load = started;
        try {
          observers = await startObservers({
            connect,
            t0,
            migrationPid: () => backendPid(conns.migrationDb),
            current: () => current,
          });
        } catch (err) {
          await started.stop().catch(() => {});
          throw new Inconclusive(`the observers could not start: ${(err as Error).message}`);
        }
        if (section === "migration") {
          current = { phase: "warmup", step: null };
          started.mark("warmup", null);
          log.info(`load: warming up for ${s.load.warmup} ms`);
          await sleep(s.load.warmup);
        }
      }
      enter(section === "migration" ? "running the migration" : "rehearsing the rollback");
      // Once a second: elapsed times move, and the load's last completed second (rate, p99) if it runs.
      let locksHeld = 0;
      const ticker = setInterval(() => {
        const snap = load?.snapshot?.();
        const blocked = observers?.live().blocked;
        emit({
          kind: "tick",
          load: snap ? { writesPerS: snap.writesPerS, p99Ms: snap.p99Ms, blocked, locksHeld } : { locksHeld },
        });
      }, 1000);
      ticker.unref();
      const res = await runPhases(phases, {
        db: conns.migrationDb,
        monitor: conns.monitor,
        t0,
        hotOids,
        shouldStop: () => aborted !== undefined || load?.failure() !== undefined,
        ...backfillHooks,
        onLocksHeld: (n) => {
          locksHeld = n;
        },
        fault: async (step: ResolvedFaultStep): Promise<RunnerConnections | undefined> => {
          switch (step.fault) {
            case "kill_backfill_worker":
              backfillFaults.arm(step.after_batches);
              return undefined;
            case "terminate_load_connections": {
              const n = await terminateLoadConnections(conns.migrationDb);
              log.info(`${step.phase}/${step.name}: terminated ${n} load connection(s)`);
              return undefined;
            }
            case "restart_server": {
              const restart = async () => {
                const t = performance.now();
                await running.restart!();
                log.info(
                  `${step.phase}/${step.name}: server restarted in ${Math.round(performance.now() - t)} ms`,
                );
              };
              if (observers) await observers.interrupt(restart);
              else await restart();
              // Every session died with the server: the runner's two and the harness's own.
              db = await replace(db);
              conns.monitor = await replace(conns.monitor);
              conns.migrationDb = await replace(conns.migrationDb);
              return { db: conns.migrationDb, monitor: conns.monitor };
            }
            default:
              throw new Error(`fault "${step.fault}" is not available`);
          }
        },
        control: load
          ? (step) =>
              load!.setFlags(
                step.kind === "flag" ? step.flags : { [WRITES_PAUSED_FLAG]: step.kind === "pause_writes" },
              )
          : undefined,
        onStep: (e) => {
          if (e.status === "start") {
            current = { phase: e.phase, step: e.step };
            at = `${e.phase}/${e.step}`;
            load?.mark(e.phase, e.step);
            log.info(`${e.phase}/${e.step}: running`);
            emit({ kind: "step", phase: e.phase, step: e.step, status: "start" });
          } else {
            current = { phase: e.phase, step: null };
            load?.mark(e.phase, null);
            log.info(`${e.phase}/${e.step}: ${e.status}`);
            emit({ kind: "step", phase: e.phase, step: e.step, status: e.status });
          }
        },
      }).finally(() => clearInterval(ticker));
      report.steps.push(...res.steps);
      report.phases.push(...res.phases);
      report.locks.push(...res.locks);
      report.effects.push(...res.effects);
      if (load && s.load) {
        if (section === "migration") {
          current = { phase: "cooldown", step: null };
          load.mark("cooldown", null);
          await sleep(s.load.cooldown);
        }
        enter(`stopping the load (${section})`);
        const failure = load.failure();
        const lr = await load.stop();
        const obs = await observers!.stop();
        report.load = report.load ? mergeLoadReports(report.load, lr) : lr;
        report.observations = report.observations ? mergeObservations(report.observations, obs) : obs;
        if (failure) res.harnessError ??= `the load stopped early: ${failure}`;
        const broken = brokenLoad(lr);
        if (broken) res.harnessError ??= broken;
        if (obs.failure) res.harnessError ??= `an observer died: ${obs.failure}`;
      }
      return res;
    };

    // The replica's lag for the backfill throttle, read on the primary through a pool (it outlives a restart).
    const lagPool = running.replica
      ? new pg.Pool({ ...cfg, max: 1, application_name: "rehearse-replica-lag" })
      : undefined;
    lagPool?.on("error", () => {});
    if (lagPool) pools.push(lagPool);
    const replicaLag = lagPool ? new ReplicaLagReader(lagPool) : undefined;
    // Backfill steps open their own connections (one per worker); a kill_backfill_worker fault arms the next one.
    const backfillFaults = new BackfillFaults();
    const shouldStopBackfill = () => aborted !== undefined;
    const backfillHooks = {
      backfill: (step: ResolvedBackfillStep) =>
        runBackfillStep(step, {
          connectionConfig: cfg,
          clock: systemClock,
          replicaLag: opts.replicaLag ?? replicaLag,
          faults: backfillFaults,
          shouldStop: shouldStopBackfill,
          locate: (at: (string | number)[]) => ({
            file: path.relative(process.cwd(), rs.file) || rs.file,
            ...rs.locate(at),
          }),
          onProgress: (p) => {
            const eta = p.etaMs !== undefined ? `, ETA ${Math.ceil(p.etaMs / 1000)} s` : "";
            log.progress(
              `backfill ${p.step}: ${p.rows} rows, ${Math.floor(p.fraction * 100)}% of the key range (${Math.round(p.rowsPerS)} rows/s${eta})`,
            );
            emit({ kind: "backfill", ...p });
          },
        }),
    };

    const conns = { monitor: await connect(), migrationDb: await connect() };
    const mig = await runUnderLoad("migration", rs.phases, conns);
    if (aborted) return report;
    if (mig.harnessError) throw new Inconclusive(mig.harnessError);

    enter("checking invariants");
    const migrationOk = mig.steps.every((st) => st.status === "success");
    const checks: CheckResult[] = [migrationCompleted(mig.steps)];
    if (migrationOk) {
      const after = await takeSnapshot(db);
      await gatherAll(db, s.invariants, "after", gathered);
      checks.push(...evaluateAll(s.invariants, before, after, gathered, "after_migration"));
    } else {
      for (const inv of s.invariants) checks.push(skipped(inv, "the migration did not complete"));
    }
    checks.push(...evaluateBudgets(s.budgets, report));

    if (opts.rollback && migrationOk && rs.rollback.length > 0) {
      log.info("rolling back");
      const rb = await runUnderLoad("rollback", [{ name: "rollback", steps: rs.rollback }], conns);
      if (aborted) return report;
      if (rb.harnessError) throw new Inconclusive(rb.harnessError);
      const rbOk = rb.steps.every((st) => st.status === "success");
      checks.push({ ...migrationCompleted(rb.steps), id: "rollback_completed", stage: "after_rollback" });
      if (rbOk) {
        const afterRb = await takeSnapshot(db);
        const invs = rollbackInvariants(s.invariants, afterRb);
        const gRb = new Map<string, { before?: unknown; after?: unknown }>();
        for (const [k, v] of gathered) gRb.set(k, { before: v.before });
        await gatherAll(db, invs, "after", gRb);
        checks.push(
          ...evaluateAll(invs, before, afterRb, gRb, "after_rollback").map((c) => ({
            ...c,
            id: `${c.id}@rollback`,
          })),
        );
      }
    } else if (opts.rollback && rs.rollback.length === 0) {
      checks.push({
        id: "rollback_completed",
        kind: "invariant",
        status: "error",
        summary: "--rollback was asked for but the scenario has no rollback section",
        findings: [],
        remediation: "add a rollback: {steps: […]} section to scenario.yaml, or run without --rollback",
        stage: "after_rollback",
      });
    }
    report.checks = orderChecks(checks);
    report.failing = report.checks.filter((c) => c.status === "fail").map((c) => c.id);
    const errors = report.checks.filter((c) => c.status === "error");
    if (errors.length > 0) {
      report.status = "inconclusive";
      report.exit_code = 2;
      report.reason = `could not evaluate ${errors.map((c) => `${c.id} (${c.summary})`).join("; ")}`;
    } else if (report.failing.length > 0) {
      report.status = "failed";
      report.exit_code = 1;
    } else {
      report.status = "passed";
      report.exit_code = 0;
    }
  } catch (err) {
    if (!aborted) {
      report.status = "inconclusive";
      report.exit_code = 2;
      // Redacted here, not only when written: the report object is API too, and an error may quote a secret.
      report.reason = redact(
        err instanceof ScenarioError
          ? `the scenario is invalid:\n${err.problems.map(formatProblem).join("\n")}`
          : err instanceof CloneRefusedError || err instanceof UsageError
            ? `${err.message}\nfix: ${err.fix}`
            : err instanceof Inconclusive
              ? err.message
              : `harness error while ${stage}: ${(err as Error).message}`,
      );
      if (
        !(err instanceof ScenarioError) &&
        !(err instanceof Inconclusive) &&
        !(err instanceof CloneRefusedError) &&
        !(err instanceof UsageError)
      )
        log.debug((err as Error).stack ?? "");
    }
  } finally {
    enter("stopping the clone");
    stopListening();
    await closeClients(clients);
    for (const p of pools) await p.end().catch(() => {});
    setAckLedger(undefined);
    if (ackDir) {
      await rm(ackDir, { recursive: true, force: true }).catch(() => {});
      unregisterAckDir?.();
    }
    if (clone) {
      log.info("stopping the clone");
      await clone.stop().catch((e: Error) => {
        log.info(`could not stop the clone cleanly: ${e.message}`);
        if (report.context.clone) report.context.clone.teardown_error = e.message;
      });
    }
    emit({ kind: "done" });
  }
  report.timings.push({ stage, ms: Math.round(performance.now() - stageStart) });
  finish(report, t0);
  return report;
}

/** The backend pid of a connected client (pg keeps it from the BackendKeyData message). */
function backendPid(c: pg.Client): number {
  return (c as unknown as { processID: number }).processID;
}

async function endWithin(c: pg.Client, ms: number): Promise<void> {
  await Promise.race([c.end().catch(() => {}), sleep(ms)]);
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

function finish(report: RunReport, t0: number): void {
  report.finished_at = new Date().toISOString();
  report.duration_ms = Math.round(performance.now() - t0);
  report.expectation = judgeExpectation(report);
}

/** Did the run reach the scenario's `expect`? A hazard must fail for exactly the named checks. */
export function judgeExpectation(report: RunReport): RunReport["expectation"] {
  const e = report.expectation;
  if (report.status === "inconclusive" || report.status === "aborted") {
    return { ...e, met: false, explanation: `the run is ${report.status}: ${report.reason ?? ""}` };
  }
  if (e.verdict === "pass") {
    const met = report.status === "passed";
    return {
      ...e,
      met,
      explanation: met
        ? "expected to pass and passed"
        : `expected to pass; failing: ${report.failing.join(", ")}`,
    };
  }
  const want = new Set(e.failing);
  const got = new Set(report.failing);
  const missing = [...want].filter((id) => !got.has(id));
  const extra = [...got].filter((id) => !want.has(id));
  const met = missing.length === 0 && extra.length === 0;
  return {
    ...e,
    met,
    explanation: met
      ? `failed as expected, for ${e.failing.join(", ")} and nothing else`
      : [
          missing.length ? `expected to fail but passed: ${missing.join(", ")}` : "",
          extra.length ? `failed unexpectedly: ${extra.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; "),
  };
}

/** Rows per table: an explicit count, else the declared rows times the scale. "*" names the largest table. */
export function resolveRows(
  rs: ResolvedScenario,
  opts: Pick<RehearsalOptions, "rows" | "scale">,
): Record<string, number> {
  const tables = rs.scenario.dataset.tables;
  const seeded = tables.map((t) => t.name);
  for (const [name, n] of Object.entries(opts.rows ?? {})) {
    if (name === "*" ? seeded.length > 0 : seeded.includes(name)) continue;
    throw new UsageError(
      name === "*"
        ? `--rows ${n}: the dataset seeds no table (dataset.tables is empty)`
        : `--rows ${name}=${n}: the dataset seeds no table "${name}" (it seeds: ${seeded.join(", ") || "none"})`,
      seeded.length > 0
        ? `name a table from dataset.tables (--rows ${seeded[0]}=${n}), or give --rows ${n} for the largest`
        : "add the table to dataset.tables, or drop --rows",
    );
  }
  const largest = [...tables].sort((a, b) => b.rows - a.rows)[0]?.name;
  const rows: Record<string, number> = {};
  for (const t of tables) {
    const explicit = opts.rows?.[t.name] ?? (t.name === largest ? opts.rows?.["*"] : undefined);
    rows[t.name] = explicit ?? Math.max(1, Math.round(t.rows * (opts.scale ?? 1)));
  }
  return rows;
}

/** Runs schema.sql / dataset.after statement by statement; an error there means the rehearsal cannot start. */
export async function runSetupSql(db: pg.Client, sql: SqlText, field: string): Promise<void> {
  const step: ResolvedSqlStep = {
    kind: "sql",
    section: "migration",
    phase: "setup",
    name: field,
    sqlText: sql,
  };
  for (const stmt of sql.statements) {
    try {
      await db.query(stmt.sql);
    } catch (err) {
      if (typeof (err as { code?: unknown }).code !== "string") throw err;
      const info = locateError(err as Error & { code: string }, step, stmt);
      throw new Inconclusive(
        `${info.file}:${info.line ?? "?"}${info.column ? `:${info.column}` : ""}: ${field} failed: ${info.message}` +
          `${info.sqlstate ? ` (SQLSTATE ${info.sqlstate})` : ""}${info.excerpt ? `\n${info.excerpt}` : ""}` +
          `${info.hint ? `\nhint: ${info.hint}` : ""}\nfix: correct the SQL in ${info.file}`,
      );
    }
  }
}

function qualify(name: string): string {
  const { schema, name: n } = splitName(name);
  return `${schema}.${n}`;
}

function located(rs: ResolvedScenario, at: (string | number)[], message: string, fix: string): string {
  const { line, column } = rs.locate(at);
  const rel = path.relative(process.cwd(), rs.file);
  return formatProblem({
    file: rel,
    line,
    column,
    path: at
      .map((k) => (typeof k === "number" ? `[${k}]` : k))
      .join(".")
      .replace(/\.\[/g, "["),
    message,
    fix,
  });
}

/** Tables an invariant reads before the migration must exist before it: a typo is bad input, not a failure. */
function checkReferences(rs: ResolvedScenario, before: CatalogSnapshot): void {
  const problems: string[] = [];
  /** A column the check reads from a table that exists before the migration (which cannot have added it yet). */
  const columnRefs = (inv: Invariant): [(string | number)[], string, string][] => {
    if (inv.check === "sequence" && !inv.sequence) return [[["column"], inv.table, inv.column]];
    if (inv.check === "row_parity" && inv.source_at === "before")
      return [
        [["key"], inv.source, inv.key],
        ...inv.columns.map((c, j): [(string | number)[], string, string] => [["columns", j], inv.source, c]),
      ];
    return [];
  };
  for (const [i, inv] of rs.scenario.invariants.entries()) {
    for (const [field, table, column] of columnRefs(inv)) {
      const t = before.tables[qualify(table)];
      if (t && !t.columns.some((c) => c.name === column))
        problems.push(
          located(
            rs,
            ["invariants", i, ...field],
            `table "${table}" has no column "${column}" before the migration`,
            `name a column of ${table} (have: ${t.columns.map((c) => c.name).join(", ")})`,
          ),
        );
    }
  }
  for (const [i, inv] of rs.scenario.invariants.entries()) {
    const refs: [string, string][] = [];
    if ("original" in inv) refs.push(["original", inv.original]);
    if (inv.check === "row_parity" && inv.source_at === "before") refs.push(["source", inv.source]);
    // Without `sequence:` the intended sequence is the one the table used before, so it must exist then; with
    // it, the table may be one the migration creates (000's events_partitioned, given the shared sequence).
    if (inv.check === "sequence" && !inv.sequence) refs.push(["table", inv.table]);
    for (const [field, table] of refs) {
      if (!before.tables[qualify(table)]) {
        problems.push(
          located(
            rs,
            ["invariants", i, field],
            `table "${table}" does not exist before the migration`,
            `name a table that schema.sql creates (have: ${Object.keys(before.tables).join(", ")})`,
          ),
        );
      }
    }
  }
  problems.push(...backfillReferenceProblems(rs, before));
  if (problems.length > 0)
    throw new Inconclusive(`the scenario names tables or columns that do not exist:\n${problems.join("\n")}`);
}

/**
 * A backfill's source, target and key must exist when it starts. A table or column that neither exists
 * before the migration nor is named by any SQL step before the backfill cannot come into being in time: bad
 * input, found before the first step rather than as a failed migration. (A name an earlier step mentions is
 * given the benefit of the doubt; the step itself then fails if it was wrong.)
 */
function backfillReferenceProblems(rs: ResolvedScenario, before: CatalogSnapshot): string[] {
  const problems: string[] = [];
  const earlierSql: string[] = [];
  const mentioned = (name: string) => {
    const word = new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "i");
    return earlierSql.some((sql) => word.test(sql));
  };
  const visit = (st: ResolvedStep) => {
    if (st.kind === "sql") earlierSql.push(st.sqlText.text);
    if (st.kind !== "backfill") return;
    const b = st.backfill;
    for (const field of ["source", "target"] as const) {
      const table = b[field];
      if (!before.tables[qualify(table)] && !mentioned(splitName(table).name))
        problems.push(
          located(
            rs,
            [...st.at, "backfill", field],
            `table "${table}" does not exist before the migration, and no step before the backfill creates it`,
            `name a table that schema.sql or an earlier step creates (have: ${Object.keys(before.tables).join(", ")})`,
          ),
        );
    }
    const source = before.tables[qualify(b.source)];
    if (source && !source.columns.some((c) => c.name === b.key) && !mentioned(b.key))
      problems.push(
        located(
          rs,
          [...st.at, "backfill", "key"],
          `table "${b.source}" has no column "${b.key}", and no step before the backfill adds it`,
          `name an integer column of ${b.source} (have: ${source.columns.map((c) => c.name).join(", ")})`,
        ),
      );
  };
  for (const phase of rs.phases) for (const st of phase.steps) visit(st);
  for (const st of rs.rollback) visit(st);
  return problems;
}

/** dataset.tables against what schema.sql created: a table or generator column it lacks is bad input. */
async function checkDatasetTables(db: pg.Client, rs: ResolvedScenario): Promise<void> {
  const problems: string[] = [];
  for (const [i, t] of rs.scenario.dataset.tables.entries()) {
    const { schema, name } = splitName(t.name);
    const r = await db.query<{ attname: string }>(
      `SELECT a.attname FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, name],
    );
    if (r.rows.length === 0) {
      problems.push(
        located(
          rs,
          ["dataset", "tables", i, "name"],
          `table "${t.name}" does not exist after schema.sql ran`,
          "create it in schema.sql, or fix the name in dataset.tables",
        ),
      );
      continue;
    }
    const have = r.rows.map((x) => x.attname);
    for (const col of Object.keys(t.columns).filter((c) => !have.includes(c)))
      problems.push(
        located(
          rs,
          ["dataset", "tables", i, "columns", col],
          `table "${t.name}" has no column "${col}"`,
          `give generators only for its columns (have: ${have.join(", ")})`,
        ),
      );
  }
  if (problems.length > 0)
    throw new Inconclusive(
      `the dataset names tables or columns schema.sql does not create:\n${problems.join("\n")}`,
    );
}

async function gatherAll(
  db: pg.Client,
  invariants: Invariant[],
  stage: Stage,
  into: Map<string, { before?: unknown; after?: unknown }>,
): Promise<void> {
  for (const inv of invariants) {
    const check = CHECKS[inv.check] as InvariantCheck | undefined;
    if (!check?.gather || !(check.stages ?? []).includes(stage)) continue;
    const id = invariantId(inv);
    const slot = into.get(id) ?? {};
    try {
      slot[stage] = await check.gather(db, inv, stage, stage === "after" ? slot.before : undefined);
    } catch (err) {
      // A gather that fails leaves the slot empty; evaluate reports that as an error (inconclusive).
      slot[stage] = { gatherError: (err as Error).message };
    }
    into.set(id, slot);
  }
}

function evaluateAll(
  invariants: Invariant[],
  before: CatalogSnapshot,
  after: CatalogSnapshot,
  gathered: Map<string, { before?: unknown; after?: unknown }>,
  stage: CheckResult["stage"],
): CheckResult[] {
  return invariants.map((inv) => {
    const id = invariantId(inv);
    const check = CHECKS[inv.check] as InvariantCheck | undefined;
    if (!check)
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `unknown check ${inv.check}`,
        findings: [],
        stage,
      };
    const g = gathered.get(id) ?? {};
    const gerr = [g.before, g.after].find((x) => x && typeof x === "object" && "gatherError" in x) as
      { gatherError: string } | undefined;
    if (gerr) {
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `could not read the data: ${gerr.gatherError}`,
        findings: [],
        stage,
      };
    }
    try {
      return { id, kind: "invariant", ...check.evaluate(inv, { before, after, gathered: g }), stage };
    } catch (err) {
      return {
        id,
        kind: "invariant",
        status: "error",
        summary: `check crashed: ${(err as Error).message}`,
        findings: [],
        stage,
      };
    }
  });
}

/** After a rollback the original table must be back as it was: compare it with itself. */
function rollbackInvariants(invariants: Invariant[], afterRb: CatalogSnapshot): Invariant[] {
  const out: Invariant[] = [];
  for (const inv of invariants) {
    switch (inv.check) {
      case "indexes_preserved":
      case "triggers_preserved":
      case "constraints_preserved":
      case "grants_preserved":
      case "rls_preserved":
      case "fks_preserved":
        out.push({ ...inv, target: inv.original });
        break;
      case "row_parity":
        if (inv.source_at === "before") out.push({ ...inv, target: inv.source });
        break;
      case "sequence":
        out.push({ ...inv, also: inv.also.filter((t) => afterRb.tables[qualify(t)] !== undefined) });
        break;
      case "no_lost_writes":
        // Every write acknowledged up to the end of the rollback, the rollback's own included, must still be there.
        out.push(inv);
        break;
      default:
        // Partition checks describe the migrated shape, which a rollback undoes on purpose.
        break;
    }
  }
  return out;
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

function migrationCompleted(steps: RunReport["steps"]): CheckResult {
  const failed = steps.filter((s) => s.status === "error");
  const notRun = steps.filter((s) => s.status === "not_executed");
  return {
    id: "migration_completed",
    kind: "invariant",
    status: failed.length > 0 ? "fail" : "pass",
    summary:
      failed.length > 0
        ? `step ${failed[0]!.phase}/${failed[0]!.name} failed: ${failed[0]!.error?.message ?? "error"}${notRun.length ? `; ${notRun.length} step(s) not executed` : ""}`
        : `all ${steps.length} steps succeeded`,
    findings: failed.map(
      (s) =>
        `${s.phase}/${s.name}: ${s.error?.sqlstate ? `[${s.error.sqlstate}] ` : ""}${s.error?.message ?? ""}${s.error?.file ? ` at ${s.error.file}:${s.error.line ?? "?"}` : ""}`,
    ),
    remediation: failed[0]?.error?.hint,
    stage: "after_migration",
  };
}

function skipped(inv: Invariant, why: string): CheckResult {
  return { id: invariantId(inv), kind: "invariant", status: "skipped", summary: why, findings: [] };
}

/** Failures first, then errors, then the rest in scenario order. */
function orderChecks(checks: CheckResult[]): CheckResult[] {
  const rank = { fail: 0, error: 1, pass: 2, skipped: 3 } as const;
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank[a.c.status] - rank[b.c.status] || a.i - b.i)
    .map((x) => x.c);
}
