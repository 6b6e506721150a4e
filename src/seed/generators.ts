/**
 * Compiles a dataset table's column generators into fast writers of COPY text rows.
 *
 * Determinism: rows are grouped into fixed chunks of CHUNK_ROWS; each (seed, table, column, chunk) has its own
 * random stream (random.ts). A chunk renders the same bytes whichever connection renders it, in whatever order,
 * so the seeder can spread chunks over several connections and the same seed still gives the same table.
 * Changing CHUNK_ROWS, the hash, or any generator's draw sequence changes every seeded dataset: treat them as
 * part of the scenario format.
 *
 * Speed: a field writer puts its value's bytes straight into the output buffer (copy-text.ts) and every
 * generator declares the most bytes it can write, so a row needs one capacity check, not one per field.
 */
import type { DatasetTable, Generator } from "../scenario/schema.ts";
import {
  encodeField,
  INT_BYTES,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  NULL_BYTES,
  TIMESTAMP_BYTES,
  timestampWriter,
  UUID_BYTES,
  writeBytes,
  writeInt,
  writeNull,
  writeScaled,
} from "./copy-text.ts";
import { below, drawUuid, type Rng, streamFor, unit32 } from "./random.ts";
import { compileTemplate, TemplateError } from "./template.ts";
import { zipfSampler } from "./zipf.ts";

/** Rows per deterministic chunk: small enough to balance two connections, large enough that setup is free. */
export const CHUNK_ROWS = 16_384;

/**
 * Writes the COPY text field of absolute row `row` (0-based) at `pos` and returns the position after it.
 * Within a chunk, rows must come in ascending order (each call advances the chunk's random stream).
 */
export type FieldWriter = (buf: Uint8Array, pos: number, row: number) => number;

/** A compiled column: the most bytes one field can take, and its writer for a given chunk. */
export interface CompiledColumn {
  maxBytes: number;
  forChunk(chunk: number): FieldWriter;
}

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
  const hasZone = /T.*(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(t);
  return Date.parse(t.includes("T") && !hasZone ? `${t}Z` : t);
}

/** A column's values without nulls: a bound on their size and a writer factory taking the chunk's stream. */
interface Values {
  maxBytes: number;
  forStream(rng: Rng): FieldWriter;
}

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
  const low = outliers.lo < lo ? Math.max(0, Math.min(lo - 1, outliers.hi) - outliers.lo + 1) : 0;
  const highStart = Math.max(hi + 1, outliers.lo);
  const high = outliers.hi > hi ? Math.max(0, outliers.hi - highStart + 1) : 0;
  const total = low + high;
  if (total === 0)
    fail("outliers.min/max must reach outside the normal range, or no value can be an outlier");
  const fraction = outliers.fraction;
  const outlier = (rng: Rng): number => {
    const k = below(rng, total);
    return k < low ? outliers.lo + k : highStart + (k - low);
  };
  if (fraction === 1) return outlier;
  return (rng) => (unit32(rng) < fraction ? outlier(rng) : lo + below(rng, size));
}

function checkSafe(values: number[], fail: (message: string) => never): void {
  for (const v of values)
    if (!Number.isSafeInteger(v))
      fail(`value ${v} is outside the exactly representable integer range (±2^53)`);
}

