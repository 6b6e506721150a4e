/**
 * Every hazard scenario a second time, in its own file so it runs beside the first pass
 * (scenarios.test.ts): a hazard must fail for the same checks twice in a row — a verdict that depends on
 * timing luck is not one a CI job can gate on.
 */
import { describe, expect, it } from "vitest";
import { expectScenario, isHazard, scenarios } from "../support/scenario-expect.ts";

const hazards = scenarios.filter(isHazard);

describe("hazard scenarios reach their expect a second time", () => {
  it("there are hazards to run", () => {
    expect(hazards.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of hazards) it(name, (ctx) => expectScenario(name, ctx));
});
