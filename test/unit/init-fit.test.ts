/**
 * Fitting generators to pg_stats (pure) and the `histogram` generator that reproduces its model.
 */
import { describe, expect, it } from "vitest";
import type { TableInfo } from "../../src/catalog/types.ts";
import { compareStatistics } from "../../src/init/fidelity.ts";
import { fitTable, gridSize, isoInstant, syntheticArray, syntheticValue } from "../../src/init/fit.ts";
import { retarget } from "../../src/init/strategies/carry-over.ts";
import { loadSqlParser } from "../../src/scenario/sql.ts";
import { choosePartitionKey } from "../../src/init/scaffold.ts";
import type { ColumnStats, SourceTable } from "../../src/init/source.ts";
import { Generator } from "../../src/scenario/schema.ts";
import { renderColumn } from "../../src/seed/generators.ts";

function render(gen: unknown, rows: number): string[] {
  return renderColumn(Generator.parse(gen), { seed: 7, table: "t", column: "c", rows });
}

function table(
  columns: { name: string; type: string; notNull?: boolean }[],
  stats: ColumnStats[],
): SourceTable {
  const info = {
    schema: "public",
    name: "t",
    qualifiedName: "public.t",
    columns: columns.map((c, i) => ({
      name: c.name,
      num: i + 1,
      type: c.type,
      notNull: c.notNull ?? false,
      default: null,
      identity: null,
      generated: null,
      sequence: null,
    })),
    constraints: [],
    indexes: [],
    triggers: [],
    foreignKeys: { outgoing: [], incoming: [] },
    partitioning: null,
    partitionOf: null,
  } as unknown as TableInfo;
  return { info, reltuples: 10000, stats: new Map(stats.map((s) => [s.column, s])), enums: new Map() };
}

const stat = (column: string, s: Partial<ColumnStats>): ColumnStats => ({
  column,
  nullFrac: 0,
  avgWidth: 8,
  nDistinct: -1,
  mcv: null,
  mcf: null,
  histogram: null,
  correlation: null,
  ...s,
});

describe("histogram generator", () => {
  it("draws the common values at their frequencies and the rest inside the bounds", () => {
    const values = render({ gen: "histogram", common: { "7": 0.5 }, bounds: [100, 200, 300] }, 20000);
    const sevens = values.filter((v) => v === "7").length / values.length;
    expect(sevens).toBeGreaterThan(0.48);
    expect(sevens).toBeLessThan(0.52);
    const rest = values.filter((v) => v !== "7").map(Number);
    expect(Math.min(...rest)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...rest)).toBeLessThanOrEqual(300);
    // Equal-frequency buckets: half the rest below the middle bound.
    const low = rest.filter((v) => v < 200).length / rest.length;
    expect(Math.abs(low - 0.5)).toBeLessThan(0.03);
  });

  it("ascending timestamps never decrease and span the bounds", () => {
    const values = render(
      {
        gen: "histogram",
        bounds: ["2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"],
        order: "ascending",
      },
      5000,
    );
    expect([...values].sort()).toEqual(values);
    expect(values[0]!.startsWith("2024-01-01")).toBe(true);
    expect(values.at(-1)!.startsWith("2024-12-31")).toBe(true);
  });

  it("snaps to `distinct` grid points", () => {
    const values = render({ gen: "histogram", bounds: [0, 1_000_000], distinct: 50 }, 5000);
    expect(new Set(values).size).toBeLessThanOrEqual(51);
    expect(new Set(values).size).toBeGreaterThan(40);
  });

  it("refuses bounds that mix numbers and timestamps", () => {
    expect(() => render({ gen: "histogram", bounds: [1, "2024-01-01"] }, 10)).toThrow(
      /all numbers or all ISO/,
    );
  });
});

