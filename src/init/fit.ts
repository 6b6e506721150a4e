/**
 * Fits dataset generators to a table's planner statistics. Pure: statistics in, generator configs out.
 *
 * pg_stats describes each column on its own: the fraction of NULLs, the number of distinct values, the most
 * common values with their frequencies, equal-frequency histogram bounds over the rest, and the correlation
 * between the column's order and the table's physical order. The `histogram` generator reproduces exactly
 * that model; `serial` stands in for a unique integer that grows with the table, `uuid` for a uuid.
 */
import type { z } from "zod";
import type { ColumnInfo } from "../catalog/types.ts";
import type { Generator } from "../scenario/schema.ts";
import type { ColumnStats, SourceTable } from "./source.ts";

export type GeneratorConfig = z.input<typeof Generator>;

export interface FitOptions {
  /** Keep text values seen in the statistics instead of synthetic ones of the same length. */
  keepSampleValues: boolean;
  /** Rows the scenario seeds. */
  rows: number;
}

export interface FittedTable {
  columns: Record<string, GeneratorConfig>;
  /** One line per column that was fitted in a notable way or not at all. */
  notes: string[];
}

type TypeClass = "int" | "decimal" | "time" | "text" | "uuid" | "bool" | "json" | "enum" | "other";

/** Columns whose correlation with the physical order is at least this grow with the id. */
export const ASCENDING_CORRELATION = 0.9;

export function typeClass(type: string, enums: Map<string, string[]>): TypeClass {
  if (enums.has(type)) return "enum";
  if (/^(smallint|integer|bigint)$/.test(type)) return "int";
  if (/^(numeric|real|double precision)/.test(type)) return "decimal";
  if (/^(timestamp|date)/.test(type)) return "time";
  if (/^(text|character varying|character|varchar|citext)/.test(type)) return "text";
  if (type === "uuid") return "uuid";
  if (type === "boolean") return "bool";
  if (type === "json" || type === "jsonb") return "json";
  return "other";
}

/** "2024-01-01 10:00:00.5+00" (PostgreSQL, UTC) → "2024-01-01T10:00:00.500Z"; undefined when unparseable. */
export function isoInstant(text: string): string | undefined {
  let t = text.trim().replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, "$1T");
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) t += "T00:00:00Z";
  else if (/[+-]\d{2}$/.test(t)) t += ":00";
  else if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(t)) t += "Z";
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function decimalsOf(type: string, samples: string[]): number {
  const m = /^numeric\(\d+,(\d+)\)/.exec(type);
  if (m) return Number(m[1]);
  const seen = samples.map((s) => /\.(\d+)$/.exec(s)?.[1]?.length ?? 0);
  return Math.min(6, Math.max(0, ...seen));
}

/** Absolute distinct count from pg_stats.n_distinct (negative: a fraction of the rows). */
export function distinctCount(nDistinct: number, rows: number): number {
  return nDistinct >= 0 ? nDistinct : Math.round(-nDistinct * rows);
}

/** A synthetic stand-in for the i-th common value, as long as the original. */
export function syntheticValue(i: number, length: number): string {
  const base = `v${i + 1}`;
  return base.length >= length ? base : base + "x".repeat(length - base.length);
}

function isUnique(s: ColumnStats): boolean {
  return s.nDistinct <= -0.99;
}

