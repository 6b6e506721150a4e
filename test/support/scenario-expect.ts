/**
 * The built-in scenarios and what "reaching its expect" means, shared by the first run of every scenario and
 * the second run of every hazard (two files, so the two runs spread over both workers).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, type TestContext } from "vitest";
import { parse } from "yaml";
import { findSystemInstalls } from "../../src/clone/system.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

export const scenariosRoot = path.resolve(import.meta.dirname, "../../scenarios");
export const scenarios = readdirSync(scenariosRoot).filter((d) =>
  existsSync(path.join(scenariosRoot, d, "scenario.yaml")),
);

const yamlOf = (name: string) =>
  parse(readFileSync(path.join(scenariosRoot, name, "scenario.yaml"), "utf8")) as {
    target?: { provider?: string };
    expect?: { verdict?: string };
  } | null;

/** A hazard scenario: its expect says it must fail. */
export const isHazard = (name: string): boolean => yamlOf(name)?.expect?.verdict === "fail";

const hasSystemPostgres = (await findSystemInstalls()).length > 0;

/**
 * Runs one scenario at its own scale and asserts it reached its `expect`: a good scenario passes; a hazard
 * fails for exactly the checks it names and no other.
 */
export async function expectScenario(name: string, ctx: TestContext): Promise<void> {
  ctx.skip(
    yamlOf(name)?.target?.provider === "system" && !hasSystemPostgres,
    "target.provider is system and no PostgreSQL is installed: apt-get install postgresql-15 postgresql-15-partman (.ci/run does)",
  );
  const report = await rehearse({ scenarioPath: path.join(scenariosRoot, name), logger: silentLogger });
  // An inconclusive run proves nothing either way: show why.
  expect(report.reason ?? "", `status ${report.status}`).toBe("");
  expect(report.status).not.toBe("inconclusive");
  // On a mismatch, say what each failing check measured: a CI log is often all there is to go on.
  const why = report.checks
    .filter((c) => c.status === "fail")
    .map((c) => `${c.id}: ${c.summary}${c.findings?.length ? ` (${c.findings.slice(0, 3).join("; ")})` : ""}`)
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
}
