import { describe, expect, it } from "vitest";
import { renderTerminal, shouldUseColor } from "../../src/report/terminal.ts";
import { failingRun, inconclusiveRun, loadRun, passingRun } from "./report-fixtures.ts";

const ESC = "\u001b";

describe("terminal reporter", () => {
  it("puts every FAIL line before any ok line, findings indented under their check", () => {
    const out = renderTerminal(failingRun(), { color: false, reportDir: "reports/20240611T101500Z-7f3a" });
    const lines = out.split("\n");
    expect(lines[0]).toBe(
      "rehearse FAILED orders-attach-partition: 2 of 6 checks failed, 1 skipped; exit code 1; 42.5 s",
    );
    const fails = lines.flatMap((l, i) => (l.startsWith("FAIL ") ? [i] : []));
    const oks = lines.flatMap((l, i) => (l.startsWith("ok   ") ? [i] : []));
    expect(fails).toHaveLength(2);
    expect(oks).toHaveLength(3);
    expect(Math.max(...fails)).toBeLessThan(Math.min(...oks));
    expect(lines).toContain("FAIL fk_valid: 1 foreign key on public.orders is NOT VALID after the migration");
    expect(lines).toContain("ok   triggers_preserved");
    const fk = lines.indexOf(
      "FAIL fk_valid: 1 foreign key on public.orders is NOT VALID after the migration",
    );
    expect(lines[fk + 1]).toBe("     - orders_2023_customer_id_fkey on public.orders_2023 | NOT VALID");
    expect(lines[fk + 2]).toMatch(/^ {5}fix: VALIDATE CONSTRAINT/);
    expect(lines.at(-2)).toBe("report: reports/20240611T101500Z-7f3a");
  });

  it("shows a step error with file:line and the excerpt, caret aligned", () => {
    const out = renderTerminal(inconclusiveRun(), { color: false });
    expect(out).toMatch(/^rehearse INCONCLUSIVE /);
    expect(out).toContain("  reason: step cutover/attach failed with lock_timeout after 3 attempts");
    expect(out).toContain("error in cutover/attach: SQLSTATE 55P03: canceling statement due to lock timeout");
    expect(out).toContain("     at migration/02_cutover.sql:2:13");
    expect(out).toContain(
      "     ALTER TABLE orders ATTACH PARTITION orders_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');\n                 ^\n",
    );
  });

  it("uses no escape sequences without colour, and colours FAIL red with it", () => {
    expect(renderTerminal(failingRun(), { color: false })).not.toContain(ESC);
    const coloured = renderTerminal(failingRun(), { color: true });
    expect(coloured).toContain(`${ESC}[31mFAIL${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[32mok${ESC}[0m`);
  });

  it("neutralises control characters from the database so they cannot drive the terminal", () => {
    const r = failingRun();
    r.checks[2]!.findings = [`evil ${ESC}[2J${ESC}]0;pwned\u0007 name`];
    const out = renderTerminal(r, { color: false });
    expect(out).not.toContain(ESC);
    expect(out).not.toContain("\u0007");
    expect(out).toContain("evil ?[2J?]0;pwned? name");
  });

  it("prints a passing run as ok lines only", () => {
    const out = renderTerminal(passingRun(), { color: false });
    expect(out).not.toMatch(/^FAIL /m);
    expect(out.match(/^ok {3}/gm)).toHaveLength(3);
  });

  it("decides colour from the stream and NO_COLOR / FORCE_COLOR", () => {
    expect(shouldUseColor({ isTTY: true }, {})).toBe(true);
    expect(shouldUseColor({ isTTY: false }, {})).toBe(false);
    expect(shouldUseColor({}, {})).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(shouldUseColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(shouldUseColor({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false);
  });

  it("prints one aligned load line per phase after the checks, and the worst blocking episode", () => {
    const out = renderTerminal(loadRun(), { color: false, reportDir: "reports/x" });
    const lines = out.split("\n");
    const load = lines.filter((l) => l.startsWith("load  "));
    expect(load).toEqual([
      "load  warmup    p99 12.3 ms  max    80 ms  1,980 w/s   0 err",
      "load  expand    p99 14.8 ms  max    95 ms  1,980 w/s   0 err",
      "load  cutover   p99  900 ms  max 1,180 ms  1,123 w/s  37 err  unavailable 1.2 s",
      "load  cooldown  p99 13.1 ms  max    70 ms  1,980 w/s   0 err",
      "load  worst blocking: public.orders AccessExclusiveLock held by the migration in cutover/attach: 37 load requests waited, longest 1.2 s",
    ]);
    const lastCheck = Math.max(...lines.flatMap((l, i) => (/^(FAIL|ok) /.test(l) ? [i] : [])));
    expect(lines.indexOf(load[0]!)).toBeGreaterThan(lastCheck);
    expect(lines.at(-2)).toBe("report: reports/x");
  });

  it("shows a phase's dropped and late requests next to its errors", () => {
    const r = loadRun();
    const w = r.load!.windows.find((x) => x.phase === "cutover" && x.step === null && x.kind === "write")!;
    w.dropped = 1712;
    w.late = 3;
    const out = renderTerminal(r, { color: false });
    expect(out).toContain("1,123 w/s  37 err  1,712 dropped  3 late  unavailable 1.2 s");
    expect(out).toMatch(/^load {2}expand .* 0 err$/m);
  });

  it("colours the phase with a failing load budget red", () => {
    const out = renderTerminal(loadRun(), { color: true });
    expect(out).toContain(`load  ${ESC}[31mcutover ${ESC}[0m  p99`);
    expect(out).toContain(`load  warmup    p99`);
  });

  it("prints no load lines without a load, and no blocking line when the migration blocked nothing", () => {
    expect(renderTerminal(failingRun(), { color: false })).not.toMatch(/^load /m);
    const r = loadRun();
    r.observations!.blocking = r.observations!.blocking.filter((e) => !e.blocker_is_migration);
    const out = renderTerminal(r, { color: false });
    expect(out).toMatch(/^load {2}cutover /m);
    expect(out).not.toContain("worst blocking");
  });
});

describe("terminal reporter: how many more findings", () => {
  it("counts the problems the check did not list, not just the lines cut (283 more keys, not 1)", () => {
    const run = failingRun();
    const examples = Array.from({ length: 10 }, (_, i) => `missing: "k${i}"`);
    run.checks.push({
      id: "no_lost_writes",
      kind: "invariant",
      status: "fail",
      summary: "293 of 1000 acknowledged writes are missing in public.ledger.idempotency_key",
      findings: [
        "293 acknowledged keys of 1000 missing from public.ledger.idempotency_key (first 10 below)",
        ...examples,
      ],
      unlisted: 283,
    });
    run.failing.push("no_lost_writes");
    const lines = renderTerminal(run, { color: false }).split("\n");
    // Ten lines shown (the count and nine keys): one key cut here, 283 never listed.
    expect(lines).toContain("     - … and 284 more");
    expect(lines).not.toContain("     - … and 1 more");
  });
});
