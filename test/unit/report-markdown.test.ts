import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/report/markdown.ts";
import { failingRun, inconclusiveRun, loadRun, passingRun } from "./report-fixtures.ts";

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

/** The text of one "### " section, up to the next one. */
function section(md: string, title: string): string {
  const start = md.indexOf(`### ${title}\n`);
  if (start < 0) return "";
  const next = md.indexOf("\n### ", start + 1);
  return next < 0 ? md.slice(start) : md.slice(start, next);
}

/** Rows of the table that follows the line starting with `lead`. */
function tableAfter(md: string, lead: string): string[][] {
  const at = md.indexOf(lead);
  expect(at, `"${lead}" not found`).toBeGreaterThanOrEqual(0);
  const block = md.slice(at).split("\n\n")[1] ?? "";
  return tableRows(block).slice(1);
}

describe("markdown reporter: load and observations", () => {
  it("places Load after budgets and invariants, and failing checks still first", () => {
    const md = renderMarkdown(loadRun());
    const order = ["### Failing checks", "### Budgets", "### Invariants", "### Load", "### Blocking"];
    const at = order.map((h) => md.indexOf(h));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(md.indexOf("### Vacuum and WAL")).toBeLessThan(md.indexOf("### Steps"));
  });

  it("states the load's shape, totals and acknowledged writes in a few lines", () => {
    const load = section(renderMarkdown(loadRun()), "Load");
    expect(load).toContain("**Shape:** native engine, reverse replay, 2,000 writes/s, 64 connections.");
    expect(load).toContain(
      "**Requests:** 32,290 intended; 26,903 writes and 2,950 reads ok; 37 errors (55P03 ×30, 57014 ×5, connection ×2); 140 late; 0 dropped; 2,400 skipped while writers were paused.",
    );
    expect(load).toMatch(/\*\*Writes acknowledged:\*\* 26,903; 2 indeterminate .*; `no_lost_writes`: ok\./);
  });

  it("tabulates write latency per phase, in run order, with the cutover's p99 jump", () => {
    const md = renderMarkdown(loadRun());
    const rows = tableAfter(md, "Writes per phase");
    expect(rows.map((r) => r[0])).toEqual(["warmup", "expand", "cutover", "cooldown"]);
    const cutover = rows.find((r) => r[0] === "cutover")!;
    // Phase, ops, throughput, p50, p95, p99, p99.9, max, service p99, errors, longest unavailability.
    expect(cutover).toEqual([
      "cutover",
      "3,180",
      "1,123",
      "6.2",
      "640",
      "900",
      "1,150",
      "1,180",
      "855",
      "37 (55P03 ×30, 57014 ×5, connection ×2)",
      "1.2 s",
    ]);
    expect(rows.find((r) => r[0] === "warmup")!.slice(3, 6)).toEqual(["3.1", "8.2", "12.3"]);
    // Reads get their own table, only for phases that had reads.
    expect(tableAfter(md, "Reads per phase").map((r) => [r[0], r[5]])).toEqual([
      ["warmup", "4.1"],
      ["cutover", "1,150"],
    ]);
  });

  it("lists only the steps whose write p99 is over 2x the warmup's, worst first", () => {
    const md = renderMarkdown(loadRun());
    expect(md).toContain("Steps that hurt: write p99 over 2× the warmup's 12.3 ms:");
    const rows = tableAfter(md, "Steps that hurt");
    // create_partition (14.8 ms) and pause_writes (9 ms) are under 24.6 ms; swap_names had no writes.
    expect(rows.map((r) => r[0])).toEqual(["cutover/attach", "cutover/resume_writes"]);
    expect(rows[0]!.slice(2, 4)).toEqual(["1,100", "89.4×"]);
  });

  it("says so when no step hurt, and when there is no warmup to compare with", () => {
    const calm = loadRun();
    calm.load!.windows = calm.load!.windows.filter((w) => w.step !== "attach" && w.step !== "resume_writes");
    expect(renderMarkdown(calm)).toContain("No step's write p99 exceeded 2× the warmup's 12.3 ms.");
    const cold = loadRun();
    cold.load!.windows = cold.load!.windows.filter((w) => w.section !== "warmup");
    const md = renderMarkdown(cold);
    expect(md).toContain("No warmup write baseline");
    expect(md).not.toContain("Steps that hurt");
  });

  it("attributes each write unavailability period to the step that was running", () => {
    const md = renderMarkdown(loadRun());
    expect(md).toContain(
      "Write unavailability (no write succeeded): 2 periods, 2.4 s in total, longest 1.2 s:",
    );
    const rows = tableAfter(md, "Write unavailability");
    // Time order, though the model lists the pause first.
    expect(rows).toEqual([
      ["24.02 s", "25.18 s", "1.2 s", "writes blocked", "cutover/attach"],
      [
        "25.26 s",
        "26.46 s",
        "1.2 s",
        "writers paused by a step",
        "cutover/swap_names (1.2 s), cutover/resume_writes (20 ms)",
      ],
    ]);
  });

  it("shows the migration's blocking episodes, most waiters first, and counts the others apart", () => {
    const md = renderMarkdown(loadRun());
    const blocking = section(md, "Blocking");
    const rows = tableAfter(blocking, "Locks held by the migration");
    expect(rows).toHaveLength(2);
    expect(rows[0]!.slice(0, 7)).toEqual([
      "`public.orders`",
      "AccessExclusiveLock",
      "37",
      "37",
      "1.2 s",
      "1.2 s",
      "cutover/attach",
    ]);
    expect(rows[0]![7]).toBe("`INSERT INTO orders (customer_id, amount) VALUES ($1, $2)`");
    expect(rows[1]![2]).toBe("4");
    expect(rows[1]![6]).toBe("cutover/swap_names");
    // Load waiting on load is not the migration's doing: counted, not tabulated.
    expect(blocking).toContain(
      "1 other episode where load requests waited on a session other than the migration",
    );
    expect(rows.some((r) => r[0] === "`public.customers`")).toBe(false);
  });

  it("says the migration blocked nothing when it did not, and flags a dead observer", () => {
    const r = loadRun();
    r.observations!.blocking = [];
    r.observations!.failure = "lock observer: connection lost at 25.3 s";
    const blocking = section(renderMarkdown(r), "Blocking");
    expect(blocking).toContain("**Observations incomplete:** lock observer: connection lost at 25.3 s");
    expect(blocking).toContain("The migration made no load request wait on a lock");
  });

  it("reports dead tuple growth, autovacuum runs, peak WAL and replication lag", () => {
    const r = loadRun();
    let md = renderMarkdown(r);
    const vac = section(md, "Vacuum and WAL");
    const rows = tableAfter(vac, "Dead tuples per table");
    expect(rows[0]).toEqual(["`public.orders`", "1,200", "75,000", "90,000", "1,218,000", "1"]);
    expect(rows[1]![0]).toBe("`public.customers`");
    expect(vac).toContain("**WAL:** peak 48 MB/s at 16.00 s (expand/create_partition)");
    expect(vac).not.toContain("Replication lag");
    r.observations!.replication_lag = [
      { t: 24_500, lag_ms: 900 },
      { t: 25_100, lag_ms: 2_300 },
    ];
    md = renderMarkdown(r);
    expect(md).toContain("**Replication lag:** max 2.3 s at 25.10 s (cutover/attach).");
  });

  it("lists load error messages per SQLSTATE with where they first happened", () => {
    const md = renderMarkdown(loadRun());
    expect(md).toContain(
      "- `55P03` ×30: canceling statement due to lock timeout (first at 25.01 s, in cutover/attach)",
    );
  });

  it("omits the load and observation sections when the run had none", () => {
    const md = renderMarkdown(failingRun());
    for (const h of ["### Load", "### Blocking", "### Vacuum and WAL"]) expect(md).not.toContain(h);
    const r = loadRun();
    delete r.observations;
    const onlyLoad = renderMarkdown(r);
    expect(onlyLoad).toContain("### Load");
    expect(onlyLoad).not.toContain("### Blocking");
    // Observations without a load: nobody could have waited, so no vacuous "blocked nothing".
    const noLoad = loadRun();
    delete noLoad.load;
    noLoad.observations!.blocking = [];
    const obsOnly = renderMarkdown(noLoad);
    expect(obsOnly).not.toContain("### Blocking");
    expect(obsOnly).toContain("### Vacuum and WAL");
  });

  it("caps a storm of unavailability periods, keeping the longest", () => {
    const r = loadRun();
    r.load!.unavailability = Array.from({ length: 45 }, (_, i) => ({
      from_ms: 24_000 + i * 40,
      to_ms: 24_000 + i * 40 + (i === 30 ? 35 : 10),
      reason: "blocked" as const,
    }));
    const md = renderMarkdown(r);
    const rows = tableAfter(md, "Write unavailability");
    expect(rows).toHaveLength(20);
    expect(rows.some((row) => row[2] === "35 ms")).toBe(true);
    expect(md).toContain("25 shorter periods not shown (see report.json).");
  });
});

describe("markdown reporter: how many more findings", () => {
  it("says how many problems the check counted beyond its listed examples", () => {
    const run = failingRun();
    run.checks.push({
      id: "no_lost_writes",
      kind: "invariant",
      status: "fail",
      summary: "293 of 1000 acknowledged writes are missing in public.ledger.idempotency_key",
      findings: [
        "293 acknowledged keys missing (first 10 below)",
        ...Array.from({ length: 10 }, (_, i) => `missing: k${i}`),
      ],
      unlisted: 283,
    });
    run.failing.push("no_lost_writes");
    const md = renderMarkdown(run);
    expect(md).toContain("- … and 283 more\n");
  });
});
