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

describe("compare states the conditions and marks only what exceeds the noise", () => {
  /** A's warmup (13–15 s, so the one whole second 14) padded to seconds 14–19 with this p99 and write count. */
  function withWarmup(r: RunReport, p99s: number[], writes: number[]): RunReport {
    const w = r.load!.windows.find((x) => x.section === "warmup" && x.kind === "write")!;
    w.started_ms = 13_000;
    w.ended_ms = 13_000 + (p99s.length + 1) * 1000;
    r.load!.series = [
      ...p99s.map((p, i) => ({
        t: 14 + i,
        writes: writes[i]!,
        reads: 0,
        errors: 0,
        write_p50: 3,
        write_p99: p,
        read_p99: 0,
        in_flight: 1,
      })),
      ...r.load!.series,
    ];
    return r;
  }

  it("lists every difference in conditions (100k vs 1M rows, --rollback, settings, version) before any delta", () => {
    const a = loadRun();
    const b = loadRun();
    b.run_id = "b";
    const table = Object.keys(a.context.rows)[0]!;
    a.context.rows[table] = 100_000;
    b.context.rows[table] = 1_000_000;
    b.context.rollback = !a.context.rollback;
    b.context.settings = { ...a.context.settings, work_mem: "64MB" };
    b.tool.version = "9.9.9";
    const c = compareReports(a, b);
    expect(c.differences).toEqual([
      `rows: ${table} 100,000 → 1,000,000 (×10)`,
      `--rollback: ${a.context.rollback ? "on → off" : "off → on"}`,
      expect.stringMatching(/^server settings: work_mem .* → 64MB$/),
      `rehearse version: ${a.tool.version} → 9.9.9`,
    ]);
    const md = renderComparisonMarkdown(c);
    expect(md.indexOf("## What differs between A and B")).toBeLessThan(md.indexOf("## Checks"));
    expect(md).toContain(`- rows: ${table} 100,000 → 1,000,000 (×10)`);
    expect(renderComparisonHtml(c)).toContain("<li>rehearse version: ");
    // The same conditions say so, rather than nothing.
    expect(compareReports(loadRun(), loadRun()).differences).toEqual([]);
    expect(renderComparisonMarkdown(compareReports(loadRun(), loadRun()))).toMatch(/- nothing: same rows/);
  });

  it("does not mark a -0.3 % throughput change, marks -30 %", () => {
    const a = loadRun();
    const b = loadRun();
    const w = b.load!.windows.find((x) => x.phase === "cutover" && x.step === null && x.kind === "write")!;
    const base = w.throughput;
    w.throughput = base * 0.997;
    let cut = compareReports(a, b).phases.find((p) => p.phase === "cutover")!;
    expect(cut.write_throughput).toMatchObject({ regressed: false, within_noise: true });
    expect(formatDelta(cut.write_throughput)).toMatch(/\(within noise\)$/);
    w.throughput = base * 0.7;
    cut = compareReports(a, b).phases.find((p) => p.phase === "cutover")!;
    expect(cut.write_throughput.regressed).toBe(true);
  });

  it("widens the latency threshold to twice the warmup's own noise", () => {
    // A steady warmup: a 20 % higher cutover p99 is beyond the 10 % stated threshold.
    const steady = [10, 10.2, 9.9, 10.1, 10];
    const writes = [100, 101, 99, 100, 100];
    const bump = (r: RunReport) => {
      const w = r.load!.windows.find((x) => x.phase === "cutover" && x.step === null && x.kind === "write")!;
      w.latency.p99 *= 1.2;
      return r;
    };
    let c = compareReports(
      withWarmup(loadRun(), steady, writes),
      bump(withWarmup(loadRun(), steady, writes)),
    );
    expect(c.phases.find((p) => p.phase === "cutover")!.write_p99_ms.regressed).toBe(true);
    // A warmup whose p99 swings ±30 % second to second: the same 20 % is within its noise.
    const noisy = [10, 14, 7, 13, 6];
    c = compareReports(withWarmup(loadRun(), noisy, writes), bump(withWarmup(loadRun(), steady, writes)));
    const p99 = c.phases.find((p) => p.phase === "cutover")!.write_p99_ms;
    expect(p99).toMatchObject({ regressed: false, within_noise: true });
    expect(c.thresholds).toMatch(/write latency over (\d+)%/);
    expect(Number(/write latency over (\d+)%/.exec(c.thresholds)![1])).toBeGreaterThan(20);
    expect(c.thresholds).toMatch(/warmup noise \(per-second CV\): write p99 3\d\.\d% \/ 1\.\d%/);
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
