/**
 * index.html's layout in a real browser (Debian's chromium), measured rather than eyeballed:
 *
 * - no two pieces of text on the page overlap (every text node's boxes: HTML lines by Range, SVG <text> by
 *   element; a label ECharts hid has no box), on a real passing `ledger-attach-history` rehearsal, a failing
 *   run and a synthetic one-hour run;
 * - the cutover's detail chart draws at least 10 points inside the cutover step (the symbols' centres
 *   against the step band, both as the browser laid them out);
 * - no console errors.
 *
 * Screenshots go to the test's temp directory and are copied to reports/screenshots/ for a person to look at.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STEP_BAND } from "../../src/report/html-detail.ts";
import { renderHtml } from "../../src/report/html.ts";
import type { RunReport } from "../../src/report/model.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { hourReport } from "../support/hour-report.ts";
import { scenariosRoot } from "../support/scenario-expect.ts";
import { loadRun } from "../unit/report-fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
const KEEP = path.resolve("reports/screenshots");

let dir: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-html-layout-"));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
}

/**
 * Every visible piece of text on the page, as boxes in page coordinates. Plain JavaScript run in the page (a
 * string: the project's TypeScript has no DOM types).
 */
const TEXT_BOXES = `(() => {
  const out = [];
  const hidden = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.visibility === "hidden" || st.display === "none" || Number(st.opacity) === 0) return true;
      if (e.getAttribute("opacity") === "0" || e.getAttribute("fill-opacity") === "0") return true;
    }
    return false;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const svgTexts = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = (n.textContent || "").trim();
    const parent = n.parentElement;
    if (!text || !parent || hidden(parent)) continue;
    if (parent.closest("svg")) {
      // An SVG label: its element's box (a rotated label's bounding box).
      const el = parent.closest("text") || parent;
      if (svgTexts.has(el)) continue;
      svgTexts.add(el);
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) out.push({ x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, text });
      continue;
    }
    // HTML text: one box per line it wraps onto.
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects())
      if (r.width > 0 && r.height > 0) out.push({ x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, text });
  }
  return out;
})()`;

async function textBoxes(page: Page): Promise<Box[]> {
  return (await page.evaluate(TEXT_BOXES)) as Box[];
}

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

/** Pairs of boxes that overlap by more than `slack` px both ways. */
function overlaps(boxes: Box[], slack = 1): string[] {
  const sorted = [...boxes].sort((a, b) => a.y - b.y);
  const found: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    for (let j = i + 1; j < sorted.length && sorted[j]!.y < a.y + a.h - slack; j++) {
      const b = sorted[j]!;
      const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (dx > slack && dy > slack)
        found.push(
          `"${a.text.slice(0, 40)}" and "${b.text.slice(0, 40)}" at (${Math.round(a.x)}, ${Math.round(a.y)})`,
        );
    }
  }
  return found;
}

/** Renders the report, opens it, and checks text and console; returns the open page. */
async function open(
  report: RunReport,
  name: string,
): Promise<{ page: Page; bytes: number; close: () => Promise<void> }> {
  const file = path.join(dir, `${name}.html`);
  const html = renderHtml(report);
  await writeFile(file, html, "utf8");
  const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });

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
  it("a passing ledger-attach-history run: no overlapping text, the cutover up close with ≥ 10 points in the step", async () => {
    const report = await rehearse({
      scenarioPath: path.join(scenariosRoot, "ledger-attach-history"),
      logger: silentLogger,
    });
    // On a mismatch, say why: a CI log is often all there is to go on.
    const why = report.checks
      .filter((c) => c.status === "fail")
      .map((c) => `${c.id}: ${c.summary}`)
      .join("; ");
    expect(report.reason ?? "", `status ${report.status}`).toBe("");
    expect(report.status, why).toBe("passed");
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
    } finally {
      await close();
    }
  });

  it("a failing run: no overlapping text", async () => {
    const { close } = await open(loadRun(), "failing-run");
    await close();
  });

  it("a one-hour run (synthetic): no overlapping text, under 2 MB", async () => {
    const { bytes, close } = await open(hourReport(), "one-hour-run");
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    await close();
  });
});
