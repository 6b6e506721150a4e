/**
 * A streaming physical standby of a running cluster, made with the low-level base backup API (PostgreSQL docs,
 * "Making a Base Backup Using the Low Level API"): pg_backup_start on a connection kept open, a file copy of
 * the data directory, pg_backup_stop, whose label goes into the copy as backup_label. pg_basebackup is not
 * shipped with the embedded binaries, and a system one of another major version would refuse the server.
 *
 * The standby streams from a physical replication slot created before the backup, so the primary keeps every
 * WAL segment the standby has not received yet. Its password sits in a passfile (mode 0600) next to its data
 * directory, never in a command line, a conninfo or a log line.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, chown, cp, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { literal } from "../db/sql.ts";
import { registerCleanup } from "../util/cleanup.ts";
import { type CpuLimit, limitCpu } from "./cpu-limit.ts";
import { loopbackConfig, loopbackDisplayUrl, type Replica } from "./provider.ts";

const run = promisify(execFile);

/** The slot and the application_name the standby streams under (pg_stat_replication.application_name). */
export const REPLICA_SLOT = "rehearse_replica";
export const REPLICA_APPLICATION_NAME = "rehearse_replica";

const READY_TIMEOUT_MS = 60_000;
const STREAMING_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Standby defaults: report replay position every second (the primary's replay_lag is only as fresh as the
 * standby's last reply) and retry a lost primary (a restart) every 500 ms rather than every 5 s.
 */
const STANDBY_DEFAULTS: Record<string, string | number | boolean> = {
  hot_standby: "on",
  wal_receiver_status_interval: "1s",
  wal_retrieve_retry_interval: "500ms",
};

/**
 * Paths (relative to the data directory, "/"-separated) whose *contents* a base backup leaves out: WAL is
 * streamed instead, the rest is rebuilt or meaningless on another server. The directories themselves stay.
 */
const EMPTY_DIRS = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_stat_tmp",
  "pg_subtrans",
]);
/** Files left out wherever they are. */
const SKIP_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "backup_label.old",
  "tablespace_map",
  "standby.signal",
  "recovery.signal",
  "pg_internal.init",
  "current_logfiles",
]);

/** Whether a base backup copies `rel` (a path relative to the data directory). */
export function backupIncludes(rel: string): boolean {
  const parts = rel.split(path.sep);
  const name = parts[parts.length - 1]!;
  if (SKIP_FILES.has(name) || name.startsWith("pgsql_tmp")) return false;
  // Contents of an emptied directory (but not the directory itself).
  return !(parts.length > 1 && EMPTY_DIRS.has(parts[0]!));
}

/** pgpass escapes ":" and "\" with a backslash. */
function pgpassField(v: string): string {
  return v.replace(/[\\:]/g, (c) => `\\${c}`);
}

function settingFlags(settings: Record<string, string | number | boolean>): string[] {
  const flags: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    const value = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
    flags.push("-c", `${k}=${value}`);
  }
  return flags;
}

/** The uid/gid to run the server as: the `postgres` user when we are root, else ourselves ({}). */
export async function serverIds(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const [u, g] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
}

export interface StandbyOptions {
  /** The running primary: how to reach it as a superuser, and its data directory. */
  primary: { port: number; password: string; dataDir: string };
  /** The `postgres` binary (same major version as the primary). */
  postgresBin: string;
  /** An existing directory, removed by the caller with the clone: the standby's data and passfile go here. */
  dir: string;
  port: number;
  /** Server settings, the primary's first (a hot standby needs max_connections etc. ≥ the primary's). */
  settings: Record<string, string | number | boolean>;
  database: string;
  /** Cap the standby's processes at this many cores (see cpu-limit.ts). */
  cpu?: number;
  log?: (line: string) => void;
}

/** A running standby: stop() stops its server (its files go with the caller's directory). */
export interface Standby extends Replica {
  stop(): Promise<void>;
}

