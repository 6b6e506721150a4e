/**
 * `rehearse run --project-to`: the CLI rehearses a small scenario at three scales on real PostgreSQL and
 * writes a projection that tells the metadata-only phase from the rewrite and the copy.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Projection } from "../../src/project/projection.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-projection-test-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: repo,
    env: { ...process.env, CI: "true", GITHUB_STEP_SUMMARY: "" },
    encoding: "utf8",
    timeout: 150_000,
  });
}

describe("rehearse run --project-to", () => {
  it("rehearses at three scales and projects each phase to production size", () => {
    const out = path.join(scratch, "reports");
    const r = cli([
      "run",
      "test/fixtures/projection-copy",
      "--project-to",
      "50000000",
      "--project-scales",
      "1,2,4",
      "--out",
      out,
      "--quiet",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const runs = readdirSync(out).sort();
    expect(runs).toHaveLength(3);
    const last = path.join(out, runs[2]!);
    const p = JSON.parse(readFileSync(path.join(last, "projection.json"), "utf8")) as Projection;
    expect(p.schema_version).toBe(1);
    expect(p.target_rows).toBe(50_000_000);
    expect(p.runs.map((x) => x.rows)).toEqual([40_000, 80_000, 160_000]);
    const kind = (phase: string) => p.phases.find((s) => s.phase === phase)?.kind;
    expect(kind("prepare")).toBe("flat");
    expect(kind("rewrite")).toBe("grows");
    expect(kind("backfill")).toBe("grows");
    const copy = p.steps.find((s) => s.step === "copy_items")!;
    expect(copy.samples.map((s) => s.rows_touched)).toEqual([40_000, 80_000, 160_000]);
    expect(copy.backfill!.rows_per_s).toHaveLength(3);
    // A copy of 50M rows cannot take less than the flat phases: the projection extrapolates, not averages.
    expect(copy.projected_ms).toBeGreaterThan(Math.max(...copy.samples.map((s) => s.duration_ms)));
    expect(p.total.error_ms).not.toBeNull();
    const md = readFileSync(path.join(last, "projection.md"), "utf8");
    expect(md).toMatch(/instance class/);
    expect(r.stdout).toMatch(/projection at 50000000 rows: .* ± .*lower bound/);
  });

  it("exits 2 naming the fix when --project-to-source has no recorded source row count", () => {
    const r = cli(["run", "test/fixtures/projection-copy", "--project-to-source", "--out", scratch]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/fidelity\.json/);
    expect(r.stderr).toMatch(/--project-to <rows>/);
  });

  it("exits 2 on scales that cannot be fitted", () => {
    const r = cli(["run", "test/fixtures/projection-copy", "--project-to", "1000", "--project-scales", "2"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/two or more distinct/);
  });
});
