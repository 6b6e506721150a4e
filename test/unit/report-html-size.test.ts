/**
 * The page stays small however long the run: a one-hour rehearsal's index.html (synthetic report.json,
 * test/support/hour-report.ts) is under PAGE_BUDGET, with the per-second charts downsampled and each step's
 * sub-second detail drawn.
 */
import { describe, expect, it } from "vitest";
import { MAX_POINTS } from "../../src/report/chart-layout.ts";
import { renderHtml } from "../../src/report/html.ts";
import { jsonReporter } from "../../src/report/json.ts";
import { parseReport } from "../../src/report/load.ts";
import { hourReport } from "../support/hour-report.ts";
import { loadRun } from "./report-fixtures.ts";

/** The budget the README states: a one-hour run's page is under 2 MB. */
const PAGE_BUDGET = 2 * 1024 * 1024;

describe("index.html size", () => {
  it("a one-hour run's page stays under 2 MB, read back from its report.json", () => {
    const json = jsonReporter.render(hourReport());
    const report = parseReport(JSON.parse(json), "report.json");
    expect(report.load!.series).toHaveLength(3_600);
    expect(report.load!.detail).toHaveLength(12);
    const html = renderHtml(report);
    const bytes = Buffer.byteLength(html);
    console.log(`one-hour run: report.json ${json.length} bytes, index.html ${bytes} bytes`);
    expect(bytes).toBeLessThan(PAGE_BUDGET);
    // Downsampled (one point per 6 s), said so, and every step up close.
    expect(html).toContain("Downsampled to one point per 6 s");
    expect(html.match(/data-chart="detail-\d+"/g)).toHaveLength(12);
    // The latency chart draws at most MAX_POINTS points a series: its SVG is a fraction of the budget.
    const latency = /data-chart="latency">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    expect(Buffer.byteLength(latency)).toBeLessThan(PAGE_BUDGET / 10);
    expect(MAX_POINTS).toBeLessThanOrEqual(600);
  }, 60_000);

  it("a short run is not downsampled and has no step detail without load.detail", () => {
    const html = renderHtml(loadRun());
    expect(html).not.toContain("Downsampled");
    expect(html).not.toContain('id="zoom"');
  });
});
