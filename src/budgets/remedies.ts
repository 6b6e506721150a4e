/**
 * The non-blocking form of a statement, named for the statement at hand (the operations the runner read
 * from its parse tree), so a CREATE INDEX is told CONCURRENTLY and an ADD COLUMN is never told how to ATTACH.
 */
import type { StatementEffect, StatementResult } from "../report/model.ts";
import type { RunFacts } from "./budget.ts";

const REMEDIES: Record<string, { label: string; remedy: string }> = {
  create_index: {
    label: "CREATE INDEX",
    remedy:
      "CREATE INDEX: build it with CREATE INDEX CONCURRENTLY in a step of its own (transaction: false; SHARE UPDATE EXCLUSIVE, writes continue), then check pg_index.indisvalid and drop an INVALID leftover before retrying.",
  },
  reindex: {
    label: "REINDEX",
    remedy:
      "REINDEX: use REINDEX … CONCURRENTLY (PostgreSQL 12+; SHARE UPDATE EXCLUSIVE on the table and its indexes), or CREATE INDEX CONCURRENTLY a replacement and DROP INDEX CONCURRENTLY the old one.",
  },
  add_foreign_key: {
    label: "ADD FOREIGN KEY",
    remedy:
      "ADD FOREIGN KEY: add it NOT VALID (no scan, a brief SHARE ROW EXCLUSIVE), then ALTER TABLE … VALIDATE CONSTRAINT in a later step (SHARE UPDATE EXCLUSIVE on the table: writes continue while it scans).",
  },
  add_check: {
    label: "ADD CHECK",
    remedy:
      "ADD CHECK: add it NOT VALID (catalog only), then ALTER TABLE … VALIDATE CONSTRAINT in a later step (SHARE UPDATE EXCLUSIVE: reads and writes continue while it scans).",
  },
  add_unique: {
    label: "ADD UNIQUE / PRIMARY KEY",
    remedy:
      "ADD UNIQUE / PRIMARY KEY: CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … UNIQUE (or PRIMARY KEY) USING INDEX, which is catalog only.",
  },
  attach_partition: {
    label: "ATTACH PARTITION",
    remedy:
      "ATTACH PARTITION: add CHECK … NOT VALID matching the partition bound and VALIDATE CONSTRAINT it in an earlier step, so ATTACH skips its scan; build the parent's indexes on the table CONCURRENTLY before attaching, so ATTACH adopts them instead of building them.",
  },
  set_not_null: {
    label: "SET NOT NULL",
    remedy:
      "SET NOT NULL: prove it first with CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE); SET NOT NULL then skips its scan.",
  },
  add_column: {
    label: "ADD COLUMN",
    remedy:
      "ADD COLUMN: add the column nullable, or with a non-volatile DEFAULT (catalog only since PostgreSQL 11); fill it in committed batches; enforce NOT NULL through a validated CHECK; add its constraints NOT VALID and validate them later.",
  },
  alter_column_type: {
    label: "ALTER COLUMN TYPE",
    remedy:
      "ALTER COLUMN TYPE: add a column of the new type, keep it in sync (trigger or dual write), backfill it in batches, then swap the names in a short transaction.",
  },
  vacuum_full: {
    label: "VACUUM FULL",
    remedy: "VACUUM FULL: never on a hot table; rebuild it online with pg_repack or pg_squeeze.",
  },
  cluster: {
    label: "CLUSTER",
    remedy: "CLUSTER: never on a hot table; rebuild it online with pg_repack or pg_squeeze.",
  },
};

/** The statement an effect belongs to, from the steps' statement results. */
export function statementOf(
  facts: RunFacts,
  e: Pick<StatementEffect, "section" | "phase" | "step" | "statement">,
): StatementResult | undefined {
  const step = facts.steps.find((s) => s.section === e.section && s.phase === e.phase && s.name === e.step);
  return step?.statements.find((s) => s.index === e.statement);
}

/** "CREATE INDEX", "ADD FOREIGN KEY"… for the statement of an effect, or undefined when it is not known. */
export function operationLabel(facts: RunFacts, e: Parameters<typeof statementOf>[1]): string | undefined {
  const labels = (statementOf(facts, e)?.operations ?? []).flatMap((op) => REMEDIES[op]?.label ?? []);
  return labels.length > 0 ? labels.join(" + ") : undefined;
}

/**
 * One remedy per operation the offending statements perform, in the order met; `fallback` when none of
 * them is an operation rehearse knows (a function call, a DO block).
 */
export function remediationFor(
  facts: RunFacts,
  offending: Parameters<typeof statementOf>[1][],
  fallback: string,
): string {
  const out: string[] = [];
  let unknown = false;
  for (const e of offending) {
    const ops = (statementOf(facts, e)?.operations ?? []).filter((op) => REMEDIES[op]);
    if (ops.length === 0) unknown = true;
    for (const op of ops) if (!out.includes(REMEDIES[op]!.remedy)) out.push(REMEDIES[op]!.remedy);
  }
  if (unknown || out.length === 0) out.push(fallback);
  return out.join(" ");
}