function compileValues(gen: Generator, ctx: GeneratorContext, fail: (message: string) => never): Values {
  switch (gen.gen) {
    case "serial": {
      const { start, step, every, cycle } = gen;
      const steps = Math.floor((Math.max(ctx.rows, 1) - 1) / every);
      checkSafe([start + (cycle === undefined ? steps : Math.min(steps, cycle - 1)) * step], fail);
      // Derived from the row index, not a counter: chunks on different connections still get
      // start, start+step, …, start+(n-1)·step with no gaps or repeats. every/cycle make the digits of a
      // mixed-radix count, so the columns of a composite key together never repeat a tuple.
      const index =
        cycle === undefined
          ? (row: number) => Math.floor(row / every)
          : (row: number) => Math.floor(row / every) % cycle;
      return {
        maxBytes: INT_BYTES,
        forStream: () => (buf, pos, row) => writeInt(buf, pos, start + index(row) * step),
      };
    }
    case "uniform": {
      if (gen.min > gen.max) fail(`min (${gen.min}) is greater than max (${gen.max})`);
      const decimals = gen.decimals;
      const scale = 10 ** decimals;
      // Work in integers of 10^-decimals so every value has exactly `decimals` digits and never a binary-fraction
      // artefact like 0.30000000000000004. The epsilon keeps 0.1*10 from becoming 0.9999… and losing a bound.
      const lo = Math.ceil(gen.min * scale - 1e-9);
      const hi = Math.floor(gen.max * scale + 1e-9);
      if (lo > hi) fail(`no value with ${decimals} decimals lies in [${gen.min}, ${gen.max}]`);
      const o = gen.outliers;
      if (o && o.min > o.max) fail(`outliers.min (${o.min}) is greater than outliers.max (${o.max})`);
      const oLo = o ? Math.ceil(o.min * scale - 1e-9) : 0;
      const oHi = o ? Math.floor(o.max * scale + 1e-9) : 0;
      checkSafe(o ? [lo, hi, oLo, oHi] : [lo, hi], fail);
      const draw = withOutliers(lo, hi, o && { fraction: o.fraction, lo: oLo, hi: oHi }, fail);
      // writeScaled writes the sign, up to 16 digits, the point, and a leading "0." when needed.
      const maxBytes = INT_BYTES + 2 + decimals;
      if (decimals === 0)
        return { maxBytes, forStream: (rng) => (buf, pos) => writeInt(buf, pos, draw(rng)) };
      return {
        maxBytes,
        forStream: (rng) => (buf, pos) => writeScaled(buf, pos, draw(rng), decimals, scale),
      };
    }
    case "zipf": {
      if (gen.min > gen.max) fail(`min (${gen.min}) is greater than max (${gen.max})`);
      checkSafe([gen.max - gen.min + 1], fail);
      const sample = zipfSampler(gen.max - gen.min + 1, gen.s);
      const offset = gen.min - 1;
      // Rank 1 is key `min`: the hottest account is the first one, which a scenario can rely on.
      return {
        maxBytes: INT_BYTES,
        forStream: (rng) => (buf, pos) => writeInt(buf, pos, offset + sample(rng)),
      };
    }
    case "timestamp":
      return compileTimestamp(gen, ctx, fail);
    case "uuid":
      return { maxBytes: UUID_BYTES, forStream: (rng) => (buf, pos) => drawUuid(rng, buf, pos) };
    case "choice": {
      const entries = Object.entries(gen.values);
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      if (!(total > 0)) fail("choice weights must not all be zero");
      const values = entries.map(([v]) => encodeField(v));
      const maxBytes = Math.max(...values.map((v) => v.length));
      const cumulative = new Float64Array(entries.length);
      let acc = 0;
      entries.forEach(([, w], i) => {
        acc += w;
        cumulative[i] = acc;
      });
      const n = values.length;
      if (n === 1) return { maxBytes, forStream: () => (buf, pos) => writeBytes(buf, pos, values[0]!) };
      return {
        maxBytes,
        forStream: (rng) => (buf, pos) => {
          const x = unit32(rng) * total;
          // Few choices in practice, so a linear scan beats a binary search. A zero weight is never picked: its
          // cumulative bound equals its predecessor's, so x ≥ it whenever x got past the predecessor.
          let i = 0;
          while (i < n - 1 && x >= cumulative[i]!) i++;
          return writeBytes(buf, pos, values[i]!);
        },
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
    case "histogram":
      return compileHistogram(gen, ctx, fail);
    case "constant": {
      const bytes = encodeField(String(gen.value));
      return { maxBytes: bytes.length, forStream: () => (buf, pos) => writeBytes(buf, pos, bytes) };
    }
  }
}

function compileTimestamp(
  gen: Extract<Generator, { gen: "timestamp" }>,
  ctx: GeneratorContext,
  fail: (message: string) => never,
): Values {
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
  const fraction = o?.fraction ?? 0;
  if (o && fraction > 0) {
    if (o.min > o.max) fail(`outliers.min (${o.min}) is greater than outliers.max (${o.max})`);
    const earliest = o.min < 0 ? from + o.min * MS_PER_DAY : to;
    const latest = o.max > 0 ? to + o.max * MS_PER_DAY : from;
    if (earliest < MIN_TIMESTAMP_MS || latest > MAX_TIMESTAMP_MS)
      fail(
        "outliers reach outside years 0001–9999 (timestamp outliers are days before `from` or after `to`)",
      );
    // Offsets in ms around an excluded 0, so an outlier always lies strictly outside [from, to].
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
  let base: (rng: Rng, row: number) => number;
  if (gen.order === "ascending") {
    // Row r gets the start of the r-th of `rows` equal slices of [from, to] plus a random jitter of less than
    // one slice. floor(r·slice) + floor(slice) - 1 ≤ floor((r+1)·slice) even with float rounding, so values
    // never decrease from row to row — across chunks too — while staying evenly spread.
    const slice = span / Math.max(ctx.rows, 1);
    const jitter = Math.max(0, Math.floor(slice) - 1);
    base = (rng, row) => from + Math.floor(row * slice) + Math.floor(unit32(rng) * jitter);
  } else {
    base = (rng) => from + Math.floor(unit32(rng) * (span + 1));
  }
  return {
    maxBytes: TIMESTAMP_BYTES,
    forStream: (rng) => {
      const write = timestampWriter();
      if (!outlier) return (buf, pos, row) => write(buf, pos, base(rng, row));
      const pick = outlier;
      return (buf, pos, row) => write(buf, pos, unit32(rng) < fraction ? pick(rng) : base(rng, row));
    },
  };
}

/**
 * Planner statistics as a distribution: a most-common value with its frequency, else a value drawn uniformly
 * from one of the equal-frequency histogram buckets (bucket values are integers in units of 10^-decimals, or
 * epoch ms for timestamps), else the template.
 */
function compileHistogram(
  gen: Extract<Generator, { gen: "histogram" }>,
  ctx: GeneratorContext,
  fail: (message: string) => never,
): Values {
  const common = Object.entries(gen.common);
  const commonTotal = common.reduce((sum, [, w]) => sum + w, 0);
  const bounds = gen.bounds;
  const isTime = bounds !== undefined && bounds.every((b) => typeof b === "string");
  if (bounds && !isTime && !bounds.every((b) => typeof b === "number"))
    fail("bounds must be all numbers or all ISO timestamps");
  if (!bounds && gen.template === undefined && common.length === 0)
    fail("a histogram needs common values, bounds or a template");
  if (commonTotal > 1 + 1e-6 && (bounds || gen.template !== undefined))
    fail(`common fractions add up to ${commonTotal}, more than 1`);
  const scale = 10 ** gen.decimals;
  const points = (bounds ?? []).map((b) => {
    if (typeof b === "string") {
      const ms = parseInstant(b);
      if (Number.isNaN(ms)) fail(`bound ${JSON.stringify(b)} is not an ISO 8601 date or timestamp`);
      return ms;
    }
    return Math.round(b * scale);
  });
  checkSafe(points, fail);
  for (let i = 1; i < points.length; i++)
    if (points[i]! < points[i - 1]!) fail("bounds must be in ascending order");
  const buckets = points.length - 1;
  const first = points[0] ?? 0;
  const last = points[buckets] ?? 0;
  const step = gen.distinct && last > first ? Math.max(1, (last - first) / gen.distinct) : 1;
  const snap = (v: number): number =>
    step <= 1 ? v : Math.min(last, Math.round(first + Math.round((v - first) / step) * step));
  // A value at position t in [0, 1) of bucket b; the last bucket includes its upper bound.
  const inBucket = (b: number, t: number): number => {
    const lo = points[b]!;
    return lo + Math.floor(t * (points[b + 1]! - lo + (b === buckets - 1 ? 1 : 0)));
  };
  const random = (rng: Rng): number => snap(inBucket(below(rng, buckets), unit32(rng)));
  // Row r sits at quantile (r + ½) / rows, so values never decrease from row to row.
  const rows = Math.max(ctx.rows, 1);
  const ascending = (row: number): number => {
    const x = ((row + 0.5) / rows) * buckets;
    const b = Math.min(buckets - 1, Math.floor(x));
    return inBucket(b, Math.min(x - b, 1 - 1e-12));
  };
  let rest: Values | undefined;
  if (bounds) {
    if (isTime) {
      rest = {
        maxBytes: TIMESTAMP_BYTES,
        forStream: (rng) => {
          const write = timestampWriter();
          if (gen.order === "ascending") return (buf, pos, row) => write(buf, pos, ascending(row));
          return (buf, pos) => write(buf, pos, random(rng));
        },
      };
    } else {
      const decimals = gen.decimals;
      rest = {
        maxBytes: INT_BYTES + 2 + decimals,
        forStream: (rng) => {
          const draw = gen.order === "ascending" ? ascending : () => random(rng);
          return decimals === 0
            ? (buf, pos, row) => writeInt(buf, pos, draw(row))
            : (buf, pos, row) => writeScaled(buf, pos, draw(row), decimals, scale);
        },
      };
    }
  } else if (gen.template !== undefined) {
    try {
      rest = compileTemplate(gen.template, "text");
    } catch (err) {
      if (err instanceof TemplateError) fail(err.message);
      throw err;
    }
  }
  if (gen.order === "ascending" && rest) return rest;
  const values = common.map(([v]) => encodeField(v));
  const cumulative: number[] = [];
  let acc = 0;
  for (const [, w] of common) cumulative.push((acc += w));
  // Without a rest, the common values are all there is: their weights are relative.
  const total = rest ? 1 : acc;
  if (!(total > 0)) fail("common fractions must not all be zero");
  const maxBytes = Math.max(rest?.maxBytes ?? 0, ...values.map((v) => v.length));
  return {
    maxBytes,
    forStream: (rng) => {
      const other = rest?.forStream(rng);
      return (buf, pos, row) => {
        const x = unit32(rng) * total;
        if (other && x >= acc) return other(buf, pos, row);
        let i = 0;
        while (i < values.length - 1 && x >= cumulative[i]!) i++;
        return writeBytes(buf, pos, values[i]!);
      };
    },
  };
}

/** Compiles one generator config; throws GeneratorError when it cannot produce values. Pure, no database. */
export function compileGenerator(gen: Generator, ctx: GeneratorContext): CompiledColumn {
  const fail = (message: string): never => {
    throw new GeneratorError(ctx.table, ctx.column, message);
  };
  const values = compileValues(gen, ctx, fail);
  const p = gen.null_fraction ?? 0;
  const stream = (chunk: number): Rng => streamFor(ctx.seed, ctx.table, ctx.column, chunk);
  if (p === 0) return { maxBytes: values.maxBytes, forChunk: (chunk) => values.forStream(stream(chunk)) };
  if (p === 1) return { maxBytes: NULL_BYTES, forChunk: () => writeNull };
  return {
    maxBytes: Math.max(values.maxBytes, NULL_BYTES),
    forChunk: (chunk) => {
      const rng = stream(chunk);
      const write = values.forStream(rng);
      return (buf, pos, row) => (unit32(rng) < p ? writeNull(buf, pos) : write(buf, pos, row));
    },
  };
}

/** Renders a column's COPY text fields for rows [0, rows), for tests and previews. */
export function renderColumn(gen: Generator, ctx: GeneratorContext): string[] {
  const column = compileGenerator(gen, ctx);
  const buf = Buffer.alloc(column.maxBytes);
  const out: string[] = [];
  for (let chunk = 0; chunk * CHUNK_ROWS < ctx.rows; chunk++) {
    const write = column.forChunk(chunk);
    const end = Math.min(ctx.rows, (chunk + 1) * CHUNK_ROWS);
    for (let row = chunk * CHUNK_ROWS; row < end; row++)
      out.push(buf.toString("utf8", 0, write(buf, 0, row)));
  }
  return out;
}

/** Produces one chunk's COPY text in pieces, so a chunk never has to sit in memory whole. */
export interface ChunkCursor {
  /** The next row to render. */
  readonly row: number;
  /** One past the chunk's last row. */
  readonly end: number;
  /**
   * Renders whole rows into a fresh buffer until it holds about `targetBytes` (at least one row); undefined
   * once the chunk is done. The buffer is new each call, so it may sit in a socket queue while the next renders.
   */
  next(targetBytes: number): Buffer | undefined;
}

/** A dataset table ready to render: its COPY column list and its rows, chunk by chunk. */
export interface CompiledTable {
  name: string;
  /** Listed columns, in COPY order; unlisted ones take their DEFAULT. */
  columns: string[];
  rows: number;
  chunks: number;
  /** The most bytes one row can take, newline included. */
  maxRowBytes: number;
  openChunk(chunk: number): ChunkCursor;
}

/** Compiles every column of a table for `rows` rows; all config errors surface here, before any I/O. */
export function compileTable(table: DatasetTable, seed: number, rows: number): CompiledTable {
  const columns = Object.keys(table.columns);
  const compiled = columns.map((column) =>
    compileGenerator(table.columns[column]!, { seed, table: table.name, column, rows }),
  );
  const chunks = Math.ceil(rows / CHUNK_ROWS);
  // Each field plus its tab or newline.
  const maxRowBytes = compiled.reduce((sum, c) => sum + c.maxBytes + 1, 0);
  return {
    name: table.name,
    columns,
    rows,
    chunks,
    maxRowBytes,
    openChunk(chunk: number): ChunkCursor {
      if (!(chunk >= 0 && chunk < chunks)) throw new RangeError(`chunk ${chunk} is outside 0..${chunks - 1}`);
      const writers = compiled.map((c) => c.forChunk(chunk));
      const width = writers.length;
      let row = chunk * CHUNK_ROWS;
      const end = Math.min(rows, row + CHUNK_ROWS);
      return {
        get row() {
          return row;
        },
        end,
        next(targetBytes: number): Buffer | undefined {
          if (row >= end || width === 0) return undefined;
          // Room for the target plus one worst-case row, so no field ever needs a bounds check.
          const buf = Buffer.allocUnsafe(Math.max(targetBytes, 1) + maxRowBytes);
          let pos = 0;
          // The hot loop of seeding.
          while (row < end && pos < targetBytes) {
            pos = writers[0]!(buf, pos, row);
            for (let c = 1; c < width; c++) {
              buf[pos++] = 0x09;
              pos = writers[c]!(buf, pos, row);
            }
            buf[pos++] = 0x0a;
            row++;
          }
          return buf.subarray(0, pos);
        },
      };
    },
  };
}

/** Renders rows [0, rows) of a table as one COPY text string, for tests; the seeder streams instead. */
export function renderTable(table: DatasetTable, seed: number, rows: number): string {
  const compiled = compileTable(table, seed, rows);
  const parts: Buffer[] = [];
  for (let chunk = 0; chunk < compiled.chunks; chunk++) {
    const cursor = compiled.openChunk(chunk);
    for (let piece = cursor.next(1 << 20); piece !== undefined; piece = cursor.next(1 << 20))
      parts.push(piece);
  }
  return Buffer.concat(parts).toString("utf8");
}
