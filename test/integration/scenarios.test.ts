/**
 * Every scenario under scenarios/ runs at its own (small) scale and must reach its `expect`: a good scenario
 * passes; a hazard fails for exactly the checks it names and no other. This is what lets a user trust a verdict.
 * Each hazard runs a second time in scenarios-again.test.ts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { expectScenario, scenarios, scenariosRoot } from "../support/scenario-expect.ts";

const root = scenariosRoot;

describe("built-in scenarios reach their expect", () => {
  it("there are scenarios to run", () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of scenarios) {
    it(name, (ctx) => expectScenario(name, ctx));
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
