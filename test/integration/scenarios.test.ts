/**
 * Every scenario under scenarios/ runs at its own (small) scale and must reach its `expect`: a good scenario
 * passes; a hazard fails for exactly the checks it names and no other. This is what lets a user trust a verdict.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findSystemInstalls } from "../../src/clone/system.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const root = path.resolve(import.meta.dirname, "../../scenarios");
const scenarios = readdirSync(root).filter((d) => existsSync(path.join(root, d, "scenario.yaml")));
const hasSystemPostgres = (await findSystemInstalls()).length > 0;
/** Scenarios on `target.provider: system` need an installed PostgreSQL (and its extension packages). */
const needsSystem = (name: string): boolean =>
  parse(readFileSync(path.join(root, name, "scenario.yaml"), "utf8"))?.target?.provider === "system";

describe("built-in scenarios reach their expect", () => {
  it("there are scenarios to run", () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of scenarios) {
    it(name, async (ctx) => {
      ctx.skip(
        needsSystem(name) && !hasSystemPostgres,
        "target.provider is system and no PostgreSQL is installed: apt-get install postgresql-15 postgresql-15-partman (.ci/run does)",
      );
      const report = await rehearse({ scenarioPath: path.join(root, name), logger: silentLogger });
      // An inconclusive run proves nothing either way: show why.
      expect(report.reason ?? "", `status ${report.status}`).toBe("");
      expect(report.status).not.toBe("inconclusive");
      // On a mismatch, say what each failing check measured: a CI log is often all there is to go on.
      const why = report.checks
        .filter((c) => c.status === "fail")
        .map(
          (c) =>
            `${c.id}: ${c.summary}${c.findings?.length ? ` (${c.findings.slice(0, 3).join("; ")})` : ""}`,
        )
        .join("\n");
      if (report.expectation.verdict === "pass") {
        expect(report.failing, why).toEqual([]);
        expect(report.status).toBe("passed");
        expect(report.exit_code).toBe(0);
      } else {
        // Fails for exactly the named checks: no more, no fewer.
        expect([...report.failing].sort(), why).toEqual([...report.expectation.failing].sort());
        expect(report.status).toBe("failed");
        expect(report.exit_code).toBe(1);
      }
      expect(report.expectation.met, report.expectation.explanation).toBe(true);
      // Every invariant the scenario declares was actually evaluated, not skipped.
      expect(report.checks.filter((c) => c.status === "skipped")).toEqual([]);
    });
  }

  it("ledger-attach-history rehearses its rollback and the invariants hold again", async () => {
    const report = await rehearse({
      scenarioPath: path.join(root, "ledger-attach-history"),
      rollback: true,
      logger: silentLogger,
    });
    expect(report.reason ?? "").toBe("");
    expect(report.failing).toEqual([]);
    const rb = report.checks.filter((c) => c.stage === "after_rollback");
    expect(rb.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        "rollback_completed",
        "triggers_preserved@rollback",
        "indexes_preserved@rollback",
      ]),
    );
    expect(rb.every((c) => c.status === "pass")).toBe(true);
    expect(report.steps.filter((s) => s.section === "rollback").every((s) => s.status === "success")).toBe(
      true,
    );
  });

  it("ledger-insert-function rehearses its rollback; replays through ledger_insert never error", async () => {
    const report = await rehearse({
      scenarioPath: path.join(root, "ledger-insert-function"),
      rollback: true,
      logger: silentLogger,
    });
    expect(report.reason ?? "").toBe("");
    expect(report.failing).toEqual([]);
    const rb = report.checks.filter((c) => c.stage === "after_rollback");
    expect(rb.map((c) => c.id)).toEqual(
      expect.arrayContaining(["rollback_completed", "triggers_preserved@rollback", "row_parity@rollback"]),
    );
    expect(rb.every((c) => c.status === "pass")).toBe(true);
    // Every history-key replay, before and after the cutover and during the rollback, was answered, not refused.
    expect(report.load?.totals.errors).toBe(0);
  });

  it("sequence-rewind-under-load fails only because of the rewinding setval: the forward-only sync passes the same load", async () => {
    // The hazard's own scenario with one file swapped for events-dual-write's sync: same data, same load.
    const dir = mkdtempSync(path.join(tmpdir(), "rehearse-rewind-"));
    try {
      cpSync(path.join(root, "_events"), path.join(dir, "_events"), { recursive: true });
      const copy = path.join(dir, "forward-only");
      cpSync(path.join(root, "sequence-rewind-under-load"), copy, { recursive: true });
      const fixed = readFileSync(path.join(root, "events-dual-write/migration/04_sync_sequence.sql"), "utf8");
      const setval = fixed.slice(fixed.lastIndexOf("SELECT setval("));
      expect(setval).toContain("WHERE t.target > s.handed_out");
      writeFileSync(path.join(copy, "migration/setval_greatest.sql"), setval);
      const yaml = readFileSync(path.join(copy, "scenario.yaml"), "utf8");
      writeFileSync(path.join(copy, "scenario.yaml"), yaml.slice(0, yaml.indexOf("\nexpect:")) + "\n");
      const report = await rehearse({ scenarioPath: copy, logger: silentLogger });
      expect(report.reason ?? "").toBe("");
      expect(report.failing).toEqual([]);
      expect(report.status).toBe("passed");
      // The same load really ran through the sync: writes were acknowledged in that phase.
      const w = report.load?.windows.find(
        (x) => x.phase === "sync_sequence" && x.step === null && x.kind === "write",
      );
      expect((w?.count ?? 0) - (w?.errors ?? 0)).toBeGreaterThan(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
