/** Naming and the partition key: shared by every strategy under strategies/. */
import type { ColumnInfo } from "../catalog/types.ts";
import { ident } from "../db/sql.ts";
import { isoInstant } from "./fit.ts";
import { InitError, type SourceTable } from "./source.ts";

/** Keeps a generated name within PostgreSQL's 63 bytes. */
export function name63(n: string): string {
  return n.length <= 63 ? n : n.slice(0, 63);
}

export type Info = SourceTable["info"];

/** Names and quoting for one source table. */
export function names(info: Info) {
  const T = info.name;
  const rel = (n: string) => (info.schema === "public" ? ident(n) : `${ident(info.schema)}.${ident(n)}`);
  const display = (n: string) => (info.schema === "public" ? n : `${info.schema}.${n}`);
  const colList = (cols: string[]) => cols.map(ident).join(", ");
  /** orders_ref_key → <prefix>_ref_key; other names gain the prefix. */
  const renamed = (prefix: string, n: string) =>
    name63(n.startsWith(`${T}_`) ? `${prefix}_${n.slice(T.length + 1)}` : `${prefix}_${n}`);
  const allCols = info.columns.filter((c) => !c.generated).map((c) => c.name);
  return { T, rel, display, colList, renamed, allCols };
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