/** The common values' fractions among non-null rows (null_fraction is drawn first, separately). */
function commonShares(s: ColumnStats): number[] {
  const nonNull = Math.max(1e-9, 1 - s.nullFrac);
  return (s.mcf ?? []).map((f) => f / nonNull);
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function withNulls(gen: GeneratorConfig, s: ColumnStats): GeneratorConfig {
  return s.nullFrac > 0 ? { ...gen, null_fraction: round6(s.nullFrac) } : gen;
}

/** Fits every column of a table; columns it cannot fit are left out (they take their DEFAULT) with a note. */
export function fitTable(t: SourceTable, opts: FitOptions): FittedTable {
  const columns: Record<string, GeneratorConfig> = {};
  const notes: string[] = [];
  const inCheck = new Set(t.info.constraints.filter((c) => c.type === "c").flatMap((c) => c.columns));
  for (const col of t.info.columns) {
    if (col.generated) {
      notes.push(`${col.name}: generated column, computed by PostgreSQL`);
      continue;
    }
    const s = t.stats.get(col.name);
    if (!s) {
      notes.push(`${col.name}: no statistics; takes its DEFAULT`);
      continue;
    }
    const fitted = fitColumn(col, s, t, opts, inCheck.has(col.name));
    if (!fitted.gen && col.notNull && !col.default) {
      // Left out, the column would be NULL and the COPY would fail: a constant keeps the dataset loadable.
      const sample = s.mcv?.[0] ?? s.histogram?.[0];
      if (sample !== undefined && (opts.keepSampleValues || !/^(text|character)/.test(col.type))) {
        fitted.gen = { gen: "constant", value: sample };
        fitted.note = `${fitted.note ?? "not fitted"}; NOT NULL without DEFAULT: constant ${JSON.stringify(sample)}`;
      } else
        fitted.note = `${fitted.note ?? "not fitted"}; NOT NULL without DEFAULT: add a generator or seeding fails`;
    }
    if (fitted.note) notes.push(`${col.name}: ${fitted.note}`);
    if (fitted.gen) columns[col.name] = fitted.gen;
  }
  return { columns, notes };
}

function fitColumn(
  col: ColumnInfo,
  s: ColumnStats,
  t: SourceTable,
  opts: FitOptions,
  inCheck: boolean,
): { gen?: GeneratorConfig; note?: string | undefined } {
  if (s.nullFrac >= 1) return { gen: { gen: "constant", value: "", null_fraction: 1 } };
  const cls = typeClass(col.type, t.enums);
  const distinct = distinctCount(s.nDistinct, t.reltuples);
  const mcv = s.mcv ?? [];
  const shares = commonShares(s);
  const hist = s.histogram ?? [];
  switch (cls) {
    case "int":
    case "decimal": {
      const decimals = cls === "int" ? 0 : decimalsOf(col.type, [...mcv, ...hist]);
      if (
        cls === "int" &&
        isUnique(s) &&
        (s.correlation ?? 0) >= ASCENDING_CORRELATION &&
        hist.length >= 2 &&
        s.nullFrac === 0
      ) {
        const first = Number(hist[0]);
        const span = Number(hist[hist.length - 1]) - first;
        const step = Math.max(1, Math.round(span / Math.max(1, t.reltuples - 1)));
        return { gen: { gen: "serial", start: first, step }, note: "unique and ascending: serial" };
      }
      return numericHistogram(s, opts.rows, mcv, shares, hist.map(Number), decimals, distinct, (v) =>
        Number(v),
      );
    }
    case "time": {
      const iso = (v: string) => isoInstant(v);
      const bounds = hist.map(iso);
      if (bounds.some((b) => b === undefined))
        return { note: `histogram bounds are not timestamps (${hist[0]}); not fitted` };
      const ascending = (s.correlation ?? 0) >= ASCENDING_CORRELATION && bounds.length >= 2;
      if (ascending)
        return {
          gen: withNulls({ gen: "histogram", bounds: bounds as string[], order: "ascending" }, s),
          note: `correlation ${s.correlation?.toFixed(3)}: ascending with the row order`,
        };
      return numericHistogram(s, opts.rows, mcv, shares, bounds as string[], 0, distinct, (v) => v);
    }
    case "uuid":
      return { gen: withNulls({ gen: "uuid" }, s) };
    case "bool":
    case "enum":
      if (mcv.length === 0) {
        const labels = cls === "enum" ? t.enums.get(col.type)! : ["t", "f"];
        return {
          gen: withNulls({ gen: "choice", values: Object.fromEntries(labels.map((l) => [l, 1])) }, s),
        };
      }
      return {
        gen: withNulls(
          common(mcv, shares, (v) => v),
          s,
        ),
      };
    case "json":
      return {
        gen: withNulls({ gen: "json", template: '{"n": {n}}' }, s),
        note: "json: synthetic documents (no statistics describe their shape)",
      };
    case "text":
      return fitText(s, mcv, shares, distinct, opts.keepSampleValues || inCheck, inCheck);
    case "other":
      if (mcv.length > 0 && opts.keepSampleValues)
        return {
          gen: withNulls(
            common(mcv, shares, (v) => v),
            s,
          ),
          note: `${col.type}: common values only`,
        };
      return { note: `${col.type}: no generator for this type; takes its DEFAULT` };
  }
}

function common(
  mcv: string[],
  shares: number[],
  name: (v: string, i: number) => string,
): Extract<GeneratorConfig, { gen: "histogram" }> {
  return {
    gen: "histogram",
    common: Object.fromEntries(mcv.map((v, i) => [name(v, i), round6(shares[i]!)])),
  };
}

/**
 * How many equally likely values `rows` draws must come from to show `distinct` different ones:
 * M·(1 − e^(−rows/M)) = distinct. undefined when nearly every draw is distinct (no grid needed).
 */
export function gridSize(distinct: number, rows: number): number | undefined {
  if (distinct <= 0 || rows <= 0 || distinct >= rows * 0.98) return undefined;
  const seen = (m: number) => m * (1 - Math.exp(-rows / m));
  let lo = distinct;
  let hi = distinct;
  while (seen(hi) < distinct && hi < 1e15) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 0.5; i++) {
    const mid = (lo + hi) / 2;
    if (seen(mid) < distinct) lo = mid;
    else hi = mid;
  }
  return Math.round(hi);
}

