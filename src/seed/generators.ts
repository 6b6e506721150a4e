/**
 * Compiles a dataset table's column generators into fast renderers of COPY text rows.
 *
 * Determinism: rows are grouped into fixed chunks of CHUNK_ROWS; each (seed, table, column, chunk) has its own
 * random stream (random.ts). A chunk renders the same bytes whichever connection renders it, in whatever order,
 * so the seeder can spread chunks over several connections and the same seed still gives the same table.
 * Changing CHUNK_ROWS, the hash, or any generator's draw sequence changes every seeded dataset: treat them as
 * part of the scenario format.
 */
import type { DatasetTable, Generator } from "../scenario/schema.ts";
import {
  COPY_NULL,
  escapeCopyText,
  formatScaled,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  timestampFormatter,
} from "./copy-text.ts";
import { below, type Rng, streamFor, unit32, uuidV4 } from "./random.ts";
import { compileTemplate, TemplateError } from "./template.ts";
import { zipfSampler } from "./zipf.ts";

/** Rows per deterministic chunk: small enough to balance two connections, large enough that setup is free. */
export const CHUNK_ROWS = 16_384;

/** Renders the COPY text field of absolute row `row` (0-based). Within a chunk, rows must come in order. */
export type FieldFn = (row: number) => string;

/** Makes the field renderer for one chunk, with that chunk's random stream. */
export type ChunkFieldFactory = (chunk: number) => FieldFn;

/** Where a generator sits, for its random stream and for error messages. */
export interface GeneratorContext {
  seed: number;
  table: string;
  column: string;
  /** Rows the table gets: `ascending` timestamps spread over exactly this many. */
  rows: number;
}

/** A generator config that cannot produce values (bad range, bad template…), located by table and column. */
export class GeneratorError extends Error {
  override name = "GeneratorError";
  constructor(
    readonly table: string,
    readonly column: string,
    message: string,
  ) {
    super(`dataset table ${table}, column ${column}: ${message}`);
  }
}

const MS_PER_DAY = 86_400_000;

/**
 * Parses an ISO 8601 date or timestamp to epoch ms. A value without a UTC offset is taken as UTC — JavaScript
 * would read "2024-01-01T00:00" in the machine's local zone, and then a seed would give different data on
 * different machines.
 */
export function parseInstant(text: string): number {
  const t = text.trim().replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, "$1T");
  const hasZone = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(t) && /T/.test(t);
  return Date.parse(/T/.test(t) && !hasZone ? `${t}Z` : t);
}

/** Value renderer given the chunk's stream; null_fraction is layered on top by compileGenerator. */
type ValueFactory = (rng: Rng) => FieldFn;

/**
 * Integer sampler for [lo, hi] plus, with probability `fraction`, a value from the outlier bounds but outside
 * [lo, hi]. All bounds are already integers in the generator's own unit.
 */
function withOutliers(
  lo: number,
  hi: number,
  outliers: { fraction: number; lo: number; hi: number } | undefined,
  fail: (message: string) => never,
): (rng: Rng) => number {
  const size = hi - lo + 1;
  if (!outliers || outliers.fraction === 0) return (rng) => lo + below(rng, size);
  // The outlier bounds minus the normal range leave up to two segments: below lo and above hi.
  const belowLo = outliers.lo < lo ? Math.min(lo - 1, outliers.hi) - outliers.lo + 1 : 0;
  const aboveHi = outliers.hi > hi ? outliers.hi - Math.max(hi + 1, outliers.lo) + 1 : 0;
  if (belowLo <= 0 && aboveHi <= 0)
    fail("outliers.min/max must reach outside the normal range, or no value can be an outlier");
  const low = Math.max(belowLo, 0);
  const total = low + Math.max(aboveHi, 0);
  const highStart = Math.max(hi + 1, outliers.lo);
  const fraction = outliers.fraction;
  return (rng) => {
    if (unit32(rng) >= fraction) return lo + below(rng, size);
    const k = below(rng, total);
    return k < low ? outliers.lo + k : highStart + (k - low);
  };
}

function checkSafe(values: number[], fail: (message: string) => never): void {
  for (const v of values)
    if (!Number.isSafeInteger(v))
      fail(`value ${v} is outside the exactly representable integer range (±2^53)`);
}

