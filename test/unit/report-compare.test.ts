import { describe, expect, it } from "vitest";
import { compareReports, delta } from "../../src/report/compare.ts";
import {
  formatDelta,
  renderComparisonHtml,
  renderComparisonMarkdown,
} from "../../src/report/compare-render.ts";
import type { RunReport } from "../../src/report/model.ts";
import { failingRun, inconclusiveRun, loadRun, passingRun } from "./report-fixtures.ts";

/** B: the cutover phase's write p99 3× higher, and no_lost_writes newly failing. */
function regressedPair(): { a: RunReport; b: RunReport } {
  const a = loadRun();
  const b = loadRun();
  b.run_id = "20240612T090000Z-b1b1";
  const cutover = b.load!.windows.find(
    (w) => w.phase === "cutover" && w.step === null && w.kind === "write",
  )!;
  cutover.latency.p99 *= 3;
  const lost = b.checks.find((c) => c.id === "no_lost_writes")!;
  lost.status = "fail";
  lost.summary = "3 acknowledged writes are missing from public.orders";
  b.failing = [...b.failing, "no_lost_writes"];
  return { a, b };
}

describe("compareReports", () => {
  it("lists a newly failing check as a regression, first", () => {
    const { a, b } = regressedPair();
    const c = compareReports(a, b);
    expect(c.verdict).toBe("regressed");
    expect(c.checks.regressions.map((x) => x.id)).toEqual(["no_lost_writes"]);
    expect(c.checks.regressions[0]).toMatchObject({ a: "pass", b: "fail" });
    expect(c.checks.fixed).toEqual([]);
    expect(c.checks.unchanged).toBe(a.checks.length - 1);
    expect(c.notConclusive).toEqual([]);
    expect(c.warnings).toEqual([]);
  });

  it("gives per-phase deltas with sign and percentage", () => {
    const { a, b } = regressedPair();
    const c = compareReports(a, b);
    expect(c.phases.map((p) => p.phase)).toEqual(["expand", "cutover"]);
    const cutover = c.phases.find((p) => p.phase === "cutover")!;
    expect(cutover.present).toBe("both");
    expect(cutover.write_p99_ms).toMatchObject({ a: 900, b: 2700, diff: 1800, regressed: true });
    expect(cutover.write_p99_ms.pct).toBeCloseTo(200);
    expect(cutover.write_p50_ms.diff).toBe(0);
    expect(cutover.write_p50_ms.regressed).toBe(false);
    expect(cutover.max_load_waiters.b).toBe(37);
    expect(cutover.locks.map((l) => l.mode)).toContain("AccessExclusiveLock");
    const expand = c.phases.find((p) => p.phase === "expand")!;
    expect(expand.write_p99_ms.diff).toBe(0);
    expect(formatDelta(cutover.write_p99_ms)).toBe("900 → 2,700 (+1,800, +200%) ⚠");
  });

  it("signs improvements negative and treats lower throughput as worse", () => {
    expect(formatDelta(delta(200, 50))).toBe("200 → 50 (-150, -75%)");
    expect(delta(100, 80, "down").regressed).toBe(true);
    expect(delta(100, 120, "down").regressed).toBe(false);
    expect(delta(0, 5).pct).toBeUndefined();
    expect(formatDelta(delta(undefined, 5))).toBe("- → 5");
  });

  it("counts rows scanned under ACCESS EXCLUSIVE on hot tables per phase", () => {
    const c = compareReports(passingRun(), failingRun());
    const cutover = c.phases.find((p) => p.phase === "cutover")!;
    expect(cutover.exclusive_rows_scanned).toMatchObject({ a: 0, b: 1_200_000, regressed: true });
    expect(c.checks.regressions.map((x) => x.id)).toEqual([
      "fk_valid",
      "budget.no_scan_under_access_exclusive",
    ]);
  });

  it("reports fixed checks when B passes what A failed", () => {
    const a = failingRun();
    const b = failingRun();
    for (const ch of b.checks) if (ch.status === "fail") ch.status = "pass";
    const c = compareReports(a, b);
    expect(c.verdict).toBe("improved");
    expect(c.checks.fixed.map((x) => x.id)).toEqual(["fk_valid", "budget.no_scan_under_access_exclusive"]);
  });

  it("never reads as an improvement when a run is inconclusive", () => {
    const c = compareReports(failingRun(), inconclusiveRun());
    expect(c.verdict).toBe("inconclusive");
    expect(c.notConclusive).toEqual([
      expect.stringMatching(/^B is INCONCLUSIVE: step cutover\/attach failed/),
    ]);
    expect(c.checks.fixed).toEqual([]);
    const md = renderComparisonMarkdown(c);
    expect(md.split("\n").slice(0, 4).join("\n")).toMatch(/B is INCONCLUSIVE/);
    expect(md).not.toMatch(/IMPROVED/);
  });

  it("warns about different scenarios but still compares", () => {
    const b = passingRun();
    b.scenario.name = "other-scenario";
    b.run_id = "other";
    const c = compareReports(passingRun(), b);
    expect(c.warnings).toEqual([expect.stringMatching(/different scenarios/)]);
    expect(c.phases).toHaveLength(2);
  });
});

describe("comparison renderers", () => {
  it("markdown: regression first, phase rows in a table", () => {
    const { a, b } = regressedPair();
    const md = renderComparisonMarkdown(compareReports(a, b));
    expect(md).toMatch(/^# rehearse compare: orders-attach-partition/);
    expect(md).toMatch(/\*\*REGRESSED: 1 regression/);
    expect(md.indexOf("### Regressions")).toBeLessThan(md.indexOf("## Phases"));
    expect(md).toMatch(/- \*\*no_lost_writes\*\* \(invariant\): pass → fail/);
    expect(md).toMatch(/^\| expand \| success \|/m);
    expect(md).toMatch(/^\| cutover \| success \|.*900 → 2,700 \(\+1,800, \+200%\) ⚠/m);
    expect(md).toMatch(/^\| cutover \| AccessExclusiveLock \| 1,180 \|$/m);
  });

  it("markdown escapes table pipes and angle brackets", () => {
    const { a, b } = regressedPair();
    b.checks.find((c) => c.id === "no_lost_writes")!.summary = "lost <script> | rows";
    const md = renderComparisonMarkdown(compareReports(a, b));
    expect(md).toContain("lost &lt;script> | rows");
    expect(md).not.toContain("<script>");
  });

  it("html is a self-contained page that escapes text", () => {
    const { a, b } = regressedPair();
    b.scenario.name = 'evil <img src=x onerror="alert(1)">';
    b.checks.find((c) => c.id === "no_lost_writes")!.summary = "<b>lost</b> & gone";
    const html = renderComparisonHtml(compareReports(a, b));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<style>");
    expect(html).not.toMatch(/<script|<link|https?:\/\//);
    expect(html).not.toContain("<img");
    expect(html).toContain("evil &lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(html).toContain("&lt;b&gt;lost&lt;/b&gt; &amp; gone");
    expect(html).toMatch(/<td>cutover<\/td>/);
    expect(html).toMatch(/class="worse">900 → 2,700/);
  });
});
