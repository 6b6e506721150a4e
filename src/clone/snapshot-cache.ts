/**
 * The seeded-cluster cache: a stopped, seeded cluster per (schema, generators, rows, seed, server version),
 * under $REHEARSE_CACHE_DIR or ~/.cache/rehearse. Seeding is the slow part of a rehearsal; the same dataset
 * is rehearsed many times (one CI run per migration pull request), so each rehearsal thin-clones the cached
 * cluster instead (thin-copy.ts).
 *
 * Layout: <root>/<key>/{data/, meta.json, secret}. An entry appears by rename once complete, so a reader
 * never sees half of one; two runs building the same key race harmlessly (the loser discards its build).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { SeedTableResult } from "../report/model.ts";
import { isStopping, registerCleanup } from "../util/cleanup.ts";
import { mountPoints } from "./thin-copy.ts";

const run = promisify(execFile);

/** Bumped when the layout or what goes into a key changes: old entries then simply stop matching. */
const CACHE_FORMAT = 1;

export function cacheRoot(): string {
  return process.env.REHEARSE_CACHE_DIR || path.join(homedir(), ".cache", "rehearse");
}

/** Everything that determines the seeded cluster's contents. */
export interface CacheKeyParts {
  schemaSql: string;
  afterSql?: string;
  /** The dataset's tables with their generators (as resolved from the scenario). */
  tables: unknown;
  rows: Record<string, number>;
  seed: number;
  fireTriggers: boolean;
  database: string;
  /** The server binaries (provider.snapshots.version()). */
  serverVersion: string;
  /** rehearse's own version: a seeder change changes the data. */
  toolVersion: string;
}

/** A stable hash of the parts (object keys sorted, so key order in the scenario does not matter). */
export function cacheKey(parts: CacheKeyParts): string {
  const canonical = JSON.stringify({ format: CACHE_FORMAT, ...parts }, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
  return createHash("sha256").update(canonical).digest("hex").slice(0, 24);
}

export interface CacheMeta {
  key: string;
  scenario: string;
  created_at: string;
  server_version: string;
  postgres_version?: string;
  rows: Record<string, number>;
  seeding: { tables: SeedTableResult[]; rows: number; duration_ms: number; rows_per_s: number };
}

export interface CacheEntry {
  key: string;
  dir: string;
  dataDir: string;
  meta: CacheMeta;
  /** Bytes on disk (ls / prune only). */
  bytes?: number;
  /** When a rehearsal last cloned it (mtime of meta.json). */
  lastUsed: Date;
}

async function readEntry(root: string, key: string): Promise<CacheEntry | undefined> {
  const dir = path.join(root, key);
  try {
    const metaFile = path.join(dir, "meta.json");
    const meta = JSON.parse(await readFile(metaFile, "utf8")) as CacheMeta;
    const st = await stat(path.join(dir, "data", "PG_VERSION"));
    if (!st.isFile() || meta.key !== key) return undefined;
    return { key, dir, dataDir: path.join(dir, "data"), meta, lastUsed: (await stat(metaFile)).mtime };
  } catch {
    return undefined;
  }
}

/** The entry for `key`, or undefined (a miss). Touches it, so `prune --older-than` keeps what is used. */
export async function lookupCache(key: string, root = cacheRoot()): Promise<CacheEntry | undefined> {
  const entry = await readEntry(root, key);
  if (entry) {
    const now = new Date();
    await utimes(path.join(entry.dir, "meta.json"), now, now).catch(() => {});
  }
  return entry;
}

/** The cached cluster's superuser password (a root-only file in the entry). */
export async function cachedPassword(entry: CacheEntry): Promise<string> {
  return (await readFile(path.join(entry.dir, "secret"), "utf8")).trim();
}

/**
 * A reading taken on a clone of the entry, kept beside its data under `gathered/<name>.json` (see
 * InvariantCheck.keepBefore); undefined when there is none or it cannot be read.
 */
export async function readGathered(entry: CacheEntry, name: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path.join(entry.dir, "gathered", `${name}.json`), "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** Keeps a reading with the entry; written aside and renamed in, so a reader never sees half of one. */
export async function storeGathered(entry: CacheEntry, name: string, value: unknown): Promise<void> {
  const dir = path.join(entry.dir, "gathered");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${name}.${randomBytes(6).toString("hex")}`);
  try {
    await writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
    await rename(tmp, path.join(dir, `${name}.json`));
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Moves a stopped cluster (`built.root` containing `built.dataDir`) into the cache under `meta.key`. When
 * another run stored the same key first, ours is discarded and theirs returned.
 */
export async function storeCache(
  built: { root: string; dataDir: string; password: string },
  meta: CacheMeta,
  root = cacheRoot(),
): Promise<CacheEntry> {
  const staging = path.join(root, `.build-${meta.key}-${randomBytes(4).toString("hex")}`);
  // The stopped cluster is no longer the clone's to remove (stopAndKeep handed it over): an interrupt from
  // here on must still remove it, and the half-made entry, before the process exits. The interrupt's
  // removal waits for the file operation in flight and stops the next one: removing staging while the
  // rename below moves it published a half-deleted entry under the key (seen in CI: every later run of
  // that scenario missed the cache, then failed to store it). Each step also refuses once a signal has
  // arrived at all (isStopping), not only once our own cleanup ran: a signal during stopAndKeep's server
  // stop set the clone's own teardown removing the cluster, and this function, called after, moved the
  // half-removed data in and published it before the teardown reached our cleanup (seen in CI).
  let aborted = false;
  let inflight: Promise<unknown> = Promise.resolve();
  const broken: string[] = [];
  const step: Step = (op) => {
    if (aborted || isStopping()) throw new Error("interrupted while storing the seeded cluster in the cache");
    const p = op();
    inflight = p.catch(() => {});
    return p;
  };
  const removeAll = async () => {
    for (const dir of [staging, built.root, ...broken]) await rm(dir, { recursive: true, force: true });
  };
  const unregister = registerCleanup(`remove ${built.root} and ${staging}`, async () => {
    aborted = true;
    await inflight;
    await removeAll();
  });
  try {
    await step(() => mkdir(root, { recursive: true, mode: 0o700 }));
    await step(() => mkdir(staging, { mode: 0o700 }));
    try {
      await step(() => rename(built.dataDir, path.join(staging, "data")));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
      await step(() =>
        cp(built.dataDir, path.join(staging, "data"), { recursive: true, preserveTimestamps: true }),
      );
      // cp keeps modes but not owners when we are root; the server must own its files.
      await step(() => run("chown", ["-R", "--reference", built.dataDir, path.join(staging, "data")]));
    }
    await step(() => writeFile(path.join(staging, "secret"), `${built.password}\n`, { mode: 0o600 }));
    await step(() => writeFile(path.join(staging, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`));
    await publish(staging, root, meta.key, step, broken);
  } finally {
    if (!aborted) {
      await removeAll();
      unregister();
    }
  }
  const entry = await readEntry(root, meta.key);
  if (!entry) throw new Error(`the cache entry ${meta.key} is unreadable right after it was stored`);
  return entry;
}

