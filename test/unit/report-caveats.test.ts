import { describe, expect, it } from "vitest";
import { caveats } from "../../src/report/caveats.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { loadRun, passingRun } from "./report-fixtures.ts";

describe("caveats: what a run did not establish", () => {
  it("always states the scale, largest table first", () => {
    const r = passingRun();
    r.context.rows = { small: 10, big: 100_000 };
    expect(caveats(r)[0]).toMatch(/^scale: rehearsed at big 100,000, small 10 rows \(scale [0-9.]+\)/);
  });

  it("sets production's size beside the rehearsed one when init recorded it", () => {
    const r = passingRun();
    r.context.rows = { rental: 16_044 };
    r.context.source_rows = { rental: 350_000_000 };
    expect(caveats(r)[0]).toMatch(
      /^scale: rehearsed at rental 16,044 rows \(scale [0-9.]+\); production \(the source at init\): rental 350,000,000 rows;/,
    );
    delete r.context.source_rows;
    expect(caveats(r)[0]).not.toMatch(/the source at init/);
  });

  it("names a load without no_lost_writes, and a run without load", () => {
    const r = loadRun();
    r.checks = r.checks.filter((c) => c.id !== "no_lost_writes");
    expect(caveats(r)).toContainEqual(expect.stringMatching(/no no_lost_writes invariant/));
    expect(caveats(loadRun()).some((c) => /no_lost_writes/.test(c))).toBe(false);
    const quiet = passingRun();
    delete quiet.load;
    expect(caveats(quiet)).toContainEqual(expect.stringMatching(/^not rehearsed: no load section/));
  });

  it("names attached partitions without unique_across_partitions", () => {
    const r = loadRun();
    r.steps[0]!.statements.push({ ...r.steps[0]!.statements[0]!, operations: ["attach_partition"] });
    r.checks = r.checks.filter((c) => c.id !== "unique_across_partitions");
    expect(caveats(r)).toContainEqual(
      expect.stringMatching(/attaches partitions .* unique_across_partitions/),
    );
  });

  it("marks percentiles over fewer than 100 writes (a p99 over 21 writes is the max)", () => {
    const r = loadRun();
    const w = r.load!.windows.find((x) => x.phase === "cutover" && x.step === null && x.kind === "write")!;
    w.count = 21;
    expect(caveats(r)).toContainEqual(expect.stringMatching(/^small samples: .*cutover \(21\)/));
    w.count = 100;
    expect(caveats(r).some((c) => c.startsWith("small samples"))).toBe(false);
  });

  it("says when the load could not keep its rate in the warmup, not when a lock held it up", () => {
    const r = loadRun();
    const warm = r.load!.windows.find((x) => x.section === "warmup" && x.kind === "write")!;
    expect(caveats(r).some((c) => c.startsWith("load behind"))).toBe(false);
    warm.dropped = Math.ceil(warm.count * 0.05);
    expect(caveats(r)).toContainEqual(expect.stringMatching(/^load behind its rate.*in the warmup/));
  });

  it("every reporter shows them under the verdict", () => {
    const r = loadRun();
    r.checks = r.checks.filter((c) => c.id !== "no_lost_writes");
    const md = renderMarkdown(r);
    expect(md.indexOf("**What this run did not establish:**")).toBeLessThan(md.indexOf("###"));
    expect(md).toMatch(/^- scale: rehearsed at /m);
    const term = renderTerminal(r);
    expect(term.split("\n").slice(0, 4).join("\n")).toMatch(/caveat: not checked: the load ran/);
  });
});