function compileValues(
  gen: Generator,
  ctx: GeneratorContext,
  fail: (message: string) => never,
): ValueFactory {
  switch (gen.gen) {
    case "serial": {
      const { start, step } = gen;
      checkSafe([start + (ctx.rows - 1) * step], fail);
      // Derived from the row index, not a counter: chunks on different connections still get start..start+(n-1)*step.
      return () => (row) => String(start + row * step);
    }
    case "uniform": {
      if (gen.min > gen.max) fail(`min (${gen.min}) is greater than max (${gen.max})`);
      const scale = 10 ** gen.decimals;
      // Work in integers of 10^-decimals so every value has exactly `decimals` digits and never a binary-fraction
      // artefact like 0.30000000000000004. The epsilon keeps 0.1*10 from becoming 0.9999… and losing a bound.
      const lo = Math.ceil(gen.min * scale - 1e-9);
      const hi = Math.floor(gen.max * scale + 1e-9);
      if (lo > hi) fail(`no value with ${gen.decimals} decimals lies in [${gen.min}, ${gen.max}]`);
      const o = gen.outliers;
      const oLo = o ? Math.ceil(o.min * scale - 1e-9) : 0;
      const oHi = o ? Math.floor(o.max * scale + 1e-9) : 0;
      if (o && o.min > o.max) fail(`outliers.min (${o.min}) is greater than outliers.max (${o.max})`);
      checkSafe(o ? [lo, hi, oLo, oHi] : [lo, hi], fail);
      const draw = withOutliers(lo, hi, o && { fraction: o.fraction, lo: oLo, hi: oHi }, fail);
      const decimals = gen.decimals;
      return decimals === 0
        ? (rng) => () => String(draw(rng))
        : (rng) => () => formatScaled(draw(rng), decimals);
    }
    case "zipf": {
      if (gen.min > gen.max) fail(`min (${gen.min}) is greater than max (${gen.max})`);
      const sample = zipfSampler(gen.max - gen.min + 1, gen.s);
      const offset = gen.min - 1;
      // Rank 1 is key `min`: the hottest account is the first one, which a scenario can rely on.
      return (rng) => () => String(offset + sample(rng));
    }
    case "timestamp": {
      const from = parseInstant(gen.from);
      const to = parseInstant(gen.to);
      if (Number.isNaN(from)) fail(`from: ${JSON.stringify(gen.from)} is not an ISO 8601 date or timestamp`);
      if (Number.isNaN(to)) fail(`to: ${JSON.stringify(gen.to)} is not an ISO 8601 date or timestamp`);
      if (from > to) fail(`from (${gen.from}) is after to (${gen.to})`);
      if (from < MIN_TIMESTAMP_MS || to > MAX_TIMESTAMP_MS) fail("from/to must lie in years 0001–9999");
      const o = gen.outliers;
      // Timestamp outliers are measured in days outside the range: negative = before `from`, positive = after
      // `to` (e.g. {min: 3650, max: 36500} puts them 10–100 years in the future, like out-of-range "future" ids).
      let outlier: ((rng: Rng) => number) | undefined;
      if (o && o.fraction > 0) {
        if (o.min > o.max) fail(`outliers.min (${o.min}) is greater than outliers.max (${o.max})`);
        const earliest = o.min < 0 ? from + o.min * MS_PER_DAY : to;
        const latest = o.max > 0 ? to + o.max * MS_PER_DAY : from;
        if (earliest < MIN_TIMESTAMP_MS || latest > MAX_TIMESTAMP_MS)
          fail(
            "outliers reach outside years 0001–9999; timestamp outliers are days before `from` (negative) or after `to`",
          );
        // Offsets in ms with 0 as the (excluded) normal range, so an outlier is always strictly outside [from, to].
        const offset = withOutliers(
          0,
          0,
          { fraction: 1, lo: Math.ceil(o.min * MS_PER_DAY), hi: Math.floor(o.max * MS_PER_DAY) },
          () =>
            fail(
              "timestamp outliers need a nonzero day offset: negative days fall before `from`, positive after `to`",
            ),
        );
        outlier = (rng) => {
          const d = offset(rng);
          return d < 0 ? from + d : to + d;
        };
      }
      const span = to - from;
      const fraction = o?.fraction ?? 0;
      let base: (rng: Rng, row: number) => number;
      if (gen.order === "ascending") {
        // Row r gets the start of the r-th of `rows` equal slices of [from, to] plus a random jitter of less than
        // one slice. floor(r·slice) + floor(slice) - 1 ≤ floor((r+1)·slice) even with float rounding, so values
        // never decrease from row to row, across chunks too, while staying evenly spread.
        const slice = span / Math.max(ctx.rows, 1);
        const jitter = Math.max(0, Math.floor(slice) - 1);
        base = (rng, row) => from + Math.floor(row * slice) + Math.floor(unit32(rng) * jitter);
      } else {
        base = (rng) => from + Math.floor(unit32(rng) * (span + 1));
      }
      return (rng) => {
        const format = timestampFormatter();
        if (!outlier) return (row) => format(base(rng, row));
        const pick = outlier;
        return (row) => format(unit32(rng) < fraction ? pick(rng) : base(rng, row));
      };
    }
    case "uuid":
      return (rng) => () => uuidV4(rng);
    case "choice": {
      const entries = Object.entries(gen.values);
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      if (!(total > 0)) fail("choice weights must not all be zero");
      const values = entries.map(([v]) => escapeCopyText(v));
      const cumulative = new Float64Array(entries.length);
      let acc = 0;
      entries.forEach(([, w], i) => {
        acc += w;
        cumulative[i] = acc;
      });
      const n = values.length;
      if (n === 1) return () => () => values[0]!;
      return (rng) => () => {
        const x = unit32(rng) * total;
        // Few choices in practice, so a linear scan beats a binary search; a zero weight is never picked
        // because its cumulative bound equals its predecessor's.
        let i = 0;
        while (i < n - 1 && x >= cumulative[i]!) i++;
        return values[i]!;
      };
    }
    case "text":
    case "json":
      try {
        return compileTemplate(gen.template, gen.gen);
      } catch (err) {
        if (err instanceof TemplateError) fail(err.message);
        throw err;
      }
    case "constant": {
      const text = escapeCopyText(String(gen.value));
      return () => () => text;
    }
  }
}