/** Base-backs-up the primary into `dir`, starts a standby from it, and waits until it streams. */
export async function startStandby(opts: StandbyOptions): Promise<Standby> {
  const log = opts.log ?? (() => {});
  const ids = await serverIds();
  const dataDir = path.join(opts.dir, "data");
  const passfile = path.join(opts.dir, "replica.pgpass");
  const admin = new pg.Client({
    host: "127.0.0.1",
    port: opts.primary.port,
    user: "postgres",
    password: opts.primary.password,
    database: "postgres",
    application_name: "rehearse-backup",
  });
  admin.on("error", () => {});
  await admin.connect();
  try {
    // Reserve WAL from now on: the copy needs everything from the backup's start, streamed later.
    await admin.query(
      `SELECT pg_create_physical_replication_slot(${literal(REPLICA_SLOT)}, true)
        WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = ${literal(REPLICA_SLOT)})`,
    );
    // fast => an immediate checkpoint. The session must stay open until pg_backup_stop.
    await admin.query("SELECT pg_backup_start('rehearse', true)");
    try {
      await cp(opts.primary.dataDir, dataDir, {
        recursive: true,
        filter: (src) => {
          const rel = path.relative(opts.primary.dataDir, src);
          return rel === "" || backupIncludes(rel);
        },
      });
    } catch (err) {
      await admin.query("SELECT pg_backup_stop(false)").catch(() => {});
      throw err;
    }
    const stop = await admin.query<{ labelfile: string; spcmapfile: string | null }>(
      "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)",
    );
    const { labelfile, spcmapfile } = stop.rows[0]!;
    await writeFile(path.join(dataDir, "backup_label"), labelfile);
    if (spcmapfile) await writeFile(path.join(dataDir, "tablespace_map"), spcmapfile);
  } finally {
    await admin.end().catch(() => {});
  }
  for (const d of ["pg_wal/archive_status", "pg_wal/summaries"])
    await mkdir(path.join(dataDir, d), { recursive: true });
  await writeFile(path.join(dataDir, "standby.signal"), "");
  await writeFile(
    passfile,
    `127.0.0.1:${opts.primary.port}:*:postgres:${pgpassField(opts.primary.password)}\n`,
    { mode: 0o600 },
  );
  if (ids.uid !== undefined && ids.gid !== undefined) {
    await chownTree(dataDir, ids.uid, ids.gid);
    await chown(passfile, ids.uid, ids.gid);
  }
  await chmod(dataDir, 0o700);
  await chmod(passfile, 0o600);

  const conninfo = `host=127.0.0.1 port=${opts.primary.port} user=postgres application_name=${REPLICA_APPLICATION_NAME} passfile=${passfile}`;
  const settings = {
    ...opts.settings,
    ...STANDBY_DEFAULTS,
    primary_conninfo: conninfo,
    primary_slot_name: REPLICA_SLOT,
  };
  const server = new StandbyServer(opts, dataDir, settings, ids, log);
  await server.start();
  try {
    await waitStreaming(opts.primary.port, opts.primary.password);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** chown -R, without a child process per file. */
async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  await chown(root, uid, gid);
  for (const e of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid);
  }
}

/** Polls the primary until the standby has replayed everything written before the call (at most 5 minutes). */
async function waitCaughtUp(port: number, password: string): Promise<void> {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  c.on("error", () => {});
  await c.connect();
  try {
    const target = (await c.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]!.lsn;
    const deadline = performance.now() + 300_000;
    for (;;) {
      const r = await c.query<{ behind: string | null }>(
        `SELECT pg_wal_lsn_diff(${literal(target)}::pg_lsn, replay_lsn)::text AS behind
           FROM pg_stat_replication WHERE application_name = ${literal(REPLICA_APPLICATION_NAME)}`,
      );
      const behind = r.rows[0]?.behind;
      if (behind !== undefined && behind !== null && Number(behind) <= 0) return;
      if (performance.now() > deadline)
        throw new Error(
          `the replica did not catch up with the seeded data within 5 minutes (${behind ?? "?"} bytes behind)`,
        );
      await sleep(50);
    }
  } finally {
    await c.end().catch(() => {});
  }
}

