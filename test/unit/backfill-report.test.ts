/**
 * Backfill facts where a person reads them: the terminal summary, summary.md, the live progress block, and
 * report.json read back (the field is optional: reports without it still load).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TtyProgress } from "../../src/cli/progress-tty.ts";
import { readReport } from "../../src/report/load.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import type { BackfillFacts, RunReport } from "../../src/report/model.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { passingRun } from "./report-fixtures.ts";

const facts: BackfillFacts = {
  source: "ledger",
  target: "ledger_new",
  rows: 50_000,
  batches: 10,
  workers: 4,
  key_from: 1,
  key_to: 50_001,
  resumed_rows: 0,
  restarts: 1,
  faults_injected: 1,
  rows_per_s: 12_345,
  throttled_ms: 3200,
  waited_for_lag_ms: 1000,
  stale_lag_readings: 2,
  window_wait_ms: 0,
};

function withBackfill(): RunReport {
  const r = passingRun();
  r.steps.push({
    section: "migration",
    phase: "copy",
    name: "fill",
    status: "success",
    transaction: false,
    attempts: 1,
    started_ms: 10,
    duration_ms: 4050,
    statements: [],
    backfill: facts,
  });
  return r;
}

const SUMMARY =
  "50,000 rows in 10 batches by 4 workers, 12,345 rows/s; 1 worker restart; " +
  "throttled 3.2 s (1.0 s on replica lag, 2 stale lag readings)";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-backfill-report-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("backfill facts in the reports", () => {
  it("the terminal names the step, its rows, rows/s, restarts and throttling", () => {
    expect(renderTerminal(withBackfill())).toContain(`backfill copy/fill: ${SUMMARY}`);
    expect(renderTerminal(passingRun())).not.toContain("backfill ");
  });

  it("summary.md lists it under the steps", () => {
    const md = renderMarkdown(withBackfill());
    expect(md).toContain(`- Backfill \`copy/fill\`: ${SUMMARY}`);
    expect(md.indexOf("- Backfill")).toBeGreaterThan(md.indexOf("### Steps"));
  });

  it("report.json keeps the field through a read-back, and still reads reports without it", async () => {
    const file = path.join(root, "report.json");
    writeFileSync(file, JSON.stringify(withBackfill()));
    const back = await readReport(file);
    expect(back.steps.at(-1)!.backfill).toEqual(facts);
    writeFileSync(file, JSON.stringify(passingRun()));
    expect((await readReport(file)).steps.every((s) => s.backfill === undefined)).toBe(true);
  });

  it("the live block shows a backfill bar with rows/s and ETA, cleared when the step ends", () => {
    let t = 0;
    const writes: string[] = [];
    const v = new TtyProgress({
      stream: { isTTY: true, columns: 120, write: (s: string) => (writes.push(s), true) },
      now: () => t,
      schedule: () => () => {},
      minRedrawMs: 0,
      barWidth: 10,
    });
    v.event({ kind: "stage", stage: "running the migration" });
    v.event({ kind: "step", phase: "copy", step: "fill", status: "start" });
    t = 2000;
    v.event({
      kind: "backfill",
      step: "copy/fill",
      rows: 25_000,
      rowsPerS: 12_500,
      fraction: 0.5,
      etaMs: 2000,
    });
    expect(v.lines()).toContain("  backfill [█████░░░░░]  50%  25,000 rows  12,500 rows/s  ETA 2.0s");
    v.event({ kind: "step", phase: "copy", step: "fill", status: "success" });
    expect(v.lines().some((l) => l.includes("backfill ["))).toBe(false);
  });
});
