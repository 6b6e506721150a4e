import type {
  CheckResult,
  LoadReport,
  LockHold,
  LockWait,
  Observations,
  PhaseResult,
  StatementEffect,
  StepResult,
} from "../report/model.ts";
import type { Scenario } from "../scenario/schema.ts";

/** What the budgets are judged on: the runner's timeline. */
export interface RunFacts {
  phases: PhaseResult[];
  steps: StepResult[];
  locks: LockHold[];
  /** Time the migration waited to acquire locks (absent: not traced). */
  lock_waits?: LockWait[];
  effects: StatementEffect[];
  /** What the replayed load saw (present when the scenario has a load). */
  load?: LoadReport;
  /** What the observers sampled meanwhile (blocking episodes, dead tuples…). */
  observations?: Observations;
}

/** A budget is a pure function of the scenario's budgets and the run's facts. */
export type Budget = (budgets: Scenario["budgets"], facts: RunFacts) => CheckResult[];

/** "cutover/swap statement 3 (migration/03_cutover.sql:42)". */
export function where(
  facts: RunFacts,
  at: { section: string; phase: string; step: string; statement: number },
): string {
  const step = facts.steps.find(
    (s) => s.section === at.section && s.phase === at.phase && s.name === at.step,
  );
  const stmt = step?.statements.find((s) => s.index === at.statement);
  const loc = stmt?.file ? ` (${stmt.file}${stmt.line ? `:${stmt.line}` : ""})` : "";
  return `${at.phase}/${at.step} statement ${at.statement + 1}${loc}`;
}

export function ms(n: number): string {
  return `${Math.round(n)} ms`;
}