/** Polls the primary until pg_stat_replication shows the standby streaming. */
async function waitStreaming(port: number, password: string): Promise<void> {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  c.on("error", () => {});
  await c.connect();
  try {
    const deadline = performance.now() + STREAMING_TIMEOUT_MS;
    for (;;) {
      const r = await c.query(
        `SELECT state FROM pg_stat_replication WHERE application_name = ${literal(REPLICA_APPLICATION_NAME)}`,
      );
      if (r.rows[0]?.state === "streaming") return;
      if (performance.now() > deadline)
        throw new Error(
          `the replica did not start streaming within ${STREAMING_TIMEOUT_MS / 1000} s (state: ${r.rows[0]?.state ?? "not connected"})`,
        );
      await sleep(50);
    }
  } finally {
    await c.end().catch(() => {});
  }
}

class StandbyServer implements Standby {
  #child: ChildProcess | undefined;
  #cpu: CpuLimit | undefined;
  #exited: Promise<void> = Promise.resolve();
  #unregister: () => void = () => {};

  constructor(
    private readonly opts: StandbyOptions,
    private readonly dataDir: string,
    private readonly settings: Record<string, string | number | boolean>,
    private readonly ids: { uid?: number; gid?: number },
    private readonly log: (line: string) => void,
  ) {}

  connectionConfig(): pg.ClientConfig {
    return loopbackConfig(this.opts.port, this.opts.primary.password, this.opts.database);
  }

  displayUrl(): string {
    return loopbackDisplayUrl(this.opts.port, this.opts.database);
  }

  async start(): Promise<void> {
    // Interrupted before the clone owns the standby (Ctrl-C while it starts): stop it anyway.
    this.#unregister = registerCleanup(`stop the replica on port ${this.opts.port}`, () => this.stop());
    const child = spawn(
      this.opts.postgresBin,
      ["-D", this.dataDir, "-p", String(this.opts.port), ...settingFlags(this.settings)],
      { ...this.ids, env: { ...process.env, LC_MESSAGES: "C" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`the replica did not start within ${READY_TIMEOUT_MS / 1000} s: ${output.slice(-500)}`),
        );
      }, READY_TIMEOUT_MS);
      child.stderr!.on("data", (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        for (const line of text.split("\n")) if (line.trim()) this.log(`replica: ${line.trimEnd()}`);
        if (output.length < 20_000) output += text;
        if (text.includes("ready to accept read-only connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the replica exited (code ${code}, signal ${signal}): ${output.slice(-500)}`));
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    }).catch(async (err: unknown) => {
      await this.stop();
      throw err;
    });
  }

  async settle(): Promise<void> {
    await waitCaughtUp(this.opts.primary.port, this.opts.primary.password);
    if (this.opts.cpu !== undefined && !this.#cpu) await this.limitCpu(this.opts.cpu);
  }

  /** Caps the running standby's CPU; the cgroup goes when the standby stops. */
  async limitCpu(cores: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    this.#cpu = await limitCpu(pid, cores, `rehearse-replica-${this.opts.port}-${pid}`);
    this.log(`replica capped at ${cores} CPU cores`);
  }

  /** Fast shutdown (SIGINT); SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    this.#unregister();
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      await this.#cpu?.release();
      return;
    }
    child.kill("SIGINT");
    const timedOut = await Promise.race([
      this.#exited.then(() => false),
      sleep(STOP_TIMEOUT_MS).then(() => true),
    ]);
    if (timedOut) {
      child.kill("SIGKILL");
      await this.#exited;
    }
    await this.#cpu?.release();
  }
}
