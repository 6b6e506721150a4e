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

type TypeClass =
  "int" | "decimal" | "time" | "text" | "uuid" | "bool" | "json" | "enum" | "array" | "tsvector" | "other";

/** Columns whose correlation with the physical order is at least this grow with the id. */
export const ASCENDING_CORRELATION = 0.9;

export function typeClass(
  type: string,
  enums: Map<string, string[]>,
  domains: Map<string, string> = new Map(),
): TypeClass {
  // A domain is generated as its base type: the source's values (the statistics) already satisfy its CHECKs.
  const base = domains.get(type);
  if (base !== undefined && base !== type) return typeClass(base, enums, domains);
  if (enums.has(type)) return "enum";
  if (type.endsWith("[]")) return "array";
  if (type === "tsvector") return "tsvector";
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
  for (const key of compositeKeys(t)) notes.push(uniqueTuples(t, key, columns));
  return { columns, notes };
}

/** Primary keys and unique constraints over several columns, none of which is unique on its own. */
function compositeKeys(t: SourceTable): string[][] {
  return t.info.constraints
    .filter((c) => (c.type === "p" || c.type === "u") && c.columns.length >= 2)
    .map((c) => c.columns)
    .filter((cols) => !cols.some((c) => isUnique(t.stats.get(c) ?? ({ nDistinct: 0 } as ColumnStats))));
}

/**
 * Columns fitted one by one repeat tuples of a composite key (film_actor's (actor_id, film_id) pairs): integer
 * key columns become the digits of a mixed-radix count over their source ranges instead — the column with the
 * widest range turns fastest, each value stays inside the range the statistics show (so a foreign key's
 * target, seeded over that range, holds it), and no tuple repeats.
 */
function uniqueTuples(t: SourceTable, key: string[], columns: Record<string, GeneratorConfig>): string {
  const ranges: { column: string; min: number; size: number }[] = [];
  for (const c of key) {
    const info = t.info.columns.find((x) => x.name === c);
    const s = t.stats.get(c);
    const values = [...(s?.histogram ?? []), ...(s?.mcv ?? [])].map(Number).filter(Number.isSafeInteger);
    if (!info || typeClass(info.type, t.enums, t.domains) !== "int" || values.length === 0)
      return `(${key.join(", ")}): a composite key over non-integer columns; values fitted column by column may repeat a tuple — give one column a unique generator if seeding reports a duplicate key`;
    const min = Math.min(...values);
    ranges.push({ column: c, min, size: Math.max(...values) - min + 1 });
  }
  ranges.sort((a, b) => a.size - b.size);
  let every = 1;
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i]!;
    columns[r.column] =
      i === 0
        ? { gen: "serial", start: r.min, every }
        : { gen: "serial", start: r.min, every, cycle: r.size };
    every *= r.size;
  }
  return `(${key.join(", ")}): composite key: unique tuples counted over the source's ranges (${ranges.map((r) => `${r.column} ${r.min}..${r.min + r.size - 1}`).join(", ")})`;
}

function fitColumn(
  col: ColumnInfo,
  s: ColumnStats,
  t: SourceTable,
  opts: FitOptions,
  inCheck: boolean,
): { gen?: GeneratorConfig; note?: string | undefined } {
  if (s.nullFrac >= 1) return { gen: { gen: "constant", value: "", null_fraction: 1 } };
  const cls = typeClass(col.type, t.enums, t.domains);
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
    case "tsvector": {
      // A word is a valid tsvector; pg_stats keeps no common values for it, only its width and distinctness.
      const fitted = fitText(s, [], [], distinct, false, false);
      return { ...fitted, note: "tsvector: synthetic one-word documents of the source's width" };
    }
    case "array":
      return fitArray(col.type.slice(0, -2), s, mcv, shares, t, opts.keepSampleValues);
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

/**
 * Arrays: the common arrays of pg_stats with their element counts and shares (text elements synthetic unless
 * sample values are kept), renormalised over the common ones; with none, an empty array.
 */
function fitArray(
  elementType: string,
  s: ColumnStats,
  mcv: string[],
  shares: number[],
  t: SourceTable,
  keep: boolean,
): { gen?: GeneratorConfig; note?: string } {
  if (mcv.length === 0)
    return {
      gen: withNulls({ gen: "constant", value: "{}" }, s),
      note: `${elementType}[]: no common values in the statistics; empty arrays`,
    };
  const cls = typeClass(elementType, t.enums, t.domains);
  const verbatim = keep || ["int", "decimal", "bool", "enum", "uuid"].includes(cls);
  const total = shares.reduce((a, b) => a + b, 0) || 1;
  const values = mcv.map((v, i) => (verbatim ? v : syntheticArray(v, i)));
  return {
    gen: withNulls(
      common(
        values,
        shares.map((x) => x / total),
        (v) => v,
      ),
      s,
    ),
    note: `${elementType}[]: ${mcv.length} common arrays${verbatim ? "" : " (synthetic elements, same lengths)"}, covering ${Math.round(total * 100)} % of the source's rows`,
  };
}

/** `{Trailers,"Deleted Scenes"}` → `{e3a,e3b}`: the same number of elements, none of the text. */
export function syntheticArray(literal: string, i: number): string {
  const inner = literal.trim().replace(/^\{|\}$/g, "");
  if (inner === "") return "{}";
  let count = 0;
  let quoted = false;
  for (let k = 0; k < inner.length; k++) {
    const ch = inner[k];
    if (ch === "\\") k++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) count++;
  }
  return `{${Array.from({ length: count + 1 }, (_, k) => `e${i}x${k}`).join(",")}}`;
}
