/** The strategy names and the Scaffold shape: scaffold.ts and every strategy import them, not each other. */

export const STRATEGIES = ["attach-history", "dual-write", "view-union", "inheritance", "partman"] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface ScaffoldOptions {
  /** --partition-key: overrides the ranked choice (a strategy with a fixed key refuses a different one). */
  partitionKey?: string;
}

export interface Scaffold {
  /** Lines init prints and keeps (the partition key chosen and why). */
  notes?: string[];
  phases: unknown[];
  /** Commented YAML appended to scenario.yaml (a template the user fills in). */
  yamlAppendix?: string;
  /** Merged into the scenario's target (partman: provider system, extensions). */
  target?: Record<string, unknown>;
  rollback?: unknown[];
  invariants: unknown[];
  budgets?: Record<string, unknown>;
  /** Path inside the scenario folder → content. */
  files: Record<string, string>;
}