describe("fitting pg_stats", () => {
  it("turns a unique ascending integer into serial and a correlated timestamp into ascending", () => {
    const fitted = fitTable(
      table(
        [
          { name: "id", type: "bigint", notNull: true },
          { name: "at", type: "timestamp with time zone", notNull: true },
        ],
        [
          stat("id", { histogram: ["1", "5000", "10000"], correlation: 1 }),
          stat("at", { histogram: ["2024-01-01 00:00:00+00", "2025-01-01 00:00:00+00"], correlation: 0.99 }),
        ],
      ),
      { keepSampleValues: false, rows: 10000 },
    );
    expect(fitted.columns.id).toEqual({ gen: "serial", start: 1, step: 1 });
    expect(fitted.columns.at).toEqual({
      gen: "histogram",
      bounds: ["2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"],
      order: "ascending",
    });
  });

  it("replaces text values by synthetic ones of the same length, keeping frequencies and NULLs", () => {
    const s = stat("email", {
      nullFrac: 0.2,
      nDistinct: 500,
      avgWidth: 18,
      mcv: ["alice@example.com"],
      mcf: [0.4],
    });
    const fitted = fitTable(table([{ name: "email", type: "text" }], [s]), {
      keepSampleValues: false,
      rows: 10000,
    });
    const gen = fitted.columns.email as {
      common: Record<string, number>;
      null_fraction: number;
      template: string;
    };
    expect(JSON.stringify(gen)).not.toContain("alice");
    expect(Object.keys(gen.common)[0]).toHaveLength("alice@example.com".length);
    // 0.4 of all rows is 0.5 of the non-null ones (NULLs are drawn first).
    expect(Object.values(gen.common)[0]).toBeCloseTo(0.5);
    expect(gen.null_fraction).toBe(0.2);
    expect(gen.template).toMatch(/\{rand:1:499\}$/);
    const kept = fitTable(table([{ name: "email", type: "text" }], [s]), {
      keepSampleValues: true,
      rows: 10000,
    });
    expect(JSON.stringify(kept.columns.email)).toContain("alice@example.com");
  });

  it("sizes the grid so that `rows` draws show the distinct count", () => {
    const m = gridSize(30000, 40000)!;
    expect(m * (1 - Math.exp(-40000 / m))).toBeCloseTo(30000, -1);
    expect(gridSize(39900, 40000)).toBeUndefined();
  });

  it("reads PostgreSQL's UTC timestamps", () => {
    expect(isoInstant("2024-01-01 10:00:00.5+00")).toBe("2024-01-01T10:00:00.500Z");
    expect(isoInstant("2024-01-01")).toBe("2024-01-01T00:00:00.000Z");
    expect(isoInstant("nonsense")).toBeUndefined();
    expect(syntheticValue(0, 5)).toBe("v1xxx");
  });
});

describe("partition key and fidelity", () => {
  it("refuses a table with no timestamp or integer column without NULLs", () => {
    const t = table([{ name: "name", type: "text", notNull: true }], [stat("name", {})]);
    const r = choosePartitionKey(t);
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toMatch(/no usable partition key/);
  });

  it("flags a column whose null fraction or skew is outside the tolerance", () => {
    const src = table(
      [{ name: "c", type: "text" }],
      [stat("c", { nullFrac: 0.3, nDistinct: 10, mcf: [0.5] })],
    );
    const fit = table(
      [{ name: "c", type: "text" }],
      [stat("c", { nullFrac: 0.1, nDistinct: 10, mcf: [0.2] })],
    );
    const r = compareStatistics([src], [fit], { "public.t": 10000 });
    expect(r.flagged).toEqual(["public.t.c"]);
    expect(r.tables[0]!.columns[0]!.problems.join(" ")).toMatch(/null_frac.*top value/);
    const same = compareStatistics([src], [src], { "public.t": 10000 });
    expect(same.flagged).toEqual([]);
  });
});

