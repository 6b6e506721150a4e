/** Parsers for the command line's option values (each a commander argParser), shared by the commands. */
import { InvalidArgumentError } from "commander";

/** How a command hands its exit code to main(), which exits once the clean-ups ran and output flushed. */
export type SetExit = (code: number) => void;

export function parseScale(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("--scale takes a positive number, e.g. 0.1 or 10");
  return n;
}

/** --rows 1000000 (every seeded table… no: the first) or --rows ledger=1000000 (repeatable). */
export function parseRows(v: string, prev: Record<string, number> = {}): Record<string, number> {
  // Only the count may use `_` separators (1_000_000): table names keep theirs (order_items=100000).
  const m = /^(?:([A-Za-z_][\w.$]*)=)?(\d+(?:_\d+)*)$/.exec(v);
  if (!m || Number(m[2].replace(/_/g, "")) <= 0) {
    throw new InvalidArgumentError(
      "--rows takes a positive row count for the largest table (--rows 1000000) or table=rows (--rows ledger=1000000)",
    );
  }
  return { ...prev, [m[1] ?? "*"]: Number(m[2].replace(/_/g, "")) };
}

export function parseScales(v: string): number[] {
  const list = v.split(",").map((x) => Number(x.trim()));
  if (
    list.length < 2 ||
    list.some((n) => !Number.isFinite(n) || n <= 0) ||
    new Set(list).size !== list.length
  )
    throw new InvalidArgumentError(
      "--project-scales takes two or more distinct positive factors, e.g. 1,2,4 (three give the fit an error)",
    );
  return list;
}

export function parseTargetRows(v: string): number {
  const n = Number(v.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError("--project-to takes the production row count, e.g. 350000000");
  return n;
}

export function parseAge(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError("--older-than takes a number and a unit: 30m, 12h, 7d");
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
