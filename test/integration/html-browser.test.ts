/**
 * index.html in a real browser, offline: renders without console errors, requests nothing but itself,
 * shows every chart, and puts the failures right under the verdict. Leaves a screenshot for a person.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../../src/report/html.ts";
import { loadRun } from "../unit/report-fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOT = path.resolve("reports/screenshots/html-report.png");

let dir: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-html-"));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("index.html in chromium", () => {
  it.skipIf(!HAS_CHROMIUM)(
    HAS_CHROMIUM ? "renders offline with every chart visible" : `skipped: no chromium at ${CHROMIUM}`,
    async () => {
      const file = path.join(dir, "index.html");
      await writeFile(file, renderHtml(loadRun()), "utf8");
      // A fresh context is a fresh, empty profile: nothing cached or remembered from another run.
      const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      const failed: string[] = [];
      const external: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") consoleErrors.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (err) => consoleErrors.push(`pageerror: ${err.message}`));
      page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText ?? "?"}`));
      page.on("request", (r) => {
        if (!r.url().startsWith("file://")) external.push(r.url());
      });

      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });

      const svgs = page.locator("figure.chart > svg");
      const n = await svgs.count();
      expect(n).toBe(5);
      for (let i = 0; i < n; i++) {
        const svg = svgs.nth(i);
        await expect.poll(() => svg.isVisible()).toBe(true);
        const box = await svg.boundingBox();
        expect(box, `chart ${i} has a box`).not.toBeNull();
        expect(box!.width).toBeGreaterThan(0);
        expect(box!.height).toBeGreaterThan(0);
      }

      const verdict = page.locator("header#verdict");
      expect(await verdict.isVisible()).toBe(true);
      expect((await verdict.locator(".verdict").innerText()).trim()).toBe("FAILED");
      // Right after the banner (CSS adjacent siblings): the caveats, visible, then the failures section.
      expect(await page.locator("header#verdict + *").getAttribute("id")).toBe("caveats");
      expect(await page.locator("header#verdict + section#caveats").isVisible()).toBe(true);
      expect(await page.locator("header#verdict + section#caveats + section#failures").count()).toBe(1);

      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`html report screenshot: ${SCREENSHOT}`);

      expect(consoleErrors).toEqual([]);
      expect(failed).toEqual([]);
      expect(external).toEqual([]);
      await context.close();
    },
  );
});
