import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { fileReporters } from "../../src/report/registry.ts";
import { loadRun, ReportInputError, rerenderReport } from "../../src/report/rerender.ts";
import { inconclusiveRun, passingRun } from "./report-fixtures.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-rerender-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
beforeEach(() => {
  vi.stubEnv("GITHUB_STEP_SUMMARY", "");
  return () => vi.unstubAllEnvs();
});

let n = 0;
function runDir(report: unknown): string {
  const dir = path.join(scratch, `run${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "report.json"), typeof report === "string" ? report : JSON.stringify(report));
  return dir;
}

describe("rerenderReport", () => {
  it("writes every file format into the run directory", async () => {
    const dir = runDir(passingRun());
    const r = await rerenderReport(dir);
    expect(r.written.map((f) => path.basename(f))).toEqual(fileReporters().map((x) => x.fileName));
    expect(readFileSync(path.join(dir, "summary.md"), "utf8")).toMatch(/PASSED/);
  });

  it("keeps an inconclusive run inconclusive, and honours --out", async () => {
    const dir = runDir(inconclusiveRun());
    const out = path.join(scratch, "elsewhere");
    const r = await rerenderReport(dir, { out });
    expect(r.dir).toBe(out);
    expect(r.report.status).toBe("inconclusive");
    expect(readFileSync(path.join(out, "summary.md"), "utf8")).toMatch(/INCONCLUSIVE/);
    expect(JSON.parse(readFileSync(path.join(out, "report.json"), "utf8")).status).toBe("inconclusive");
  });
});

describe("loadRun bad input", () => {
  it("names a missing directory", async () => {
    const p = path.join(scratch, "nope");
    await expect(loadRun(p)).rejects.toThrow(ReportInputError);
    await expect(loadRun(p)).rejects.toThrow(`${p}: no such run directory`);
  });

  it("names a directory without report.json", async () => {
    const dir = path.join(scratch, "empty");
    mkdirSync(dir);
    await expect(loadRun(dir)).rejects.toThrow(`${dir}: no report.json in this directory`);
  });

  it("surfaces readReport's schema_version message", async () => {
    const dir = runDir({ ...passingRun(), schema_version: 999 });
    await expect(loadRun(dir)).rejects.toThrow(
      /report\.json: report schema_version 999 is not supported.*schema_version 1/,
    );
  });

  it("says malformed JSON is damaged and how to regenerate it", async () => {
    const dir = runDir('{"schema_version": 1,');
    await expect(loadRun(dir)).rejects.toThrow(/report\.json: not valid JSON[\s\S]*re-run the rehearsal/);
  });

  it("accepts a report.json path directly", async () => {
    const dir = runDir(passingRun());
    const r = await loadRun(path.join(dir, "report.json"));
    expect(r.report.status).toBe("passed");
  });
});
