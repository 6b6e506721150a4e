import { describe, expect, it } from "vitest";
import { convert } from "xmlbuilder2";
import { renderJunit } from "../../src/report/junit.ts";
import { expectedFailureRun, failingRun, inconclusiveRun, loadRun, passingRun } from "./report-fixtures.ts";

type Node = Record<string, unknown>;

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

// xmlbuilder2's object form keeps attribute and text values entity-escaped (it is meant for converting back
// to XML); decode the five predefined entities so assertions compare plain text.
function decode(s: unknown): string {
  return String(s)
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

interface Case {
  suite: string;
  classname: string;
  name: string;
  failure?: { message: string; text: string };
  error?: { message: string; text: string };
  skipped?: { type?: string; message?: string };
  out?: string;
}

function parse(xml: string): { root: Node; suites: Node[]; cases: Case[] } {
  const doc = convert(xml, { format: "object" }) as Node;
  const root = doc.testsuites as Node;
  const suites = arr(root.testsuite as Node | Node[]);
  const cases: Case[] = [];
  for (const s of suites) {
    for (const tc of arr(s.testcase as Node | Node[])) {
      const c: Case = {
        suite: String(s["@name"]),
        classname: decode(tc["@classname"]),
        name: decode(tc["@name"]),
      };
      for (const kind of ["failure", "error"] as const) {
        const el = tc[kind] as Node | undefined;
        if (el) c[kind] = { message: decode(el["@message"]), text: decode(el["#"] ?? "") };
      }
      if (tc["system-out"] !== undefined) c.out = decode(tc["system-out"]);
      const sk = tc.skipped as Node | undefined;
      if (sk)
        c.skipped = {
          type: sk["@type"] as string | undefined,
          message: sk["@message"] as string | undefined,
        };
      cases.push(c);
    }
  }
  return { root, suites, cases };
}

describe("junit reporter", () => {
  it("renders a failing run: one testcase per check, failures with findings and remediation", () => {
    const r = failingRun();
    const { root, suites, cases } = parse(renderJunit(r));
    expect(suites.map((s) => s["@name"])).toEqual(["rehearsal", "invariants", "budgets", "steps"]);
    // 6 checks + the verdict testcase; no step failed.
    expect(cases).toHaveLength(7);
    expect(root["@tests"]).toBe("7");
    expect(cases.filter((c) => c.failure)).toHaveLength(3);
    expect(root["@failures"]).toBe("3");
    expect(root["@errors"]).toBe("0");
    expect(root["@skipped"]).toBe("1");

    const inv = cases.filter((c) => c.suite === "invariants");
    expect(inv.map((c) => c.name)).toEqual([
      "triggers_preserved",
      "row_count_preserved",
      "fk_valid",
      "sequence_ahead",
    ]);
    expect(inv.every((c) => c.classname === "invariant")).toBe(true);

    const scan = cases.find((c) => c.name === "budget.no_scan_under_access_exclusive")!;
    expect(scan.suite).toBe("budgets");
    expect(scan.classname).toBe("budget");
    expect(scan.failure!.message).toBe(r.checks[5]!.summary);
    expect(scan.failure!.text).toContain("seq-scanned hot table public.orders");
    expect(scan.failure!.text).toContain("Remediation: Add CHECK … NOT VALID");
    expect(cases.find((c) => c.name === "sequence_ahead")!.skipped).toBeDefined();

    const verdict = cases.find((c) => c.suite === "rehearsal")!;
    expect(verdict.name).toBe("rehearsal");
    expect(verdict.failure!.message).toContain("expectation not met");
  });

  it("keeps per-suite counts equal to the testcases they hold", () => {
    for (const r of [failingRun(), passingRun(), inconclusiveRun(), expectedFailureRun(), loadRun()]) {
      const { suites } = parse(renderJunit(r));
      for (const s of suites) {
        const tcs = arr(s.testcase as Node | Node[]);
        expect(s["@tests"]).toBe(String(tcs.length));
        expect(s["@failures"]).toBe(String(tcs.filter((t) => t.failure).length));
        expect(s["@errors"]).toBe(String(tcs.filter((t) => t.error).length));
        expect(s["@skipped"]).toBe(String(tcs.filter((t) => t.skipped).length));
      }
    }
  });

  it("never lets an inconclusive run read as green: the rehearsal testcase carries an <error>", () => {
    const r = inconclusiveRun();
    const { root, cases } = parse(renderJunit(r));
    const verdict = cases.find((c) => c.name === "rehearsal")!;
    expect(verdict.error).toBeDefined();
    expect(verdict.error!.message).toBe(r.reason);
    expect(Number(root["@errors"])).toBeGreaterThanOrEqual(1);
    // The failed step is its own testcase, with the located error and the excerpt.
    const step = cases.find((c) => c.suite === "steps")!;
    expect(step.name).toBe("cutover/attach");
    expect(step.failure!.message).toBe("55P03: canceling statement due to lock timeout");
    expect(step.failure!.text).toContain("at migration/02_cutover.sql:2:13");
    expect(step.failure!.text).toContain("\n            ^");
  });

  it("gives an aborted run an <error> too, even with no reason and every check passing", () => {
    const r = passingRun();
    r.status = "aborted";
    const { cases } = parse(renderJunit(r));
    expect(cases.find((c) => c.name === "rehearsal")!.error!.message).toBe("run aborted");
  });

  it("passes a passing run with no failures or errors", () => {
    const { root, cases } = parse(renderJunit(passingRun()));
    expect(cases).toHaveLength(4);
    expect(root["@failures"]).toBe("0");
    expect(root["@errors"]).toBe("0");
  });

  it("shows a failure the scenario expects as skipped(expected-failure), not red", () => {
    const { root, cases } = parse(renderJunit(expectedFailureRun()));
    const scan = cases.find((c) => c.name === "budget.no_scan_under_access_exclusive")!;
    expect(scan.failure).toBeUndefined();
    expect(scan.skipped?.type).toBe("expected-failure");
    expect(root["@failures"]).toBe("0");
  });

  it("fails the verdict testcase when the expected failure did not happen", () => {
    const r = passingRun();
    r.status = "failed";
    r.exit_code = 1;
    r.expectation = {
      verdict: "fail",
      failing: ["budget.no_scan_under_access_exclusive"],
      met: false,
      explanation: "budget.no_scan_under_access_exclusive was expected to fail but passed",
    };
    const { cases } = parse(renderJunit(r));
    // Every check passed: without the verdict testcase this junit.xml would be green.
    expect(cases.filter((c) => c.failure)).toHaveLength(1);
    expect(cases.find((c) => c.name === "rehearsal")!.failure!.message).toContain(
      "was expected to fail but passed",
    );
  });

  it("marks a re-run after rollback in the testcase name so it does not collide", () => {
    const r = passingRun();
    r.checks.push({ ...r.checks[0]!, stage: "after_rollback" });
    const names = parse(renderJunit(r)).cases.map((c) => c.name);
    expect(names).toContain("triggers_preserved");
    expect(names).toContain("triggers_preserved (after rollback)");
  });

  it("escapes markup and drops characters XML 1.0 cannot carry", () => {
    const r = failingRun();
    r.checks[2]!.summary = 'constraint "a<b" & \u0001bell\u001b[31m';
    r.checks[2]!.findings = ['</failure><testcase name="injected">'];
    const xml = renderJunit(r);
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const { cases } = parse(xml);
    expect(cases.some((c) => c.name === "injected")).toBe(false);
    const fk = cases.find((c) => c.name === "fk_valid")!;
    expect(fk.failure!.message).toBe('constraint "a<b" & \uFFFDbell\uFFFD[31m');
    expect(fk.failure!.text).toContain('</failure><testcase name="injected">');
  });

  it("adds a load suite, one passing testcase per phase with what the load saw as system-out", () => {
    const { root, suites, cases } = parse(renderJunit(loadRun()));
    // Existing suites keep their place; load comes last.
    expect(suites.map((s) => s["@name"])).toEqual(["rehearsal", "invariants", "budgets", "steps", "load"]);
    const load = cases.filter((c) => c.suite === "load");
    expect(load.map((c) => c.name)).toEqual(["warmup", "expand", "cutover", "cooldown"]);
    expect(load.every((c) => c.classname === "load" && !c.failure && !c.error && !c.skipped)).toBe(true);
    const cutover = load.find((c) => c.name === "cutover")!;
    expect(cutover.out).toContain("writes: 3,180 ops, 1,123/s;");
    expect(cutover.out).toContain("p99 900, p99.9 1,150, max 1,180");
    expect(cutover.out).toContain("errors 37 (55P03 ×30, 57014 ×5, connection ×2)");
    expect(cutover.out).toContain(
      "blocked by the migration: public.orders AccessExclusiveLock, 37 load requests waited, longest 1.2 s (cutover/attach)",
    );
    expect(cutover.out).toContain("failing load budgets: budget.load.write_p99.cutover");
    // The failure itself is the budget testcase's, counted once.
    const budget = cases.find((c) => c.name === "budget.load.write_p99.cutover")!;
    expect(budget.suite).toBe("budgets");
    expect(budget.failure!.message).toBe("write p99 in cutover was 900 ms, over the 250 ms budget");
    expect(root["@failures"]).toBe("2");
    expect(load.find((c) => c.name === "warmup")!.out).not.toContain("blocked by the migration");
  });

  it("has no load suite without a load", () => {
    expect(parse(renderJunit(failingRun())).suites.map((s) => s["@name"])).not.toContain("load");
  });
});
