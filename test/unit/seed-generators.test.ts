import { describe, expect, it } from "vitest";
import { DatasetTable, Generator } from "../../src/scenario/schema.ts";
import {
  CHUNK_ROWS,
  compileTable,
  GeneratorError,
  parseInstant,
  renderColumn,
  renderTable,
} from "../../src/seed/generators.ts";
import { streamFor } from "../../src/seed/random.ts";
import { zipfSampler } from "../../src/seed/zipf.ts";

/** Values of one generator for rows 0..rows-1, as COPY text fields. */
function values(gen: unknown, rows: number, seed = 1, column = "c"): string[] {
  return renderColumn(Generator.parse(gen), { seed, table: "t", column, rows });
}

/** Decodes a COPY text field back to its value (null for \N), the way the server reads it. */
function decodeField(field: string): string | null {
  if (field === "\\N") return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r", "\\": "\\" })[c] ?? c);
}

const ledger = DatasetTable.parse({
  name: "ledger",
  rows: 1,
  columns: {
    id: { gen: "serial" },
    account: { gen: "zipf", max: 10_000 },
    amount: { gen: "uniform", min: -50, max: 50, decimals: 2 },
    at: { gen: "timestamp", from: "2024-01-01", to: "2024-12-31", order: "ascending" },
    ref: { gen: "uuid", null_fraction: 0.2 },
    kind: { gen: "choice", values: { debit: 2, credit: 1 } },
    memo: { gen: "text", template: "row {n}: {word} {rand:1:9} {choice:x|y}" },
    meta: { gen: "json", template: '{"n": {n}, "w": {word}}' },
  },
});

describe("determinism", () => {
  it("renders the same rows for the same seed", () => {
    expect(renderTable(ledger, 7, 3000)).toBe(renderTable(ledger, 7, 3000));
  });

  it("renders different rows for a different seed, but the same serial ids", () => {
    const a = renderTable(ledger, 7, 3000).split("\n");
    const b = renderTable(ledger, 8, 3000).split("\n");
    expect(a).not.toEqual(b);
    expect(a.map((l) => l.split("\t")[0])).toEqual(b.map((l) => l.split("\t")[0]));
    // Every random column changes, not just one.
    for (let col = 1; col < 8; col++) {
      expect(a.map((l) => l.split("\t")[col])).not.toEqual(b.map((l) => l.split("\t")[col]));
    }
  });

  it("renders each chunk the same alone, in any order, as in a full render", () => {
    const rows = CHUNK_ROWS * 3 + 17;
    const full = renderTable(ledger, 3, rows);
    const table = compileTable(ledger, 3, rows);
    const chunks: string[] = [];
    for (const k of [3, 1, 0, 2]) {
      const cursor = table.openChunk(k);
      let text = "";
      // Tiny pieces: a chunk split over many writes must not change either.
      for (let piece = cursor.next(1000); piece; piece = cursor.next(1000)) text += piece.toString("utf8");
      chunks[k] = text;
    }
    expect(chunks.join("")).toBe(full);
    expect(full.split("\n")).toHaveLength(rows + 1);
  });

  it("keeps a column's values when another column is added", () => {
    const wider = DatasetTable.parse({
      ...ledger,
      columns: { ...ledger.columns, extra: { gen: "uniform", min: 0, max: 1 } },
    });
    const a = renderTable(ledger, 5, 500)
      .split("\n")
      .map((l) => l.split("\t")[1]);
    const b = renderTable(wider, 5, 500)
      .split("\n")
      .map((l) => l.split("\t")[1]);
    expect(b).toEqual(a);
  });

  it("seeds streams from the whole (seed, table, column, chunk) key", () => {
    const first = (seed: number, table: string, column: string, chunk: number) =>
      streamFor(seed, table, column, chunk).next();
    const base = first(1, "t", "c", 0);
    expect(first(1, "t", "c", 0)).toBe(base);
    expect(
      new Set([
        base,
        first(2, "t", "c", 0),
        first(1, "u", "c", 0),
        first(1, "t", "d", 0),
        first(1, "t", "c", 1),
      ]).size,
    ).toBe(5);
  });
});

describe("serial", () => {
  it("counts from start by step across chunk boundaries", () => {
    const v = values({ gen: "serial", start: 100, step: 5 }, CHUNK_ROWS + 10);
    expect(v.slice(0, 3)).toEqual(["100", "105", "110"]);
    v.forEach((x, i) => {
      expect(Number(x)).toBe(100 + 5 * i);
    });
  });

  it("refuses a last value past 2^53", () => {
    expect(() => values({ gen: "serial", start: Number.MAX_SAFE_INTEGER - 1 }, 10)).toThrow(GeneratorError);
  });
});

