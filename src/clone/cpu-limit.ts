/**
 * Caps the CPU of a server's processes with a Linux cgroup: production replicas are often smaller than the
 * writer, and a replica's single replay process falls behind a writer that emits WAL faster than it can apply
 * it (000: readers "starved of WAL", lag at 14 minutes). A loopback replica on the same machine replays as
 * fast as the writer writes, so without a cap replication lag is never what production sees.
 *
 * The server's postmaster and its current children are moved into a new cgroup whose CPU quota is `cores`
 * (0.2 = a fifth of one core); children forked later inherit it. Works with cgroup v2 (`cpu.max`) and v1
 * (`cpu/cpu.cfs_quota_us`); needs root. `release()` removes the cgroup once its processes have exited.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, rmdir, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CloneUnavailableError } from "./provider.ts";

const ROOT = "/sys/fs/cgroup";
const PERIOD_US = 100_000;

/** The cap cannot be set here: the clone this scenario asks for cannot be made (inconclusive, not a crash). */
export class CpuLimitError extends CloneUnavailableError {
  constructor(message: string) {
    super(`${message}; run as root on Linux, or remove target.replica_cpu`, "");
  }
}

interface Layout {
  dir: string;
  procs: string;
  apply(dir: string, quotaUs: number): Promise<void>;
}

function layout(name: string): Layout | undefined {
  if (existsSync(path.join(ROOT, "cgroup.controllers"))) {
    return {
      dir: path.join(ROOT, name),
      procs: "cgroup.procs",
      apply: (dir, quota) => writeFile(path.join(dir, "cpu.max"), `${quota} ${PERIOD_US}`),
    };
  }
  if (existsSync(path.join(ROOT, "cpu", "cpu.cfs_quota_us"))) {
    return {
      dir: path.join(ROOT, "cpu", name),
      procs: "cgroup.procs",
      apply: async (dir, quota) => {
        await writeFile(path.join(dir, "cpu.cfs_period_us"), String(PERIOD_US));
        await writeFile(path.join(dir, "cpu.cfs_quota_us"), String(quota));
      },
    };
  }
  return undefined;
}

/** The pid and every descendant of it now running (from /proc). */
export async function processTree(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the ppid is the 2nd field after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(e), Number(rest[1]));
    } catch {
      // The process exited while we looked.
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const [child, ppid] of parent) if (ppid === out[i]) out.push(child);
  }
  return out;
}

export interface CpuLimit {
  readonly cores: number;
  /** Removes the cgroup (after the processes in it have exited). */
  release(): Promise<void>;
}

/** Puts the process tree under `pid` in a cgroup limited to `cores` CPUs. */
export async function limitCpu(pid: number, cores: number, name: string): Promise<CpuLimit> {
  const l = layout(name);
  if (!l || process.getuid?.() !== 0) {
    throw new CpuLimitError(
      "capping the replica's CPU needs root and the cgroup cpu controller (/sys/fs/cgroup), which this machine does not offer",
    );
  }
  await mkdir(l.dir);
  try {
    await l.apply(l.dir, Math.max(1000, Math.round(cores * PERIOD_US)));
    for (const p of await processTree(pid)) {
      await writeFile(path.join(l.dir, l.procs), String(p)).catch(() => {});
    }
  } catch (err) {
    await rmdir(l.dir).catch(() => {});
    throw new CpuLimitError(`could not cap the replica's CPU: ${(err as Error).message}`);
  }
  return {
    cores,
    async release() {
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(l.dir);
          return;
        } catch {
          await sleep(100);
        }
      }
    },
  };
}
