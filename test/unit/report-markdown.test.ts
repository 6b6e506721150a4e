import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/report/markdown.ts";
import { failingRun, inconclusiveRun, passingRun } from "./report-fixtures.ts";

/** Cells of the table rows whose first cell matches, splitting on unescaped "|". */
function tableRows(md: string): string[][] {
  return md
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|\s*:?-/.test(l))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

describe("markdown reporter", () => {
  it("gives a plain-word verdict and no emoji", () => {
    const md = renderMarkdown(failingRun());
    expect(md).toMatch(/^\*\*FAILED\*\*: 2 of 6 checks failed/m);
    expect(md).not.toMatch(/\p{Extended_Pictographic}/u);
    expect(renderMarkdown(passingRun())).toMatch(/^\*\*PASSED\*\*/m);
    expect(renderMarkdown(inconclusiveRun())).toMatch(/^\*\*INCONCLUSIVE\*\*/m);
  });

  it("lists failing checks, with findings and remediation, before any passing check", () => {
    const md = renderMarkdown(failingRun());
    const firstFail = md.indexOf("budget.no_scan_under_access_exclusive");
    const fkFail = md.indexOf("fk_valid");
    // triggers_preserved comes first in the model's checks array; it must not come first here.
    const firstPass = md.indexOf("triggers_preserved");
    expect(firstFail).toBeGreaterThan(0);
    expect(fkFail).toBeGreaterThan(0);
    expect(firstPass).toBeGreaterThan(Math.max(firstFail, fkFail));
    expect(md.indexOf("### Failing checks")).toBeLessThan(md.indexOf("### Budgets"));
    expect(md).toContain(
      "**Remediation:** VALIDATE CONSTRAINT orders_2023_customer_id_fkey in a later step; it takes only SHARE UPDATE EXCLUSIVE.",
    );
    expect(md).toContain("seq-scanned hot table public.orders (1200000 rows read)");
    // Within each table too: the failing row precedes the passing ones.
    const ids = tableRows(md).map((r) => r[0]);
    expect(ids.indexOf("`budget.no_scan_under_access_exclusive`")).toBeLessThan(
      ids.indexOf("`budget.max_lock_ms`"),
    );
    expect(ids.indexOf("`fk_valid`")).toBeLessThan(ids.indexOf("`triggers_preserved`"));
  });

  it("shows budgets as measured vs limit with units", () => {
    const rows = tableRows(renderMarkdown(failingRun()));
    const scan = rows.find((r) => r[0] === "`budget.no_scan_under_access_exclusive`")!;
    expect(scan.slice(1, 4)).toEqual(["FAIL", "1,200,000 rows", "0 rows"]);
    const lock = rows.find((r) => r[0] === "`budget.max_lock_ms`")!;
    expect(lock.slice(1, 4)).toEqual(["ok", "180 ms", "2,000 ms"]);
  });

  it("escapes | and newlines so a cell cannot break its table", () => {
    const r = failingRun();
    r.checks[0]!.summary = "a | b\nsecond line";
    const md = renderMarkdown(r);
    expect(md).toContain("a \\| b<br>second line");
    const lines = md.split("\n").filter((l) => l.startsWith("| `triggers_preserved`"));
    expect(lines).toHaveLength(1);
    // Header of the invariants table has 3 cells; the escaped pipe must not add a fourth.
    expect(tableRows(lines[0]!)[0]).toHaveLength(3);
  });

  it("summarises the lock timeline: longest hold per relation and mode, and hot scans under ACCESS EXCLUSIVE", () => {
    const md = renderMarkdown(failingRun());
    const locks = md.slice(md.indexOf("### Locks"), md.indexOf("### Seeding"));
    expect(locks).toMatch(
      /`public\.orders`: sequential scan reading 1,200,000 rows under AccessExclusiveLock, lock held 4\.2 s, in cutover\/attach statement 2 \(migration\/02_cutover\.sql:2\)/,
    );
    const rows = tableRows(locks).filter((r) => r[1] === "`public.orders`");
    // Two AccessExclusiveLock holds on orders in cutover (300 ms, 4.2 s): only the longest is listed.
    expect(rows).toHaveLength(1);
    expect(rows[0]!.slice(0, 4)).toEqual(["cutover", "`public.orders`", "AccessExclusiveLock", "4.2 s"]);
    // A scan of a table that is not hot, or not under ACCESS EXCLUSIVE, is not called out.
    expect(locks).not.toMatch(/orders_legacy`: sequential scan/);
  });

  it("omits the hot-scan list when no hot table was scanned under ACCESS EXCLUSIVE", () => {
    expect(renderMarkdown(passingRun())).not.toContain("Hot tables scanned or rewritten");
  });

  it("shows a step error with SQLSTATE, message, file:line and the caret excerpt in a code block", () => {
    const md = renderMarkdown(inconclusiveRun());
    expect(md).toContain("**Reason:** step cutover/attach failed with lock_timeout after 3 attempts");
    expect(md).toContain("#### Error in `cutover/attach`");
    expect(md).toContain("SQLSTATE `55P03`: canceling statement due to lock timeout");
    expect(md).toContain("at `migration/02_cutover.sql:2:13`");
    // The caret line keeps its leading spaces, inside a fence, right under the source line.
    expect(md).toContain(
      "```\nALTER TABLE orders ATTACH PARTITION orders_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');\n            ^\n```",
    );
    const stepRow = tableRows(md).find((r) => r[1] === "attach")!;
    expect(stepRow).toEqual([
      "cutover",
      "attach",
      "error",
      "4.6 s",
      "3",
      "55P03: canceling statement due to lock timeout",
    ]);
  });

  it("reports seeding rate, context and the expectation", () => {
    const md = renderMarkdown(failingRun());
    expect(md).toContain("Seeded 1,250,000 rows in 14.8 s (84,402 rows/s).");
    expect(md).toContain("- Provider: embedded");
    expect(md).toContain("- PostgreSQL: 17.2");
    expect(md).toContain("- Scale: 0.1; seed: 42; rollback: no");
    expect(md).toContain(
      "**Expectation:** expected to pass: NOT met (fk_valid and budget.no_scan_under_access_exclusive failed unexpectedly)",
    );
  });

  it("uses a longer fence when the excerpt itself contains a fence", () => {
    const r = inconclusiveRun();
    r.steps[1]!.error!.excerpt = "SELECT '```';\n        ^";
    const md = renderMarkdown(r);
    expect(md).toContain("````\nSELECT '```';\n        ^\n````");
  });
});
