/**
 * A loop-mounted XFS image with reflink on, for the tests and benchmarks of reflink clones (issue 18): made in a
 * temp file, mounted under a temp directory, unmounted and deleted by `remove()`. Needs root, a loop device and
 * Debian's xfsprogs; `xfsMissing()` says which is absent.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { clusterBase } from "../../src/clone/embedded.ts";

const run = promisify(execFile);

export async function xfsMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not root: cannot loop-mount an XFS image";
  if (!existsSync("/dev/loop-control")) return "no loop devices (/dev/loop-control)";
  try {
    await run("mkfs.xfs", ["-V"]);
  } catch {
    return "mkfs.xfs is not installed: apt-get install xfsprogs";
  }
  return undefined;
}

export interface XfsVolume {
  /** The mounted filesystem's root. */
  dir: string;
  remove(): Promise<void>;
}

export async function mountXfs(sizeMiB = 1024): Promise<XfsVolume> {
  // Where clusters go (the server's user must reach the clones inside): the temp dir, or /tmp.
  const root = await mkdtemp(path.join(await clusterBase(), "rehearse-xfs-"));
  const image = path.join(root, "xfs.img");
  const dir = path.join(root, "mnt");
  await run("truncate", ["-s", `${sizeMiB}M`, image]);
  await run("mkfs.xfs", ["-q", "-m", "reflink=1", image]);
  await run("mkdir", [dir]);
  await run("mount", ["-o", "loop", image, dir]);
  // The server runs as `postgres` under root: it must reach the clones inside.
  await chmod(dir, 0o755);
  await chmod(root, 0o755);
  return {
    dir,
    async remove() {
      await run("umount", [dir]).catch(() => run("umount", ["-l", dir]));
      await rm(root, { recursive: true, force: true });
    },
  };
}