/** Compiles one generator config; throws GeneratorError when it cannot produce values. Pure, no database. */
export function compileGenerator(gen: Generator, ctx: GeneratorContext): ChunkFieldFactory {
  const fail = (message: string): never => {
    throw new GeneratorError(ctx.table, ctx.column, message);
  };
  const values = compileValues(gen, ctx, fail);
  const p = gen.null_fraction ?? 0;
  if (p === 0) return (chunk) => values(streamFor(ctx.seed, ctx.table, ctx.column, chunk));
  if (p === 1) return () => () => COPY_NULL;
  return (chunk) => {
    const rng = streamFor(ctx.seed, ctx.table, ctx.column, chunk);
    const value = values(rng);
    return (row) => (unit32(rng) < p ? COPY_NULL : value(row));
  };
}

/** Renders a column's fields for rows [0, rows), for tests and previews. */
export function renderColumn(gen: Generator, ctx: GeneratorContext): string[] {
  const factory = compileGenerator(gen, ctx);
  const out: string[] = [];
  for (let chunk = 0; chunk * CHUNK_ROWS < ctx.rows; chunk++) {
    const field = factory(chunk);
    const end = Math.min(ctx.rows, (chunk + 1) * CHUNK_ROWS);
    for (let row = chunk * CHUNK_ROWS; row < end; row++) out.push(field(row));
  }
  return out;
}

/** Produces one chunk's COPY text in pieces, so a chunk never has to sit in memory whole. */
export interface ChunkCursor {
  /** The next row to render. */
  readonly row: number;
  /** One past the chunk's last row. */
  readonly end: number;
  /** Renders whole rows until about `maxChars` characters (at least one row); "" once the chunk is done. */
  next(maxChars: number): string;
}

/** A dataset table ready to render: its COPY column list and its rows, chunk by chunk. */
export interface CompiledTable {
  name: string;
  /** Listed columns, in COPY order; unlisted ones take their DEFAULT. */
  columns: string[];
  rows: number;
  chunks: number;
  openChunk(chunk: number): ChunkCursor;
}

/** Compiles every column of a table for `rows` rows; all config errors surface here, before any I/O. */
export function compileTable(table: DatasetTable, seed: number, rows: number): CompiledTable {
  const columns = Object.keys(table.columns);
  const factories = columns.map((column) =>
    compileGenerator(table.columns[column]!, { seed, table: table.name, column, rows }),
  );
  const chunks = Math.ceil(rows / CHUNK_ROWS);
  return {
    name: table.name,
    columns,
    rows,
    chunks,
    openChunk(chunk: number): ChunkCursor {
      if (!(chunk >= 0 && chunk < chunks)) throw new RangeError(`chunk ${chunk} is outside 0..${chunks - 1}`);
      const fields = factories.map((f) => f(chunk));
      const width = fields.length;
      const first = fields[0];
      let row = chunk * CHUNK_ROWS;
      const end = Math.min(rows, row + CHUNK_ROWS);
      return {
        get row() {
          return row;
        },
        end,
        next(maxChars: number): string {
          // The hot loop of seeding: one string append per field, escaping already decided at compile time.
          let out = "";
          if (first === undefined) return out;
          while (row < end) {
            out += first(row);
            for (let c = 1; c < width; c++) out += "\t" + fields[c]!(row);
            out += "\n";
            row++;
            if (out.length >= maxChars) break;
          }
          return out;
        },
      };
    },
  };
}

/** Renders rows [0, rows) of a table as one COPY text string, for tests; the seeder streams instead. */
export function renderTable(table: DatasetTable, seed: number, rows: number): string {
  const compiled = compileTable(table, seed, rows);
  let out = "";
  for (let chunk = 0; chunk < compiled.chunks; chunk++) {
    const cursor = compiled.openChunk(chunk);
    for (let piece = cursor.next(1 << 20); piece !== ""; piece = cursor.next(1 << 20)) out += piece;
  }
  return out;
}
