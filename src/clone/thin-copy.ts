/**
 * Copies a cached, stopped data directory for one clone as cheaply as the machine allows: a reflink copy
 * (copy-on-write per block on XFS/Btrfs, when the cache and the clone share the filesystem), else an overlayfs
 * mount, else a plain copy. Reflink comes first (issue 18): overlayfs is constant time to mount, but
 * PostgreSQL opens relation files read-write and overlayfs then copies each whole file up — 0.26 s for a 1M-row
 * table the first time it is touched, ~1.3 GB copied at 10M rows — so it is cheap to start and expensive to
 * use; a reflink clone shares blocks until one is written. The cached directory is never written to.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { isStopping, registerCleanup } from "../util/cleanup.ts";

const run = promisify(execFile);

/**
 * Refuses a side effect once a signal has arrived: the teardown may already have swept the clone's directory,
 * and a mkdir, mount or copy landing after that is never removed (an empty clone directory was left in CI
 * when the signal fell between the clone's directory being made and this copy registering its cleanup).
 */
function unlessStopping(): void {
  if (isStopping()) throw new Error("interrupted while copying the cached cluster");
}

export type CloneMethod = "overlay" | "reflink" | "copy";
/**
 * Cheapest first by the figure that counts: the clone's cost paid before the rehearsal's first measured
 * second. Overlay starts fastest but defers the copy into the run: PostgreSQL opens relation files read-write,
 * so the first touch of each copies it up whole. On ext4 at 10M rows that was 4.7–7 s on the first read of the
 * hot table and a write stall when the load's first insert touched its indexes, which failed the prepare
 * phase's error-rate and unavailability budgets of a scenario that passes on a fresh clone. A plain copy pays
 * the same bytes before anything is measured (and is a reflink itself on XFS/Btrfs). Overlay stays as the
 * last resort, or asked for by REHEARSE_CLONE_METHOD.
 */
export const CLONE_METHODS: readonly CloneMethod[] = ["reflink", "copy", "overlay"];

/** statfs(2) magic numbers of the filesystems whose cp --reflink shares blocks. */
const REFLINK_FILESYSTEMS = new Map([
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
]);

/**
 * Why a reflink copy from `lower` into `workRoot` cannot work, or undefined when it can be tried: both on one
 * XFS or Btrfs filesystem. Checked up front so a machine without one does not pay for a failing cp.
 */
export async function reflinkObstacle(lower: string, workRoot: string): Promise<string | undefined> {
  const [a, b] = await Promise.all([stat(lower), stat(workRoot)]);
  const fs = REFLINK_FILESYSTEMS.get(Number((await statfs(lower)).type));
  if (!fs) return `the cache (${lower}) is not on XFS or Btrfs`;
  if (a.dev !== b.dev) return `the cache and the clone (${workRoot}) are on different filesystems`;
  return undefined;
}

/** A data directory made from a cached one. Disposing it unmounts (if mounted) and removes it. */
export interface ThinCopy extends AsyncDisposable {
  readonly method: CloneMethod;
  /** The directory to use as the clone's data directory. */
  readonly dir: string;
  /** Methods tried before this one, with why each failed (for --debug). */
  readonly fellBack: { method: CloneMethod; error: string }[];
  remove(): Promise<void>;
}

export interface ThinCopyOptions {
  /** Try only these methods, in this order (default: all, cheapest first). Env REHEARSE_CLONE_METHOD too. */
  methods?: readonly CloneMethod[];
  /** Owner to give the writable layer / copy (the server's user when we run as root). */
  owner?: { uid: number; gid: number };
}

/** Methods to try: options, else $REHEARSE_CLONE_METHOD (comma-separated), else all. */
export function methodsToTry(options: ThinCopyOptions = {}): readonly CloneMethod[] {
  if (options.methods) return options.methods;
  const env = process.env.REHEARSE_CLONE_METHOD;
  if (!env) return CLONE_METHODS;
  const wanted = env.split(",").map((s) => s.trim());
  const bad = wanted.filter((m) => !CLONE_METHODS.includes(m as CloneMethod));
  if (bad.length > 0)
    throw new Error(
      `REHEARSE_CLONE_METHOD names unknown method(s) ${bad.join(", ")}: use ${CLONE_METHODS.join(", ")}`,
    );
  return wanted as CloneMethod[];
}

