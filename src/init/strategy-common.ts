/** Helpers shared by the migration scaffolds (scaffold.ts, strategies.ts). */
import type { ColumnInfo } from "../catalog/types.ts";
import { isoInstant } from "./fit.ts";
import { InitError, type SourceTable } from "./source.ts";

/** Keeps a generated name within PostgreSQL's 63 bytes. */
export function name63(n: string): string {
  return n.length <= 63 ? n : n.slice(0, 63);
}

export interface KeyChoice {
  column: ColumnInfo;
  kind: "time" | "int";
  /** Largest value in the statistics (epoch ms for time keys). */
  max: number;
}

export const TIME_TYPE = /^(timestamp|date)/;
export const INT_TYPE = /^(smallint|integer|bigint)$/;

/** The partition key: a timestamp column that grows with the rows, else an integer one; no NULLs in either. */
export function choosePartitionKey(t: SourceTable): KeyChoice | InitError {
  const usable: KeyChoice[] = [];
  for (const c of t.info.columns) {
    const s = t.stats.get(c.name);
    const isTime = TIME_TYPE.test(c.type);
    if (!isTime && !INT_TYPE.test(c.type)) continue;
    if (c.generated || (!c.notNull && (s?.nullFrac ?? 1) > 0)) continue;
    const values = [...(s?.histogram ?? []), ...(s?.mcv ?? [])];
    const nums = values.map((v) => (isTime ? Date.parse(isoInstant(v) ?? "") : Number(v)));
    if (nums.length === 0 || nums.some(Number.isNaN)) continue;
    usable.push({ column: c, kind: isTime ? "time" : "int", max: Math.max(...nums) });
  }
  const corr = (k: KeyChoice) => t.stats.get(k.column.name)?.correlation ?? 0;
  usable.sort((a, b) => (a.kind === b.kind ? corr(b) - corr(a) : a.kind === "time" ? -1 : 1));
  return (
    usable[0] ??
    new InitError(
      `${t.info.qualifiedName} has no usable partition key: no timestamp or integer column without NULLs`,
      "add a NOT NULL timestamp (created_at) or integer key column, backfill it, and init again — or choose a strategy that does not partition",
    )
  );
}
