/**
 * Every scenario under scenarios/ runs at its own (small) scale and must reach its `expect`: a good scenario
 * passes; a hazard fails for exactly the checks it names and no other. This is what lets a user trust a verdict.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
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
      if (report.expectation.verdict === "pass") {
        expect(report.failing).toEqual([]);
        expect(report.status).toBe("passed");
        expect(report.exit_code).toBe(0);
      } else {
        // Fails for exactly the named checks: no more, no fewer.
        expect([...report.failing].sort()).toEqual([...report.expectation.failing].sort());
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
});
