/** Refusals several strategies share: InitError with the reason and the fix, before any SQL is written. */
import type { ColumnInfo } from "../../catalog/types.ts";
import { InitError } from "../source.ts";
import { type Info, INT_TYPE } from "../strategy-common.ts";

export function refuseIf(cond: unknown, message: string, fix: string): void {
  if (cond) throw new InitError(message, fix);
}

export function plainTable(info: Info, strategy: string): void {
  refuseIf(
    info.partitioning || info.partitionOf,
    `${info.qualifiedName} is already partitioned (or is a partition): ${strategy} turns a plain table into a partitioned one`,
    "choose a plain table, or manage its partitions directly",
  );
}

/** The single-column integer primary key that batches are cut along. */
export function integerKey(info: Info, strategy: string, why: string): ColumnInfo {
  const pk = info.constraints.find((c) => c.type === "p" && c.local);
  const col = pk?.columns.length === 1 ? info.columns.find((c) => c.name === pk.columns[0]) : undefined;
  if (!col || !INT_TYPE.test(col.type))
    throw new InitError(
      `${info.qualifiedName} has no single-column integer primary key: ${strategy} ${why}`,
      "add one (a bigint column with a sequence DEFAULT, backfilled, then PRIMARY KEY USING INDEX), or choose attach-history",
    );
  return col;
}

/** A strategy whose key is fixed by its design refuses --partition-key naming another column. */
export function fixedKey(asked: string | undefined, strategy: string, column: string, why: string): void {
  refuseIf(
    asked !== undefined && asked !== column,
    `--partition-key ${asked}: ${strategy} ${why} (${column})`,
    `leave --partition-key out, or choose attach-history, dual-write or partman, which partition by the column you name`,
  );
}

export function plainUniques(info: Info): void {
  const bad = info.indexes.find(
    (i) => i.unique && !i.primary && (i.keys.some((k) => k.column === null) || i.predicate !== null),
  );
  refuseIf(
    bad || info.constraints.some((c) => c.type === "x"),
    `${info.qualifiedName} has a unique index on an expression or with a predicate${bad ? ` (${bad.name})` : ""}, or an exclusion constraint: ` +
      "it cannot become a partitioned unique index",
    "drop or rewrite it as a plain-column UNIQUE before partitioning",
  );
}

/** One rule for foreign keys into the table, whatever the strategy (issue 15: dual-write accepted six). */
export function noIncomingForeignKeys(info: Info, strategy: string, why: string): void {
  const incoming = info.foreignKeys.incoming.filter((fk) => fk.parentOid === null);
  refuseIf(
    incoming.length,
    `foreign keys reference ${info.qualifiedName} (${incoming.map((f) => `${f.from}.${f.name}`).join(", ")}): ${strategy} ${why}`,
    "drop them on the source (or a copy of it) and init again; the migration can add them back against the " +
      "partitioned table afterwards if they reference a unique key that includes its partition key " +
      "(--partition-key <the referenced column>): ADD FOREIGN KEY … NOT VALID, then VALIDATE CONSTRAINT",
  );
}