function numericHistogram<T extends number | string>(
  s: ColumnStats,
  rows: number,
  mcv: string[],
  shares: number[],
  bounds: T[],
  decimals: number,
  distinct: number,
  parse: (v: string) => T | undefined,
): { gen?: GeneratorConfig; note?: string } {
  const gen = common(
    mcv.map((v) => String(parse(v) ?? v)),
    shares,
    (v) => v,
  );
  if (bounds.length >= 2) {
    gen.bounds = bounds.map((b) => (typeof b === "string" ? b : parse(String(b))!)) as (number | string)[];
    if (
      typeof bounds[0] === "number" &&
      !bounds.every((b) => Math.abs(Number(b) * 10 ** decimals) <= Number.MAX_SAFE_INTEGER)
    )
      return { note: "values beyond ±2^53; not fitted" };
    if (decimals > 0) gen.decimals = decimals;
    // Snap to a grid when the values are sparser than their range (a dense range needs no snapping).
    const rest = distinct - mcv.length;
    const restRows = rows * (1 - s.nullFrac) * (1 - shares.reduce((a, b) => a + b, 0));
    const grid = gridSize(rest, restRows);
    if (typeof bounds[0] === "number" && grid !== undefined) {
      const range = (Number(bounds[bounds.length - 1]) - Number(bounds[0])) * 10 ** decimals;
      if (grid < range * 0.9) gen.distinct = grid;
    }
  } else if (mcv.length === 0) {
    return { note: "no common values and no histogram; takes its DEFAULT" };
  }
  return { gen: withNulls(gen, s) };
}

function fitText(
  s: ColumnStats,
  mcv: string[],
  shares: number[],
  distinct: number,
  keep: boolean,
  constrained: boolean,
): { gen?: GeneratorConfig; note?: string } {
  // avg_width is the stored size of a non-null value: a 1-byte header plus the text for short values.
  const avgLength = Math.max(1, s.avgWidth - 1);
  if (isUnique(s)) {
    const pad = Math.max(0, avgLength - 1 - String(Math.max(distinct, 1)).length);
    return {
      gen: withNulls({ gen: "text", template: `u${"x".repeat(pad)}{n}` }, s),
      note: `unique text: synthetic, ~${avgLength} characters`,
    };
  }
  const gen = common(mcv, shares, (v, i) => (keep ? v : syntheticValue(i, v.length)));
  const commonShare = shares.reduce((a, b) => a + b, 0);
  const restShare = 1 - commonShare;
  if (restShare > 0.001 && !constrained) {
    const restDistinct = Math.max(1, distinct - mcv.length);
    const commonLength = mcv.reduce((sum, v, i) => sum + v.length * shares[i]!, 0);
    const restLength = Math.round((avgLength - commonLength) / restShare);
    const digits = String(restDistinct).length;
    const pad = Math.max(0, Math.min(200, restLength) - 1 - digits);
    gen.template = `r${"x".repeat(pad)}{rand:1:${restDistinct}}`;
  }
  if (mcv.length === 0 && gen.template === undefined)
    return { note: "no statistics to fit; takes its DEFAULT" };
  const how = keep
    ? constrained
      ? "values named by a CHECK, kept"
      : "sample values kept"
    : "synthetic values";
  return { gen: withNulls(gen, s), note: mcv.length ? `${mcv.length} common values (${how})` : undefined };
}
