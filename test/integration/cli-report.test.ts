/**
 * `rehearse report` and `rehearse compare` as a user runs them: on report.json files written from fixtures,
 * so no database is needed.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/model.ts";
import { inconclusiveRun, loadRun } from "../unit/report-fixtures.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-cli-report-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Result> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repo,
    env: { ...process.env, GITHUB_STEP_SUMMARY: "", NO_COLOR: "1" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

function runDir(name: string, report: RunReport | Record<string, unknown>): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "report.json"), JSON.stringify(report, null, 2));
  return dir;
}

const noStack = (r: Result) => expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);

describe("rehearse report", () => {
  it("re-renders every file from report.json and exits 0 even for a failed run", async () => {
    const dir = runDir("a", loadRun());
    const r = await cli("report", dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const f of ["report.json", "summary.md", "junit.xml"])
      expect(existsSync(path.join(dir, f))).toBe(true);
    expect(r.stdout).toMatch(/FAILED/);
    expect(readFileSync(path.join(dir, "summary.md"), "utf8")).toMatch(/cutover/);
  });

  it("--exit-code exits with the run's exit code; --out writes elsewhere", async () => {
    const dir = runDir("inc", inconclusiveRun());
    const out = path.join(scratch, "inc-out");
    const r = await cli("report", dir, "--out", out, "--exit-code");
    expect(r.code).toBe(inconclusiveRun().exit_code);
    expect(r.stdout).toMatch(/INCONCLUSIVE/);
    expect(existsSync(path.join(out, "summary.md"))).toBe(true);
  });

  it("exits 2 naming a missing run directory, without a stack trace", async () => {
    const missing = path.join(scratch, "does-not-exist");
    const r = await cli("report", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${missing}: no such run directory`);
    noStack(r);
  });

  it("exits 2 naming the file and both versions for an unsupported schema_version", async () => {
    const dir = runDir("future", { ...loadRun(), schema_version: 999 });
    const r = await cli("report", dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(dir, "report.json"));
    expect(r.stderr).toMatch(/schema_version 999 is not supported; this rehearse reads schema_version 1/);
    noStack(r);
  });

  it("exits 2 for malformed JSON", async () => {
    const dir = path.join(scratch, "broken");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "report.json"), "{ not json");
    const r = await cli("report", dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/report\.json: not valid JSON/);
    noStack(r);
  });
});

describe("rehearse compare", () => {
  it("prints a markdown comparison with the phase and the regression", async () => {
    const a = loadRun();
    const b = loadRun();
    b.run_id = "20240612T090000Z-b1b1";
    b.load!.windows.find(
      (w) => w.phase === "cutover" && w.step === null && w.kind === "write",
    )!.latency.p99 *= 3;
    b.checks.find((c) => c.id === "no_lost_writes")!.status = "fail";
    const r = await cli("compare", runDir("cmp-a", a), path.join(runDir("cmp-b", b), "report.json"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/### Regressions\n\n- \*\*no_lost_writes\*\*/);
    expect(r.stdout).toMatch(/^\| cutover \|.*900 → 2,700 \(\+1,800, \+200%\)/m);
  });

  it("--format html --out writes a page", async () => {
    const out = path.join(scratch, "cmp.html");
    const r = await cli(
      "compare",
      runDir("h-a", loadRun()),
      runDir("h-b", inconclusiveRun()),
      "--format",
      "html",
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/B is INCONCLUSIVE/);
  });

  it("exits 2 naming a missing run", async () => {
    const missing = path.join(scratch, "missing-b");
    const r = await cli("compare", runDir("m-a", loadRun()), missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    noStack(r);
  });
});