/** Mount points currently listed in /proc/mounts (octal escapes decoded). */
export async function mountPoints(): Promise<{ target: string; options: string; type: string }[]> {
  const text = await readFile("/proc/mounts", "utf8").catch(() => "");
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [, target = "", type = "", options = ""] = line.split(" ");
      return { target: unescape(target), type, options: unescape(options) };
    });
}

async function unmount(target: string): Promise<void> {
  const mounted = (await mountPoints()).some((m) => m.target === target);
  if (!mounted) return;
  try {
    await run("umount", [target]);
  } catch {
    // A server that has not quite let go of its files: detach now, the kernel finishes when they close.
    await run("umount", ["-l", target]);
  }
}

/**
 * Makes `<workRoot>/data` from `lower`. `workRoot` must exist and be empty apart from what this creates; the
 * result is registered with the process cleanup registry until removed.
 */
export async function thinCopy(
  lower: string,
  workRoot: string,
  options: ThinCopyOptions = {},
): Promise<ThinCopy> {
  const dir = path.join(workRoot, "data");
  const fellBack: { method: CloneMethod; error: string }[] = [];
  for (const method of methodsToTry(options)) {
    // Not the next method either: an interrupt is not a method that failed.
    unlessStopping();
    // Registered before the side effect: an interrupt mid-mount must still unmount. It waits for the copy in
    // flight first: removing while makeCopy still ran let its next mkdir or mount land after the removal,
    // leaving the clone's directory behind (seen in CI, one interrupt in ten during "cloning").
    let inflight: Promise<unknown> = Promise.resolve();
    const unregister = registerCleanup(`remove the ${method} clone at ${dir}`, async () => {
      await inflight;
      await removeCopy(workRoot, dir);
    });
    try {
      const obstacle = method === "reflink" ? await reflinkObstacle(lower, workRoot) : undefined;
      if (obstacle) throw new Error(obstacle);
      const making = makeCopy(method, lower, workRoot, dir, options.owner);
      inflight = making.catch(() => {});
      await making;
      // One removal, however many callers: a second caller (an interrupt's teardown racing the start's own
      // error path) must wait for it, not return at once and rm the clone's directory under a live mount
      // while the first is still unmounting (the process then exits with the directory left behind).
      let removing: Promise<void> | undefined;
      const remove = (): Promise<void> =>
        (removing ??= (async () => {
          try {
            await removeCopy(workRoot, dir);
          } finally {
            unregister();
          }
        })());
      return { method, dir, fellBack, remove, [Symbol.asyncDispose]: remove };
    } catch (err) {
      await removeCopy(workRoot, dir).catch(() => {});
      unregister();
      fellBack.push({ method, error: (err as Error).message.split("\n")[0] ?? "" });
    }
  }
  throw new Error(
    `could not copy the cached cluster ${lower}: ${fellBack.map((f) => `${f.method}: ${f.error}`).join("; ")}`,
  );
}

async function makeCopy(
  method: CloneMethod,
  lower: string,
  workRoot: string,
  dir: string,
  owner: ThinCopyOptions["owner"],
): Promise<void> {
  if (method === "overlay") {
    const upper = path.join(workRoot, "upper");
    const work = path.join(workRoot, "work");
    for (const d of [upper, work, dir]) {
      unlessStopping();
      await mkdir(d, { mode: 0o700 });
    }
    // The merged root takes the upper directory's owner and mode; PostgreSQL insists on both.
    if (owner) await run("chown", [`${owner.uid}:${owner.gid}`, upper]);
    // Commas and colons separate overlay options; our paths are made by mkdtemp and the cache, but check.
    for (const p of [lower, upper, work]) {
      if (/[,:\\]/.test(p)) throw new Error(`path ${p} contains a character overlayfs options cannot carry`);
    }
    unlessStopping();
    await run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
      dir,
    ]);
    return;
  }
  const args = method === "reflink" ? ["-a", "--reflink=always", lower, dir] : ["-a", lower, dir];
  unlessStopping();
  await run("cp", args);
  if (owner) await run("chown", [`${owner.uid}:${owner.gid}`, dir]);
}

async function removeCopy(workRoot: string, dir: string): Promise<void> {
  await unmount(dir);
  await rm(path.join(workRoot, "upper"), { recursive: true, force: true });
  await rm(path.join(workRoot, "work"), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}
