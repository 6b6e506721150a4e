/**
 * What an error rate counts: failed against attempted operations over load windows, the SQLSTATEs the scenario
 * declared and the connection losses an injected fault caused left out (budgets/load.ts judges the rate).
 */
import type { LoadWindow } from "../report/model.ts";
import type { RunFacts } from "./budget.ts";

/** What an error rate counts over some windows (see the file header). */
export interface Failures {
  /** Completed plus dropped operations. */
  attempted: number;
  /** Errors not declared expected, dropped and late operations. */
  failed: number;
  /** What failed, by SQLSTATE, plus "dropped" and "late" (the declared SQLSTATEs left out). */
  byState: Record<string, number>;
  /** Errors of a declared SQLSTATE, not counted. */
  expected: number;
}

export function failuresOf(windows: LoadWindow[], expectedStates: readonly string[] = []): Failures {
  const expectedSet = new Set(expectedStates);
  const byState: Record<string, number> = {};
  const add = (k: string, n: number) => {
    if (n > 0) byState[k] = (byState[k] ?? 0) + n;
  };
  let attempted = 0;
  let failed = 0;
  let expected = 0;
  for (const w of windows) {
    const dropped = w.dropped ?? 0;
    const late = w.late ?? 0;
    let declared = 0;
    for (const [state, n] of Object.entries(w.errors_by_sqlstate))
      if (expectedSet.has(state)) declared += n;
      else add(state, n);
    add("dropped", dropped);
    add("late", late);
    attempted += w.count + dropped;
    failed += w.errors - declared + dropped + late;
    expected += declared;
  }
  return { attempted, failed, byState, expected };
}

/** Faults that end the load's connections: the requests in flight on them fail by the harness's doing. */
const CONNECTION_FAULTS = new Set(["terminate_load_connections", "restart_server"]);

/**
 * The SQLSTATEs in these windows that a connection-ending fault injected by the run explains (class 08, an
 * administrator or crash shutdown, a server still starting, or no SQLSTATE at all): the rehearsal caused
 * them to prove the migration survives, so they are not the application's error rate.
 */
export function faultCaused(facts: RunFacts, windows: LoadWindow[]): string[] {
  const injected = facts.steps.some(
    (s) => s.fault !== undefined && CONNECTION_FAULTS.has(s.fault) && s.status !== "not_executed",
  );
  if (!injected) return [];
  const states = new Set(windows.flatMap((w) => Object.keys(w.errors_by_sqlstate)));
  return [...states].filter(
    (st) => st === "connection" || st.startsWith("08") || ["57P01", "57P02", "57P03"].includes(st),
  );
}