/** Runs one file operation of a store, unless the store was interrupted. */
type Step = <T>(op: () => Promise<T>) => Promise<T>;

/**
 * Renames the finished staging directory to the key. When the key is taken by a complete entry (another
 * run stored it first), ours is discarded; when it is taken by something incomplete (a crash of an older
 * version), that is moved aside (into `broken`, for the caller's teardown) and removed, and ours takes its
 * place. Each rename is its own step, so an interrupt stops between them, never inside one.
 */
async function publish(
  staging: string,
  root: string,
  key: string,
  step: Step,
  broken: string[],
): Promise<void> {
  const target = path.join(root, key);
  try {
    await step(() => rename(staging, target));
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
  }
  if (await step(() => readEntry(root, key))) return;
  const aside = path.join(root, `.broken-${key}-${randomBytes(4).toString("hex")}`);
  broken.push(aside);
  await step(() => rename(target, aside));
  await step(() => rm(aside, { recursive: true, force: true }));
  await step(() => rename(staging, target));
}

async function du(dir: string): Promise<number | undefined> {
  try {
    const { stdout } = await run("du", ["-sb", dir]);
    return Number(stdout.split("\t")[0]);
  } catch {
    return undefined;
  }
}

/** Every complete entry, most recently used first, with its size. */
export async function listCache(root = cacheRoot()): Promise<CacheEntry[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const entries: CacheEntry[] = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const e = await readEntry(root, name);
    if (e) entries.push({ ...e, bytes: await du(e.dir) });
  }
  return entries.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

export interface PruneResult {
  removed: CacheEntry[];
  /** Entries a running clone is mounted on: removing them would pull the files from under it. */
  inUse: CacheEntry[];
  /** Leftovers of interrupted builds, removed. */
  partial: string[];
}

/** Removes entries not used for `olderThanMs` (default: all), and leftovers of interrupted builds. */
export async function pruneCache(
  options: { olderThanMs?: number; dryRun?: boolean; now?: Date } = {},
  root = cacheRoot(),
): Promise<PruneResult> {
  const now = (options.now ?? new Date()).getTime();
  const mounts = await mountPoints();
  const result: PruneResult = { removed: [], inUse: [], partial: [] };
  for (const e of await listCache(root)) {
    if (options.olderThanMs !== undefined && now - e.lastUsed.getTime() < options.olderThanMs) continue;
    if (mounts.some((m) => m.type === "overlay" && m.options.includes(`lowerdir=${e.dataDir}`))) {
      result.inUse.push(e);
      continue;
    }
    if (!options.dryRun) await rm(e.dir, { recursive: true, force: true });
    result.removed.push(e);
  }
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const full = path.join(root, name);
    if (name.startsWith(".build-")) {
      // A build younger than an hour may still be running in another process.
      const age = now - (await stat(full)).mtime.getTime();
      if (age < 3_600_000) continue;
      if (!options.dryRun) await rm(full, { recursive: true, force: true });
      result.partial.push(full);
    }
  }
  return result;
}
