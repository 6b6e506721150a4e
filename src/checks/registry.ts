/**
 * Every invariant check, by the `check:` name scenarios use. The mapped type makes adding an invariant kind
 * to the scenario schema without a check here a compile error.
 */
import type { Queryable } from "../db/sql.ts";
import type { CheckResult } from "../report/model.ts";
import type { Invariant, InvariantKind } from "../scenario/schema.ts";
import { type CheckInput, type InvariantCheck, invariantId, type Stage } from "./check.ts";
import { pgError } from "./common.ts";
import { constraintsPreserved } from "./constraints-preserved.ts";
import { dependentsFollow } from "./dependents-follow.ts";
import { defaultPartitionEmpty } from "./default-partition-empty.ts";
import { fksPreserved } from "./fks-preserved.ts";
import { grantsPreserved } from "./grants-preserved.ts";
import { indexesPreserved } from "./indexes-preserved.ts";
import { indexesValid } from "./indexes-valid.ts";
import { noLostWrites } from "./no-lost-writes.ts";
import { partitionsCover } from "./partitions-cover.ts";
import { rlsPreserved } from "./rls-preserved.ts";
import { rowParity } from "./row-parity.ts";
import { sequenceCheck } from "./sequence.ts";
import { tableEmpty } from "./table-empty.ts";
import { triggersPreserved } from "./triggers-preserved.ts";
import { uniqueAcrossPartitions } from "./unique-across-partitions.ts";

export type CheckRegistry = {
  [K in InvariantKind]: InvariantCheck<Extract<Invariant, { check: K }>, unknown>;
};

export const CHECKS: CheckRegistry = {
  indexes_preserved: indexesPreserved,
  indexes_valid: indexesValid,
  triggers_preserved: triggersPreserved,
  constraints_preserved: constraintsPreserved,
  grants_preserved: grantsPreserved,
  rls_preserved: rlsPreserved,
  fks_preserved: fksPreserved,
  dependents_follow: dependentsFollow,
  sequence: sequenceCheck,
  unique_across_partitions: uniqueAcrossPartitions,
  default_partition_empty: defaultPartitionEmpty,
  partitions_cover: partitionsCover,
  row_parity: rowParity,
  no_lost_writes: noLostWrites,
  table_empty: tableEmpty,
};

/** The check for an invariant, typed loosely enough to call with that invariant. */
export function checkFor(inv: Invariant): InvariantCheck<Invariant, unknown> {
  return CHECKS[inv.check] as InvariantCheck<Invariant, unknown>;
}

/** Whether an invariant needs gathering at `stage` (snapshot-only checks never do). */
export function needsGather(inv: Invariant, stage: Stage): boolean {
  const check = checkFor(inv);
  return !!check.gather && (check.stages ?? []).includes(stage);
}

/**
 * Runs an invariant's gather for a stage. The runner should call it with the database otherwise idle; a
 * thrown error means the facts could not be read, which the runner records and `evaluateInvariant` turns
 * into an "error" result when the stage's data is missing.
 */
export async function gatherInvariant(
  db: Queryable,
  inv: Invariant,
  stage: Stage,
  /** What the before stage gathered, for the after stage (as gatherAll passes it). */
  earlier?: unknown,
): Promise<unknown> {
  const check = checkFor(inv);
  if (!check.gather || !(check.stages ?? []).includes(stage)) return undefined;
  return check.gather(db, inv, stage, earlier);
}

/** Evaluates an invariant into a full CheckResult; a throwing evaluate() becomes status "error". */
export function evaluateInvariant(inv: Invariant, input: CheckInput<unknown>): CheckResult {
  const id = invariantId(inv);
  try {
    return { id, kind: "invariant", ...checkFor(inv).evaluate(inv, input) };
  } catch (err) {
    return {
      id,
      kind: "invariant",
      status: "error",
      summary: `The ${inv.check} check crashed: ${pgError(err).message}`,
      findings: [],
      remediation: "This is a rehearse bug; please report it with the scenario.",
    };
  }
}
