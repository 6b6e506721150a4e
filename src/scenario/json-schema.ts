import { z } from "zod";
import { Scenario } from "./schema.ts";

/** The JSON Schema editors use to complete and check scenario.yaml (committed as scenario.schema.json). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(Scenario, { io: "input", unrepresentable: "any" }),
    title: "rehearse scenario (format version 1)",
  };
}