describe("uniform", () => {
  it("stays in range with exactly the requested decimals", () => {
    const v = values({ gen: "uniform", min: -1.5, max: 2.25, decimals: 2 }, 10_000);
    for (const x of v) {
      expect(x).toMatch(/^-?\d+\.\d{2}$/);
      expect(Number(x)).toBeGreaterThanOrEqual(-1.5);
      expect(Number(x)).toBeLessThanOrEqual(2.25);
    }
    // Both ends and the small negatives ("-0.05") occur.
    expect(v.some((x) => x.startsWith("-0."))).toBe(true);
    expect(new Set(v).size).toBeGreaterThan(300);
  });

  it("covers an integer range inclusively", () => {
    const v = new Set(values({ gen: "uniform", min: 1, max: 6 }, 2000));
    expect([...v].sort()).toEqual(["1", "2", "3", "4", "5", "6"]);
  });

  it("draws outliers outside the normal range, within the outlier bounds, at the requested rate", () => {
    const v = values(
      { gen: "uniform", min: 0, max: 100, outliers: { fraction: 0.05, min: -1000, max: 1_000_000 } },
      20_000,
    ).map(Number);
    const outliers = v.filter((x) => x < 0 || x > 100);
    expect(outliers.length / v.length).toBeGreaterThan(0.04);
    expect(outliers.length / v.length).toBeLessThan(0.06);
    for (const x of outliers) {
      expect(x).toBeGreaterThanOrEqual(-1000);
      expect(x).toBeLessThanOrEqual(1_000_000);
    }
  });

  it("refuses outliers that cannot fall outside the range", () => {
    expect(() =>
      values({ gen: "uniform", min: 0, max: 100, outliers: { fraction: 0.1, min: 10, max: 20 } }, 10),
    ).toThrow(/outliers/);
    expect(() => values({ gen: "uniform", min: 5, max: 1 }, 10)).toThrow(GeneratorError);
  });
});

describe("zipf", () => {
  it("makes rank 1 (key min) by far the most frequent, and the median key rare", () => {
    const v = values({ gen: "zipf", min: 1, max: 1000, s: 1.1 }, 50_000).map(Number);
    const counts = new Map<number, number>();
    for (const k of v) counts.set(k, (counts.get(k) ?? 0) + 1);
    for (const k of counts.keys()) {
      expect(k).toBeGreaterThanOrEqual(1);
      expect(k).toBeLessThanOrEqual(1000);
    }
    const top = counts.get(1) ?? 0;
    const median = counts.get(500) ?? 0;
    expect(top).toBeGreaterThan(50 * Math.max(median, 1));
    expect([...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]).toBe(1);
  });

  it("matches the Zipf probabilities P(k) = k^-s / H(n,s)", () => {
    const n = 100;
    const s = 1.3;
    const sample = zipfSampler(n, s);
    const rng = streamFor(1, "zipf", "k", 0);
    const draws = 200_000;
    const counts = new Array<number>(n + 1).fill(0);
    for (let i = 0; i < draws; i++) counts[sample(rng)]!++;
    let h = 0;
    for (let k = 1; k <= n; k++) h += k ** -s;
    for (const k of [1, 2, 3, 10, 50]) {
      const expected = (k ** -s / h) * draws;
      // Within 5 standard deviations of a binomial count.
      expect(Math.abs(counts[k]! - expected)).toBeLessThan(5 * Math.sqrt(expected) + 1);
    }
  });

  it("offsets keys by min and handles a huge key space without a table", () => {
    const v = values({ gen: "zipf", min: 1_000_000, max: 1_000_000_000, s: 1.05 }, 5000).map(Number);
    expect(Math.min(...v)).toBe(1_000_000);
    expect(Math.max(...v)).toBeLessThanOrEqual(1_000_000_000);
  });
});

