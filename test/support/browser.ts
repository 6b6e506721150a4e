/**
 * index.html in a real browser (Debian's chromium through playwright-core), for the browser tests: launching
 * it, opening a rendered report with the console watched, and measuring the page's text rather than eyeballing
 * it. The in-page code is plain JavaScript in a string: the project's TypeScript has no DOM types.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
/** Where screenshots are copied for a person to look at. */
export const SCREENSHOTS = path.resolve(import.meta.dirname, "../../reports/screenshots");

/** A headless chromium with nothing of its own on the network: no updates, no sync, no first-run pages. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

export interface OpenPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and warnings, uncaught page errors. */
  errors: string[];
  /** Requests that failed, and any request for something other than a file: the page must load nothing. */
  failed: string[];
  external: string[];
}

/** Writes `html` to `file` and opens it in a fresh context (a fresh, empty profile), the console watched. */
export async function openHtml(browser: Browser, html: string, file: string): Promise<OpenPage> {
  await writeFile(file, html, "utf8");
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const failed: string[] = [];
  const external: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText ?? "?"}`));
  page.on("request", (r) => {
    if (!r.url().startsWith("file://")) external.push(r.url());
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  return { page, context, errors, failed, external };
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
}

/**
 * Every visible piece of text on the page, as boxes in page coordinates: HTML text one box per line it wraps
 * onto (by Range), an SVG label by its element's box (a rotated label's bounding box); a label ECharts hid
 * and the inside of a closed <details> have no box.
 */
const TEXT_BOXES = `(() => {
  const out = [];
  const hidden = (el) => {
    // A closed <details> shows only its summary: the rest is laid out nowhere, whatever its styles say.
    const details = el.closest("details");
    if (details && !details.open && !el.closest("summary")) return true;
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
      const el = parent.closest("text") || parent;
      if (svgTexts.has(el)) continue;
      svgTexts.add(el);
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) out.push({ x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, text });
      continue;
    }
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects())
      if (r.width > 0 && r.height > 0) out.push({ x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, text });
  }
  return out;
})()`;

export async function textBoxes(page: Page): Promise<Box[]> {
  return (await page.evaluate(TEXT_BOXES)) as Box[];
}

/** Pairs of boxes that overlap by more than `slack` px both ways, described for a failure message. */
export function overlaps(boxes: Box[], slack = 1): string[] {
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

/** The lock timeline's row labels (its y axis: the SVG texts anchored at their end), top to bottom. */
export async function lockRowLabels(page: Page): Promise<{ text: string; y: number }[]> {
  return (await page.evaluate(`(() =>
    [...document.querySelectorAll('figure[data-chart="locks"] svg text[text-anchor="end"]')]
      .map((t) => { const r = t.getBoundingClientRect(); return { y: r.top + r.height / 2, text: (t.textContent || "").trim() }; })
      .sort((a, b) => a.y - b.y)
  )()`)) as { text: string; y: number }[];
}

export interface BarBox {
  fill: string;
  stroke: string;
  width: number;
  /** Vertical centre, page px: the row it is in. */
  y: number;
}

/** The lock timeline's bars as the browser laid them out: filled or outlined (fill none), and how wide. */
export async function lockBars(page: Page): Promise<BarBox[]> {
  return (await page.evaluate(`(() =>
    [...document.querySelectorAll('figure[data-chart="locks"] svg path[ecmeta_series_index="0"][ecmeta_data_index]')]
      .map((p) => {
        const r = p.getBoundingClientRect();
        return { fill: p.getAttribute("fill") || "", stroke: p.getAttribute("stroke") || "", width: r.width, y: r.top + r.height / 2 };
      })
  )()`)) as BarBox[];
}
