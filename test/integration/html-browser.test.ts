/**
 * The index.html of a real failing rehearsal in a real browser, offline: `cutover-behind-reporting-query`, the
 * cheapest built-in hazard that fails for blocking writes (a catalog-only ALTER waits ~5 s for ACCESS
 * EXCLUSIVE behind a reporting query while the load's writes queue behind it). It renders without console
 * errors, requests nothing but itself, shows every chart, puts the failures right under the verdict, draws
 * the lock view one row per table with the hot table's write-blocking lock marked and its waiters under it,
 * and no two pieces of text overlap. Leaves screenshots for a person.
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../../src/report/html.ts";
import {
  CHROMIUM,
  HAS_CHROMIUM,
  launchChromium,
  openHtml,
  overlaps,
  SCREENSHOTS,
  textBoxes,
} from "../support/browser.ts";
import { failingChecks, rehearseBuiltin } from "../support/builtin-run.ts";
import { expectLockView } from "../support/lock-view-expect.ts";

const SCENARIO = "cutover-behind-reporting-query";
const HOT = "public.ledger";

let dir: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-html-"));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("index.html of a failing rehearsal in chromium", () => {
  it.skipIf(!HAS_CHROMIUM)(
    HAS_CHROMIUM
      ? `${SCENARIO}: FAILED first, every chart visible, the blocking lock marked, no overlapping text`
      : `skipped: no chromium at ${CHROMIUM}`,
    async () => {
      const report = await rehearseBuiltin(SCENARIO);
      expect(report.status, failingChecks(report)).toBe("failed");
      expect(report.expectation.met, report.expectation.explanation).toBe(true);

      const html = renderHtml(report);
      const bytes = Buffer.byteLength(html);
      const { page, context, errors, failed, external } = await openHtml(
        browser!,
        html,
        path.join(dir, "index.html"),
      );
      try {
        // Every chart the run has data for is drawn and visible; the one it has none for says why.
        const figures = page.locator("figure.chart");
        const ids: string[] = [];
        for (let i = 0; i < (await figures.count()); i++) {
          const figure = figures.nth(i);
          ids.push((await figure.getAttribute("data-chart"))!);
          const box = await figure.locator(":scope > svg").boundingBox();
          expect(box, `chart ${ids[i]} has a box`).not.toBeNull();
          expect(box!.width).toBeGreaterThan(0);
          expect(box!.height).toBeGreaterThan(0);
        }
        expect(ids).toEqual(["latency", "throughput", "locks", "tables", "wal", "detail-1"]);
        expect(await page.locator('[data-absent="replication"]').isVisible()).toBe(true);

        // The verdict, then the caveats, then what failed: the lock-wait and lock-queue budgets.
        const verdict = page.locator("header#verdict");
        expect(await verdict.isVisible()).toBe(true);
        expect((await verdict.locator(".verdict").innerText()).trim()).toBe("FAILED");
        expect(await page.locator("header#verdict + *").getAttribute("id")).toBe("caveats");
        expect(await page.locator("header#verdict + section#caveats").isVisible()).toBe(true);
        const failures = page.locator("header#verdict + section#caveats + section#failures");
        expect(await failures.count()).toBe(1);
        const failuresText = await failures.innerText();
        for (const id of report.failing) expect(failuresText).toContain(id);

        // No two pieces of text overlap, as laid out (the lock view collapsed, as a reader first sees it).
        const boxes = await textBoxes(page);
        expect(boxes.length).toBeGreaterThan(50);
        expect(overlaps(boxes), "overlapping text").toEqual([]);

        await mkdir(SCREENSHOTS, { recursive: true });
        const shot = path.join(dir, "html-report.png");
        await page.screenshot({ path: shot, fullPage: true });
        await copyFile(shot, path.join(SCREENSHOTS, "html-report.png"));
        const locksShot = path.join(dir, "html-report-locks.png");
        await page.locator('figure[data-chart="locks"]').screenshot({ path: locksShot });
        await copyFile(locksShot, path.join(SCREENSHOTS, "html-report-locks.png"));
        console.log(`${SCENARIO}: index.html ${bytes} bytes; screenshots in ${SCREENSHOTS}`);

        await expectLockView(page, report, HOT);
        // Expanded, the lock table still overlaps nothing.
        expect(overlaps(await textBoxes(page)), "overlapping text, lock details expanded").toEqual([]);

        expect(errors).toEqual([]);
        expect(failed).toEqual([]);
        expect(external).toEqual([]);
      } finally {
        await context.close();
      }
    },
  );
});