describe("timestamp", () => {
  const iso = (field: string) => Date.parse(field.replace(" ", "T").replace(/\+00$/, "Z"));

  it("ascends monotonically across chunks, spread evenly from `from` to `to`", () => {
    const rows = CHUNK_ROWS * 2 + 500;
    const v = values({ gen: "timestamp", from: "2024-01-01", to: "2024-03-01", order: "ascending" }, rows);
    const ms = v.map(iso);
    for (let i = 1; i < ms.length; i++) expect(ms[i]!).toBeGreaterThanOrEqual(ms[i - 1]!);
    const from = Date.UTC(2024, 0, 1);
    const to = Date.UTC(2024, 2, 1);
    const slice = (to - from) / rows;
    // Evenly spread: row r lies within its own slice [from + r·slice, from + (r+1)·slice).
    for (const r of [0, 1, CHUNK_ROWS - 1, CHUNK_ROWS, rows >> 1, rows - 1]) {
      expect(ms[r]!).toBeGreaterThanOrEqual(from + Math.floor(r * slice));
      expect(ms[r]!).toBeLessThan(from + (r + 1) * slice);
    }
    // Jittered, not a fixed grid.
    expect(new Set(ms.slice(0, 100).map((t, r) => t - Math.floor(r * slice))).size).toBeGreaterThan(50);
  });

  it("formats ISO text with millisecond precision and an explicit UTC offset", () => {
    const [first] = values(
      { gen: "timestamp", from: "2024-02-29T23:59:59.999Z", to: "2024-02-29T23:59:59.999Z" },
      1,
    );
    expect(first).toBe("2024-02-29 23:59:59.999+00");
    const [old] = values({ gen: "timestamp", from: "0099-12-31T01:02:03Z", to: "0099-12-31T01:02:03Z" }, 1);
    expect(old).toBe("0099-12-31 01:02:03.000+00");
  });

  it("reads zone-less timestamps as UTC", () => {
    expect(parseInstant("2024-01-01 10:00:00")).toBe(Date.UTC(2024, 0, 1, 10));
    expect(parseInstant("2024-01-01T10:00")).toBe(Date.UTC(2024, 0, 1, 10));
    expect(parseInstant("2024-01-01")).toBe(Date.UTC(2024, 0, 1));
    expect(parseInstant("2024-01-01T10:00:00+02:00")).toBe(Date.UTC(2024, 0, 1, 8));
  });

  it("puts random timestamps in range and outliers in the far future at the requested rate", () => {
    const v = values(
      {
        gen: "timestamp",
        from: "2024-01-01",
        to: "2024-12-31",
        outliers: { fraction: 0.02, min: 3650, max: 36500 },
      },
      20_000,
    ).map(iso);
    const to = Date.UTC(2024, 11, 31);
    const outliers = v.filter((t) => t > to);
    expect(outliers.length / v.length).toBeGreaterThan(0.015);
    expect(outliers.length / v.length).toBeLessThan(0.025);
    for (const t of outliers) expect(t).toBeGreaterThanOrEqual(to + 3650 * 86_400_000);
    for (const t of v) expect(t).toBeGreaterThanOrEqual(Date.UTC(2024, 0, 1));
  });

  it("refuses an inverted range", () => {
    expect(() => values({ gen: "timestamp", from: "2025-01-01", to: "2024-01-01" }, 1)).toThrow(
      GeneratorError,
    );
    expect(() => values({ gen: "timestamp", from: "yesterday", to: "2024-01-01" }, 1)).toThrow(/ISO 8601/);
  });
});

describe("uuid", () => {
  it("is version-4 shaped and unique", () => {
    const v = values({ gen: "uuid" }, 10_000);
    for (const u of v)
      expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(v).size).toBe(v.length);
  });
});

describe("choice", () => {
  it("follows the weights and never picks a zero weight", () => {
    const v = values({ gen: "choice", values: { a: 3, b: 1, never: 0 } }, 20_000);
    const a = v.filter((x) => x === "a").length / v.length;
    expect(a).toBeGreaterThan(0.73);
    expect(a).toBeLessThan(0.77);
    expect(v).not.toContain("never");
    expect(new Set(v)).toEqual(new Set(["a", "b"]));
  });

  it("refuses all-zero weights", () => {
    expect(() => values({ gen: "choice", values: { a: 0 } }, 1)).toThrow(GeneratorError);
  });
});

describe("null_fraction", () => {
  it.each([
    { gen: "uniform", min: 1, max: 9 },
    { gen: "uuid" },
    { gen: "serial" },
    { gen: "text", template: "x{n}" },
  ])("nulls about 25% of 10k $gen values", (gen) => {
    const v = values({ ...gen, null_fraction: 0.25 }, 10_000);
    const nulls = v.filter((x) => x === "\\N").length;
    expect(nulls).toBeGreaterThan(2300);
    expect(nulls).toBeLessThan(2700);
  });

  it("nulls nothing at 0 and everything at 1", () => {
    expect(values({ gen: "uuid", null_fraction: 0 }, 1000)).not.toContain("\\N");
    expect(new Set(values({ gen: "uuid", null_fraction: 1 }, 1000))).toEqual(new Set(["\\N"]));
  });
});

