import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { access, appendFile, chmod, chown, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { ident } from "../db/sql.ts";
import { isStopping, registerCleanup } from "../util/cleanup.ts";
import { registerSecret } from "../util/redact.ts";
import { clusterBase, DEFAULT_SETTINGS, freePort } from "./embedded.ts";
import { copyTemplate, type InitdbTemplate, initdbTemplate } from "./initdb-template.ts";
import {
  CloneUnavailableError,
  loopbackConfig,
  loopbackDisplayUrl,
  type Clone,
  type CloneOptions,
  type CloneProvider,
} from "./provider.ts";

/** Where Debian (and Ubuntu) install each PostgreSQL major version's server binaries: <root>/<major>/bin. */
export const SYSTEM_POSTGRES_ROOT = "/usr/lib/postgresql";

/** One installed PostgreSQL server version. */
export interface SystemInstall {
  major: number;
  /** Directory holding initdb, pg_ctl and postgres. */
  bin: string;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The installed PostgreSQL servers under `root`, newest first (those with initdb, pg_ctl and postgres). */
export async function findSystemInstalls(root = SYSTEM_POSTGRES_ROOT): Promise<SystemInstall[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return [];
  }
  const found: SystemInstall[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const bin = path.join(root, e, "bin");
    const tools = await Promise.all(["initdb", "pg_ctl", "postgres"].map((t) => exists(path.join(bin, t))));
    if (tools.every(Boolean)) found.push({ major: Number(e), bin });
  }
  return found.sort((a, b) => b.major - a.major);
}

/** The install to use: `version` if given, else the newest. Throws CloneUnavailableError naming the package. */
export async function resolveSystemInstall(
  version?: number,
  root = SYSTEM_POSTGRES_ROOT,
): Promise<SystemInstall> {
  const installs = await findSystemInstalls(root);
  const want = version ?? installs[0]?.major;
  const pick = installs.find((i) => i.major === want);
  if (pick) return pick;
  const pkg = `postgresql-${version ?? 15}`;
  const have =
    installs.length > 0 ? `only ${installs.map((i) => i.major).join(", ")} is installed` : "none is";
  throw new CloneUnavailableError(
    version === undefined
      ? `target.provider is system, but no PostgreSQL server is installed (no ${root}/<version>/bin/initdb): install one, e.g. apt-get install ${pkg}`
      : `target.version is ${version}, but PostgreSQL ${version} is not installed under ${root} (${have}): apt-get install ${pkg}, or change target.version`,
    pkg,
  );
}

interface Ids {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: when we are root, initdb, pg_ctl and the server run as `postgres`. */
async function serverUser(): Promise<Ids | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([
      run("id", ["-u", "postgres"], {}),
      run("id", ["-g", "postgres"], {}),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new CloneUnavailableError(
      "running as root, the server must run as the `postgres` OS user, which does not exist: install Debian's postgresql-common (it creates the user), or run rehearse as an ordinary user",
      "postgresql-common",
    );
  }
}

interface RunOptions {
  ids?: Ids;
  cwd?: string;
}

/** Runs a program to completion; rejects with its output when it exits non-zero. Resolves to its stdout. */
function run(cmd: string, args: string[], opts: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...opts.ids,
      cwd: opts.cwd,
      // English messages whatever the caller's locale; no client settings leak into the tools.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `${path.basename(cmd)} ${args[0] ?? ""} failed (${signal ?? `exit ${code}`}): ${(err || out).trim()}`,
          ),
        );
    });
  });
}

