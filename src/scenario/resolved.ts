/**
 * What loading a scenario produces: its steps with their SQL read and parsed. Apart from the loader so the parts
 * that resolve steps and the code that runs them share these shapes without importing the loader itself.
 */
import type { Backfill, BackgroundSession, FAULTS, Scenario, SqlStep } from "./schema.ts";
import type { SqlText } from "./sql.ts";
import type { YamlPath } from "./problem.ts";

interface StepBase {
  section: "migration" | "rollback";
  phase: string;
  name: string;
}

/** A step that runs SQL. */
export interface ResolvedSqlStep extends StepBase, Omit<SqlStep, "name" | "sql"> {
  kind: "sql";
  sqlText: SqlText;
}

/** A step that talks to the load instead of the database: flags and the writers' pause. */
export type ResolvedControlStep = StepBase &
  ({ kind: "flag"; flags: Record<string, boolean> } | { kind: "pause_writes" } | { kind: "resume_writes" });

/** A batched, throttled, resumable copy from one table to another (see Backfill in schema.ts). */
export interface ResolvedBackfillStep extends StepBase {
  kind: "backfill";
  backfill: Backfill;
  /** Where the step is in scenario.yaml, for errors. */
  at: YamlPath;
}

/** An injected failure (see FaultStep in schema.ts). */
export interface ResolvedFaultStep extends StepBase {
  kind: "fault";
  fault: (typeof FAULTS)[number];
  after_batches: number;
}

export type ResolvedStep = ResolvedSqlStep | ResolvedControlStep | ResolvedBackfillStep | ResolvedFaultStep;

/** A background session (see BackgroundSession in schema.ts), its SQL parsed for kind sql. */
export interface ResolvedBackground extends BackgroundSession {
  sqlText: SqlText | undefined;
}

export interface ResolvedScenario {
  dir: string;
  /** Path of scenario.yaml. */
  file: string;
  scenario: Scenario;
  schemaSql: SqlText;
  afterSql?: SqlText;
  phases: { name: string; steps: ResolvedStep[] }[];
  rollback: ResolvedStep[];
  /** The background sessions, in scenario order. */
  background: ResolvedBackground[];
  /** Line and column of a path in scenario.yaml, for errors found after loading (a table that does not exist). */
  locate(pathInFile: (string | number)[]): { line?: number; column?: number };
}
