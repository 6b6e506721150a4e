/**
 * target.replica_cpu: the standby's processes go into a CPU-capped cgroup once the seeding has been replayed
 * (settle), and the cgroup goes away with the clone. The cap is what makes replica lag real on one machine
 * (backfill-unthrottled fails on it; events-dual-write's throttled backfill passes the same budget).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import { processTree } from "../../src/clone/cpu-limit.ts";

const CGROUP_ROOTS = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup"];
const root = CGROUP_ROOTS.find((r) => existsSync(path.join(r, "cgroup.procs")));
const canCap = process.getuid?.() === 0 && root !== undefined;

function replicaCgroups(): string[] {
  return root ? readdirSync(root).filter((d) => d.startsWith("rehearse-replica-")) : [];
}

describe.skipIf(!canCap)("replica CPU cap (needs root and cgroups)", () => {
  it("caps the standby's processes after it caught up, and removes the cgroup on stop", async () => {
    const before = new Set(replicaCgroups());
    const clone = await new EmbeddedProvider().start({ replica: { cpu: 0.2 } });
    try {
      expect(replicaCgroups().filter((d) => !before.has(d))).toEqual([]);
      await clone.replica!.settle!();
      const mine = replicaCgroups().filter((d) => !before.has(d));
      expect(mine).toHaveLength(1);
      const dir = path.join(root!, mine[0]!);
      const pids = readFileSync(path.join(dir, "cgroup.procs"), "utf8").trim().split("\n").map(Number);
      // The standby's postmaster and its children (startup, walreceiver…) are all in it.
      expect(pids.length).toBeGreaterThanOrEqual(3);
      const postmaster = Math.min(...pids);
      expect((await processTree(postmaster)).every((p) => pids.includes(p))).toBe(true);
      const quota = existsSync(path.join(dir, "cpu.max"))
        ? Number(readFileSync(path.join(dir, "cpu.max"), "utf8").split(" ")[0])
        : Number(readFileSync(path.join(dir, "cpu.cfs_quota_us"), "utf8"));
      expect(quota).toBe(20_000);
    } finally {
      await clone.stop();
    }
    expect(replicaCgroups().filter((d) => !before.has(d))).toEqual([]);
  });
});
