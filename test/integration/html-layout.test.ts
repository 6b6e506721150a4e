/**
 * index.html's layout in a real browser (Debian's chromium), measured rather than eyeballed:
 *
 * - no two pieces of text on the page overlap (every text node's boxes: HTML lines by Range, SVG <text> by
 *   element; a label ECharts hid has no box), on a real passing `ledger-attach-history` rehearsal, a
 *   synthetic failing run and a synthetic one-hour run (a real failing run is html-browser.test.ts's);
 * - the cutover's detail chart draws at least 10 points inside the cutover step (the symbols' centres
 *   against the step band, both as the browser laid them out);
 * - the lock view of the passing run: one row per table and mode, the hot ledger's ACCESS EXCLUSIVE marked
 *   with the load that queued behind it under it, its indexes and partitions folded away until expanded;
 * - no console errors.
 *
 * Screenshots go to the test's temp directory and are copied to reports/screenshots/ for a person to look at.
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STEP_BAND } from "../../src/report/html-detail.ts";
import { renderHtml } from "../../src/report/html.ts";
import type { RunReport } from "../../src/report/model.ts";
import {
  HAS_CHROMIUM,
  launchChromium,
  openHtml,
  overlaps,
  SCREENSHOTS as KEEP,
  textBoxes,
} from "../support/browser.ts";
import { failingChecks, rehearseBuiltin } from "../support/builtin-run.ts";
import { hourReport } from "../support/hour-report.ts";
import { expectLockView } from "../support/lock-view-expect.ts";
import { loadRun } from "../unit/report-fixtures.ts";

let dir: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-html-layout-"));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The step band's box and the centres of the write p99 line's symbols (series 0) in a detail figure. */
const BAND_AND_POINTS = (fill: string) => `(() => {
  const fig = document.querySelector('figure.detail[data-step="cutover/swap_to_partitioned"]');
  const b = fig.querySelector('svg polygon[fill="${fill}"]').getBoundingClientRect();
  const xs = [...fig.querySelectorAll('svg path[ecmeta_series_index="0"][ecmeta_data_index]')].map((p) => {
    const r = p.getBoundingClientRect();
    return r.left + r.width / 2;
  });
  return { band: { left: b.left, right: b.right }, points: xs };
})()`;

/** Renders the report, opens it, and checks text and console; returns the open page. */
async function open(
  report: RunReport,
  name: string,
): Promise<{ page: Page; bytes: number; close: () => Promise<void> }> {
  const html = renderHtml(report);
  const { page, context, errors } = await openHtml(browser!, html, path.join(dir, `${name}.html`));
  const boxes = await textBoxes(page);
  expect(boxes.length).toBeGreaterThan(50);
  expect(overlaps(boxes), `${name}: overlapping text`).toEqual([]);

  const shot = path.join(dir, `${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  const charts = page.locator("figure.chart");
  for (let i = 0; i < (await charts.count()); i++) {
    const id = await charts.nth(i).getAttribute("data-chart");
    await charts.nth(i).screenshot({ path: path.join(dir, `${name}-${id}.png`) });
  }
  await mkdir(KEEP, { recursive: true });
  await copyFile(shot, path.join(KEEP, `${name}.png`));
  console.log(`${name}: index.html ${Buffer.byteLength(html)} bytes; screenshots in ${dir}, copy at ${KEEP}`);
  expect(errors).toEqual([]);
  return { page, bytes: Buffer.byteLength(html), close: () => context.close() };
}

describe.skipIf(!HAS_CHROMIUM)("index.html layout in chromium", () => {
  it("a passing 1M-row ledger-attach-history run: no overlapping text, the cutover up close with ≥ 10 points in the step", async () => {
    // The size the SRE read (issue 17): a million ledger rows, where the cutover is a sliver of the run.
    const report = await rehearseBuiltin("ledger-attach-history", { ledger: 1_000_000 });
    expect(report.context.rows.ledger).toBe(1_000_000);
    expect(report.reason ?? "", `status ${report.status}`).toBe("");
    expect(report.status, failingChecks(report)).toBe("passed");
    const { page, close } = await open(report, "ledger-attach-history");
    try {
      const figure = page.locator('figure.detail[data-step="cutover/swap_to_partitioned"]');
      expect(await figure.count()).toBe(1);
      await figure.screenshot({ path: path.join(dir, "cutover-detail.png") });
      await copyFile(path.join(dir, "cutover-detail.png"), path.join(KEEP, "cutover-detail.png"));
      const { band, points } = (await page.evaluate(BAND_AND_POINTS(STEP_BAND))) as {
        band: { left: number; right: number };
        points: number[];
      };
      const inside = points.filter((x) => x >= band.left && x <= band.right);
      const seen = `${inside.length} of ${points.length} points inside the step band ${JSON.stringify(band)}`;
      console.log(`cutover detail: ${seen}`);
      expect(band.right - band.left, seen).toBeGreaterThan(20);
      expect(inside.length, seen).toBeGreaterThanOrEqual(10);
      // The lock view: one row per table and mode, the hot ledger's ACCESS EXCLUSIVE marked, its waiters under it.
      await expectLockView(page, report, "public.ledger");
      expect(overlaps(await textBoxes(page)), "overlapping text, lock details expanded").toEqual([]);
    } finally {
      await close();
    }
  });

  it("a synthetic failing run: no overlapping text", async () => {
    const { close } = await open(loadRun(), "failing-run");
    await close();
  });

  it("a one-hour run (synthetic): no overlapping text, under 2 MB", async () => {
    const { bytes, close } = await open(hourReport(), "one-hour-run");
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    await close();
  });
});
