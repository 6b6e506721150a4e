/**
 * What an SRE checks in the lock view of a rendered index.html, as the browser shows it: one row per table and
 * mode (indexes and partitions folded in, hidden until expanded), the hot table's ACCESS EXCLUSIVE marked ▶
 * with how many load requests waited, those requests in the row right under it, and the migration's wait to
 * acquire drawn apart from its hold. Shared by the browser tests of a passing and a failing run.
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";
import type { RunReport } from "../../src/report/model.ts";
import { lockBars, lockRowLabels } from "./browser.ts";

const shortMode = (mode: string) => mode.replace(/Lock$/, "");
const named = (relation: string) =>
  relation.startsWith("oid:") ? `dropped relation (${relation})` : relation;
const ROW_TOLERANCE_PX = 6;

export async function expectLockView(page: Page, report: RunReport, hot: string): Promise<void> {
  const labels = await lockRowLabels(page);
  const texts = labels.map((l) => l.text);
  const owners = new Set(report.locks.map((l) => l.table ?? l.relation));
  const pairs = [...new Set(report.locks.map((l) => `${named(l.table ?? l.relation)} ${shortMode(l.mode)}`))];
  const covered = [
    ...new Set(report.locks.filter((l) => l.table && !owners.has(l.relation)).map((l) => l.relation)),
  ];

  // One row per table and mode; no index or partition has a row of its own, and no label is cut short.
  for (const pair of pairs) {
    const rows = texts.filter((t) => {
      const bare = t.replace(/^▶ /, "");
      return bare === pair || bare.startsWith(`${pair} `);
    });
    expect(rows, `rows for ${pair} in ${JSON.stringify(texts)}`).toHaveLength(1);
  }
  for (const rel of covered)
    expect(
      texts.filter((t) => t.includes(rel)),
      rel,
    ).toEqual([]);
  expect(
    texts.filter((t) => t.includes("…") || t.includes("...")),
    "truncated labels",
  ).toEqual([]);
  expect(
    texts.filter((t) => /(^|\s)oid:/.test(t)),
    "unresolved oid labels",
  ).toEqual([]);

  // The hot table's ACCESS EXCLUSIVE is the one marked, with the most load requests that waited behind it.
  const marked = labels.filter((l) => l.text.startsWith("▶ "));
  expect(marked.map((l) => l.text.replace(/ \(\+\d+\)| · \d+ waiting$/g, ""))).toEqual([
    `▶ ${hot} AccessExclusive`,
  ]);
  const top = marked[0]!;
  const episodes = (report.observations?.blocking ?? []).filter(
    (e) =>
      e.blocker_is_migration && e.load_waiters > 0 && e.relation === hot && e.mode === "AccessExclusiveLock",
  );
  const queued = (report.lock_waits ?? []).filter(
    (w) => w.relation === hot && w.mode === "AccessExclusiveLock",
  );
  const waiting = Math.max(
    0,
    ...episodes.map((e) => e.max_load_waiters ?? e.load_waiters),
    ...queued.map((w) => w.queued_load_requests),
  );
  const bars = await lockBars(page);
  const inRow = (y: number) => bars.filter((b) => Math.abs(b.y - y) < ROW_TOLERANCE_PX);
  expect(
    inRow(top.y).some((b) => b.stroke === "#111827"),
    "the marked hold is outlined",
  ).toBe(true);
  if (episodes.length > 0) {
    expect(top.text).toMatch(new RegExp(` · ${waiting} waiting$`));
    // The load that queued behind it, in the row right under it, drawn there.
    const next = labels[labels.indexOf(top) + 1]!;
    expect(next.text).toBe("↳ load requests queued behind it");
    expect(inRow(next.y).filter((b) => b.fill === "#d97706")).toHaveLength(episodes.length);
  }

  // The migration's wait to acquire it, outlined and empty, apart from the filled hold.
  const waited = queued.filter((w) => w.wait_ms >= 50);
  if (waited.length > 0) {
    const outlined = inRow(top.y).filter((b) => b.fill === "none");
    expect(outlined.length, "the wait to acquire, outlined").toBeGreaterThanOrEqual(waited.length);
    const longest = Math.max(...waited.map((w) => w.wait_ms));
    const hold = Math.max(
      ...report.locks
        .filter((l) => l.relation === hot && l.mode === "AccessExclusiveLock")
        .map((l) => l.held_ms),
    );
    if (longest > 2 * hold) {
      const widest = (fill: (f: string) => boolean) =>
        Math.max(
          0,
          ...inRow(top.y)
            .filter((b) => fill(b.fill))
            .map((b) => b.width),
        );
      expect(widest((f) => f === "none")).toBeGreaterThan(widest((f) => f !== "none"));
    }
  }

  // The table under the charts: the same rows, the marked one the hot table's; what it covers folded away.
  const rows = page.locator("section#locks tbody tr");
  const holdPairs = new Set(report.locks.map((l) => `${l.table ?? l.relation}\u0000${l.mode}`));
  expect(await rows.count()).toBe(Math.min(50, holdPairs.size));
  const first = page.locator("section#locks tbody tr.top-lock");
  expect(await first.count()).toBe(1);
  expect(await first.locator("td").nth(0).innerText()).toMatch(new RegExp(`^▶ ${hot.replace(".", "\\.")}`));
  expect((await first.locator("td").nth(1).innerText()).trim()).toBe("AccessExclusiveLock");
  for (const rel of covered.slice(0, 5)) {
    const item = page.locator("section#locks details li code", { hasText: rel }).first();
    expect(await item.isVisible(), `${rel} hidden until expanded`).toBe(false);
  }
  const summaries = page.locator("section#locks details > summary");
  for (let i = 0; i < (await summaries.count()); i++) await summaries.nth(i).click();
  for (const rel of covered.slice(0, 5)) {
    const item = page.locator("section#locks details li code", { hasText: rel }).first();
    expect(await item.isVisible(), `${rel} shown once expanded`).toBe(true);
  }
}