describe("COPY text escaping", () => {
  it("escapes backslash, tab, newline and CR in constants and choices", () => {
    expect(values({ gen: "constant", value: "a\tb\nc\\d\re" }, 1)).toEqual(["a\\tb\\nc\\\\d\\re"]);
    expect(values({ gen: "constant", value: "\\N" }, 1)).toEqual(["\\\\N"]);
    expect(values({ gen: "choice", values: { "x\ty": 1 } }, 1)).toEqual(["x\\ty"]);
    expect(decodeField(values({ gen: "constant", value: "a\tb\nc\\d\re" }, 1)[0]!)).toBe("a\tb\nc\\d\re");
  });

  it("escapes template literals and options, and keeps every row on one line", () => {
    const table = DatasetTable.parse({
      name: "t",
      rows: 1,
      columns: {
        a: { gen: "text", template: "tab\there {choice:new\nline|back\\slash} {word}" },
        b: { gen: "constant", value: 1 },
      },
    });
    const lines = renderTable(table, 1, 200).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(200);
    for (const line of lines) {
      const [a, b] = line.split("\t");
      expect(line.split("\t")).toHaveLength(2);
      expect(b).toBe("1");
      expect(decodeField(a!)).toMatch(/^tab\there (new\nline|back\\slash) [a-z]+$/);
    }
  });

  it("renders booleans and numbers given as constants", () => {
    expect(values({ gen: "constant", value: true }, 1)).toEqual(["true"]);
    expect(values({ gen: "constant", value: 2.5 }, 1)).toEqual(["2.5"]);
  });
});

describe("text template", () => {
  it("fills {n}, {rand}, {uuid}, {choice}, {word}", () => {
    const v = values({ gen: "text", template: "#{n} {rand:-3:3} {uuid} {choice:a|b} {word}" }, 500);
    v.forEach((x, i) => {
      const m = /^#(\d+) (-?\d) ([0-9a-f-]{36}) (a|b) ([a-z]+)$/.exec(x);
      expect(m, x).not.toBeNull();
      expect(Number(m![1])).toBe(i + 1);
      expect(Math.abs(Number(m![2]))).toBeLessThanOrEqual(3);
    });
  });

  it("refuses an unknown or malformed placeholder", () => {
    expect(() => values({ gen: "text", template: "{nope}" }, 1)).toThrow(/unknown placeholder/);
    expect(() => values({ gen: "text", template: "{rand:5:1}" }, 1)).toThrow(GeneratorError);
    expect(() => values({ gen: "text", template: "{rand:a:b}" }, 1)).toThrow(/rand/);
  });
});

describe("json template", () => {
  it("produces valid JSON with numbers, quoted uuids/words and escaped options", () => {
    const v = values(
      {
        gen: "json",
        template:
          '{"id": {n}, "amount": {rand:1:500}, "ref": {uuid}, "w": {word}, "label": "user {word} \\"{choice:q"x|tab\there}\\"", "flag": {choice:true|false|null}}',
      },
      2000,
    );
    v.forEach((field, i) => {
      const doc = JSON.parse(decodeField(field)!);
      expect(doc.id).toBe(i + 1);
      expect(doc.amount).toBeGreaterThanOrEqual(1);
      expect(doc.amount).toBeLessThanOrEqual(500);
      expect(doc.ref).toMatch(/^[0-9a-f-]{36}$/);
      expect(doc.w).toMatch(/^[a-z]+$/);
      expect(doc.label).toMatch(/^user [a-z]+ "(q"x|tab\there)"$/);
      expect([true, false, null]).toContain(doc.flag);
    });
    // Options are raw text: their quote and tab are JSON-escaped, so the field carries no raw control character.
    expect(v.join("")).not.toMatch(/[\t\n]/);
  });

  it("refuses templates that could render invalid JSON", () => {
    expect(() => values({ gen: "json", template: '{"a": {choice:x|y}}' }, 1)).toThrow(/JSON value/);
    expect(() => values({ gen: "json", template: '{"a": {n}' }, 1)).toThrow(/not valid JSON/);
  });
});

describe("compileTable", () => {
  it("lists columns in order and bounds the row size", () => {
    const table = compileTable(ledger, 1, 100);
    expect(table.columns).toEqual(["id", "account", "amount", "at", "ref", "kind", "memo", "meta"]);
    const longest = Math.max(
      ...renderTable(ledger, 1, 100)
        .split("\n")
        .map((l) => Buffer.byteLength(l) + 1),
    );
    expect(table.maxRowBytes).toBeGreaterThanOrEqual(longest);
  });

  it("locates errors by table and column", () => {
    const bad = DatasetTable.parse({
      name: "t",
      rows: 1,
      columns: { amount: { gen: "uniform", min: 2, max: 1 } },
    });
    expect(() => compileTable(bad, 1, 10)).toThrow(
      "dataset table t, column amount: min (2) is greater than max (1)",
    );
  });
});
