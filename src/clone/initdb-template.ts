/**
 * A fresh cluster is a copy of one initdb'd cluster, kept per server binaries under
 * `<cache>/.templates/<hash>/{data/, secret}`: initdb takes ~1.2 s on this machine, a copy of its ~39 MB
 * 0.2–0.4 s (a reflink where the filesystem shares blocks). The template never runs a server; each clone
 * starts with the template's password and sets its own at once, as a clone of a cached seeded cluster does.
 *
 * A template appears by rename once whole, so a reader never sees half of one; two processes building it race
 * harmlessly (the loser discards its build). Anything that goes wrong is the caller's cue to run initdb
 * itself: the template only saves time, it never decides whether a clone can start.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { isStopping, registerCleanup } from "../util/cleanup.ts";
import { cacheRoot } from "./snapshot-cache.ts";

const run = promisify(execFile);

/** Bumped when what initdb is asked for changes (flags, auth): older templates then stop matching. */
const TEMPLATE_FORMAT = 1;

export interface InitdbTemplate {
  dataDir: string;
  password: string;
}

/** Runs initdb into `dataDir` (inside `workDir`, which the server's user can reach) with `password`. */
export type Initdb = (workDir: string, dataDir: string, password: string) => Promise<void>;

function templateDir(serverVersion: string, root: string): string {
  const key = createHash("sha256")
    .update(JSON.stringify({ format: TEMPLATE_FORMAT, serverVersion }))
    .digest("hex")
    .slice(0, 16);
  return path.join(root, ".templates", key);
}

/** The template for these binaries, made now with `initdb` when there is none yet. */
export async function initdbTemplate(
  serverVersion: string,
  initdb: Initdb,
  buildBase: string,
  root = cacheRoot(),
): Promise<InitdbTemplate> {
  const dir = templateDir(serverVersion, root);
  // Clones starting together in one process wait for one build instead of each making its own.
  let pending = building.get(dir);
  if (!pending) {
    pending = findOrBuild(dir, initdb, buildBase).finally(() => building.delete(dir));
    building.set(dir, pending);
  }
  return pending;
}

const building = new Map<string, Promise<InitdbTemplate>>();

async function findOrBuild(dir: string, initdb: Initdb, buildBase: string): Promise<InitdbTemplate> {
  const found = await readTemplate(dir);
  if (found) return found;
  // Published whole, so one that cannot be read was damaged since: made again.
  await rm(dir, { recursive: true, force: true });
  await build(dir, initdb, buildBase);
  const made = await readTemplate(dir);
  if (!made) throw new Error(`the initdb template at ${dir} is incomplete after building it`);
  return made;
}

async function readTemplate(dir: string): Promise<InitdbTemplate | undefined> {
  try {
    const dataDir = path.join(dir, "data");
    if (!(await stat(path.join(dataDir, "PG_VERSION"))).isFile()) return undefined;
    return { dataDir, password: (await readFile(path.join(dir, "secret"), "utf8")).trim() };
  } catch {
    return undefined;
  }
}

/**
 * initdb in a directory the server's user can reach (`buildBase`), copied into the cache beside the final
 * place, then renamed into it. Both scratch directories are registered for removal until done.
 */
async function build(dir: string, initdb: Initdb, buildBase: string): Promise<void> {
  if (isStopping()) throw new Error("interrupted before the initdb template was built");
  const work = await mkdtemp(path.join(buildBase, "rehearse-template-"));
  const staging = path.join(path.dirname(dir), `.build-${randomBytes(6).toString("hex")}`);
  const unregister = registerCleanup(`remove the initdb template build ${work}`, async () => {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
    await rm(staging, { recursive: true, force: true, maxRetries: 3 });
  });
  try {
    const password = randomBytes(18).toString("base64url");
    await initdb(work, path.join(work, "data"), password);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await run("cp", ["-a", "--reflink=auto", path.join(work, "data"), path.join(staging, "data")]);
    await writeFile(path.join(staging, "secret"), password, { mode: 0o600 });
    if (isStopping()) throw new Error("interrupted while building the initdb template");
    // Another process may have published it meanwhile: then ours is discarded and theirs used.
    await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
    await rm(staging, { recursive: true, force: true, maxRetries: 3 });
    unregister();
  }
}

/** Copies the template's data directory to `dataDir` (a reflink where the filesystem allows). */
export async function copyTemplate(t: InitdbTemplate, dataDir: string): Promise<void> {
  await run("cp", ["-a", "--reflink=auto", t.dataDir, dataDir]);
}
