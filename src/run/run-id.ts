/** A run's id: sorts by start time, names the scenario, and stays unique across runs started together. */
import { randomBytes } from "node:crypto";

export function newRunId(scenario: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  return `${stamp}-${scenario}-${randomBytes(3).toString("hex")}`;
}