/** postgresql.conf lines for the settings; values quoted, so any value is one setting. */
function confLines(settings: Record<string, string | number | boolean>): string {
  return Object.entries(settings)
    .map(([k, v]) => {
      const value = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
      return `${k} = '${value.replace(/'/g, "''")}'\n`;
    })
    .join("");
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Copies the installed binaries' initdb template to `dataDir` and returns it, or returns undefined with
 * nothing at `dataDir` (the caller runs initdb): when REHEARSE_INITDB_TEMPLATE=0, or when the template
 * cannot be read, made or copied (logged). Keyed by the binaries' directory and initdb's mtime, so a package
 * upgrade makes a new one.
 */
async function fromSystemTemplate(
  install: SystemInstall,
  ids: Ids | undefined,
  dataDir: string,
  log: (line: string) => void,
): Promise<InitdbTemplate | undefined> {
  if (process.env.REHEARSE_INITDB_TEMPLATE === "0") return undefined;
  try {
    const initdb = await stat(path.join(install.bin, "initdb"));
    const template = await initdbTemplate(
      `system:${install.bin}:${initdb.mtimeMs}`,
      async (work, _dataDir, password) => {
        await chmod(work, 0o700);
        if (ids) await chown(work, ids.uid, ids.gid);
        await new SystemCluster(install, work, ids).initdb(password);
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

/** A cluster made with the installed initdb and run by pg_ctl: everything it needs lives in `dir`. */
class SystemCluster {
  readonly data: string;
  readonly logFile: string;

  constructor(
    readonly install: SystemInstall,
    readonly dir: string,
    readonly ids: Ids | undefined,
  ) {
    this.data = path.join(dir, "data");
    this.logFile = path.join(dir, "server.log");
  }

  pgCtl(args: string[]): Promise<string> {
    return run(path.join(this.install.bin, "pg_ctl"), args, { ids: this.ids, cwd: this.dir });
  }

  async initdb(password: string): Promise<void> {
    // The password reaches initdb through a file only the server user can read, removed straight after.
    const pwfile = path.join(this.dir, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    try {
      if (this.ids) await chown(pwfile, this.ids.uid, this.ids.gid);
      await run(
        path.join(this.install.bin, "initdb"),
        [
          `--pgdata=${this.data}`,
          "--username=postgres",
          "--auth=scram-sha-256",
          `--pwfile=${pwfile}`,
          "--encoding=UTF8",
          "--no-locale",
          "--no-sync",
        ],
        { ids: this.ids, cwd: this.dir },
      );
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  /** This clone's settings, port and socket directory, after what initdb wrote. */
  async configure(port: number, settings: CloneOptions["settings"]): Promise<void> {
    await appendFile(
      path.join(this.data, "postgresql.conf"),
      "\n# rehearse: a throwaway clone\n" +
        confLines({
          ...DEFAULT_SETTINGS,
          ...settings,
          port,
          listen_addresses: "127.0.0.1",
          unix_socket_directories: this.dir,
        }),
    );
  }

  async start(): Promise<void> {
    try {
      await this.pgCtl(["start", "-D", this.data, "-l", this.logFile, "-w", "-t", "60", "-s"]);
    } catch (err) {
      const log = await tail(this.logFile, 15);
      throw new Error(`${(err as Error).message}${log ? `\nserver log:\n${log}` : ""}`);
    }
  }

  /** Stops the server however it can (fast, then immediate, then SIGKILL) and removes the directory. */
  async destroy(): Promise<void> {
    try {
      const pid = await this.postmasterPid();
      if (pid === undefined) return;
      try {
        await this.pgCtl(["stop", "-D", this.data, "-m", "fast", "-w", "-t", "30", "-s"]);
      } catch {
        await this.pgCtl(["stop", "-D", this.data, "-m", "immediate", "-w", "-t", "10", "-s"]).catch(
          () => {},
        );
      }
      if (alive(pid)) process.kill(pid, "SIGKILL");
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  async postmasterPid(): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(path.join(this.data, "postmaster.pid"), "utf8")).split("\n")[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

class SystemClone implements Clone {
  readonly provider = "system";
  #stopped = false;

  constructor(
    private readonly cluster: SystemCluster,
    private readonly port: number,
    private readonly password: string,
    private readonly database: string,
    private readonly unregister: () => void,
  ) {}

  /** The installed major version this clone runs. */
  get major(): number {
    return this.cluster.install.major;
  }

  /** The cluster's directory (data, socket, server log); gone once stopped. */
  get dir(): string {
    return this.cluster.dir;
  }

  connectionConfig(): pg.ClientConfig {
    return loopbackConfig(this.port, this.password, this.database);
  }

  displayUrl(): string {
    return loopbackDisplayUrl(this.port, this.database);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.cluster.destroy();
    } finally {
      this.unregister();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export interface SystemProviderOptions {
  /** Where the installed servers are; default /usr/lib/postgresql. */
  root?: string;
}

/**
 * A fresh cluster from the PostgreSQL installed on this machine (Debian's postgresql-<major>), which brings
 * the extensions installed next to it (postgresql-<major>-partman…). Debian's own cluster is not used.
 */
export class SystemProvider implements CloneProvider {
  readonly name = "system";

  constructor(private readonly opts: SystemProviderOptions = {}) {}

  async start(options: CloneOptions = {}): Promise<SystemClone> {
    const install = await resolveSystemInstall(options.version, this.opts.root);
    const ids = await serverUser();
    const base = await clusterBase();
    // Checked, made and registered in one synchronous run: see isStopping.
    if (isStopping()) throw new Error("interrupted before the cluster's directory was made");
    const dir = mkdtempSync(path.join(base, "rehearse-"));
    const cluster = new SystemCluster(install, dir, ids);
    const unregister = registerCleanup(`stop PostgreSQL ${install.major} in ${dir}`, () => cluster.destroy());
    const port = await freePort();
    const password = randomBytes(18).toString("base64url");
    const database = options.database ?? "rehearsal";
    const log = options.log ?? (() => {});
    try {
      await chmod(dir, 0o700);
      if (ids) await chown(dir, ids.uid, ids.gid);
      // A copy of the initdb template when one can be had (initdb-template.ts), else initdb here.
      const template = await fromSystemTemplate(install, ids, cluster.data, log);
      if (!template) {
        log(`initdb with PostgreSQL ${install.major} from ${install.bin} in ${dir}`);
        await cluster.initdb(password);
      }
      await cluster.configure(port, options.settings);
      await cluster.start();
      const admin = new pg.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        password: template?.password ?? password,
        database: "postgres",
      });
      await admin.connect();
      try {
        // Each clone gets its own password; the template's stays in the cache.
        if (template) await admin.query(`ALTER ROLE postgres PASSWORD ${admin.escapeLiteral(password)}`);
        await admin.query(`CREATE DATABASE ${ident(database)}`);
      } finally {
        await admin.end();
      }
    } catch (err) {
      await cluster.destroy().catch(() => {});
      unregister();
      throw err;
    }
    return new SystemClone(cluster, port, password, database, unregister);
  }
}