describe("real schemas (issue 15): arrays, tsvector, domains, composite keys, the partition key", () => {
  it("generates a domain as its base type, arrays from their common values and tsvector as words", () => {
    const t = table(
      [
        { name: "year", type: "year" },
        { name: "features", type: "text[]" },
        { name: "doc", type: "tsvector", notNull: true },
      ],
      [
        stat("year", { nDistinct: 1, mcv: ["2006"], mcf: [1] }),
        stat("features", {
          nDistinct: 3,
          mcv: ['{Trailers,"Deleted Scenes"}', "{Trailers}", "{}"],
          mcf: [0.4, 0.3, 0.2],
        }),
        stat("doc", { nDistinct: -1, avgWidth: 40 }),
      ],
    );
    t.domains = new Map([["year", "integer"]]);
    const fit = fitTable(t, { keepSampleValues: false, rows: 1000 });
    expect(render(fit.columns.year, 10)).toEqual(Array(10).fill("2006"));
    const arrays = new Set(render(fit.columns.features, 2000));
    // The same element counts, none of the source's text, shares renormalised over the common arrays.
    expect([...arrays].sort()).toEqual(["{e0x0,e0x1}", "{e1x0}", "{}"]);
    expect(syntheticArray('{"a,b",c}', 4)).toBe("{e4x0,e4x1}");
    const docs = render(fit.columns.doc, 50);
    expect(new Set(docs).size).toBe(50);
    for (const d of docs) expect(d).toMatch(/^\w+$/); // one lexeme: a valid tsvector
  });

  it("turns a composite primary key into unique tuples inside the source's ranges", () => {
    const t = table(
      [
        { name: "actor_id", type: "integer", notNull: true },
        { name: "film_id", type: "integer", notNull: true },
      ],
      [
        stat("actor_id", { nDistinct: 200, histogram: ["1", "100", "200"] }),
        stat("film_id", { nDistinct: 997, histogram: ["1", "500", "1000"] }),
      ],
    );
    (t.info.constraints as unknown[]).push({ type: "p", local: true, columns: ["actor_id", "film_id"] });
    const fit = fitTable(t, { keepSampleValues: false, rows: 5462 });
    const a = render(fit.columns.actor_id, 5462).map(Number);
    const f = render(fit.columns.film_id, 5462).map(Number);
    const pairs = new Set(a.map((x, i) => `${x},${f[i]}`));
    expect(pairs.size).toBe(5462);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...a)).toBeLessThanOrEqual(200);
    expect(Math.min(...f)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...f)).toBeLessThanOrEqual(1000);
    expect(fit.notes.join("\n")).toMatch(/\(actor_id, film_id\): composite key: unique tuples/);
  });

  it("ranks the partition key: not one a trigger sets, not one with a handful of values; says why", () => {
    const t = table(
      [
        { name: "id", type: "integer", notNull: true },
        { name: "rented_at", type: "timestamp with time zone", notNull: true },
        { name: "last_update", type: "timestamp with time zone", notNull: true },
        { name: "create_date", type: "date", notNull: true },
      ],
      [
        stat("id", { histogram: ["1", "8000", "16044"], correlation: 1 }),
        stat("rented_at", {
          nDistinct: -0.98,
          histogram: ["2022-01-01 00:00:00+00", "2022-08-01 00:00:00+00"],
          correlation: 0.95,
        }),
        stat("last_update", {
          nDistinct: 3,
          mcv: ["2022-02-16 02:30:53+00", "2022-02-15 10:09:17+00", "2022-02-15 09:45:30+00"],
          correlation: 1,
        }),
        stat("create_date", { nDistinct: 1, mcv: ["2022-02-14"], correlation: 1 }),
      ],
    );
    t.triggerSet = new Map([["last_update", "last_updated"]]);
    const picked = choosePartitionKey(t);
    if (picked instanceof Error) throw picked;
    expect(picked.column.name).toBe("rented_at");
    expect(picked.why).toMatch(/^rented_at: NOT NULL, follows the insertion order/);
    expect(picked.why).toMatch(/last_update \(set by trigger last_updated/);
    const forced = choosePartitionKey(t, "id");
    if (forced instanceof Error) throw forced;
    expect(forced.column.name).toBe("id");
    // A unique ascending integer's bound lies above what its serial generator reaches at the source's size.
    expect(forced.max).toBeGreaterThanOrEqual(10000);
    expect(choosePartitionKey(t, "nope")).toBeInstanceOf(Error);
  });
});

describe("views follow the table (issue 15)", () => {
  it("re-targets a view's query by the parser's locations, keeping the old name as alias", async () => {
    await loadSqlParser();
    const def =
      "SELECT rental.rental_id, 'rental' AS label, r2.x FROM rental JOIN public.rental r2 ON true " +
      "JOIN rental_history h ON true";
    expect(retarget(def, "public.rental", "public.rental_partitioned")).toBe(
      `SELECT rental.rental_id, 'rental' AS label, r2.x FROM "public"."rental_partitioned" "rental" ` +
        `JOIN "public"."rental_partitioned" r2 ON true JOIN rental_history h ON true`,
    );
  });
});
