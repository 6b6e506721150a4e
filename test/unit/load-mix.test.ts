/**
 * The write mix (issue 15, item 5): the engine's weighted pick is deterministic from the seed and converges to
 * the weights; the format refuses a bad weight, an empty mix, a duplicate name and a write with both
 * `statements` and `mix`, each at its file:line; `statements` stays a mix of one.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mergeLoadReports } from "../../src/load/merge.ts";
import { MixTally, WeightedPick } from "../../src/load/mix.ts";
import type { LoadReport } from "../../src/report/model.ts";
import { loadScenario, type Problem, ScenarioError } from "../../src/scenario/load.ts";
import { writeOperations } from "../../src/scenario/schema.ts";

describe("WeightedPick", () => {
  const draw = (weights: number[], seed: number, n: number) => {
    const p = new WeightedPick(weights, seed);
    return Array.from({ length: n }, () => p.next());
  };

  it("gives the same sequence for the same seed, another for another seed", () => {
    expect(draw([70, 25, 5], 7, 500)).toEqual(draw([70, 25, 5], 7, 500));
    expect(draw([70, 25, 5], 7, 500)).not.toEqual(draw([70, 25, 5], 8, 500));
  });

  it("picks each operation at its share of the weights", () => {
    const n = 100_000;
    const counts = [0, 0, 0];
    for (const i of draw([70, 25, 5], 1, n)) counts[i]!++;
    expect(counts[0]! / n).toBeCloseTo(0.7, 2);
    expect(counts[1]! / n).toBeCloseTo(0.25, 2);
    expect(counts[2]! / n).toBeCloseTo(0.05, 2);
  });

  it("a mix of one always picks it; weights need not sum to 100", () => {
    expect(new Set(draw([3], 1, 100))).toEqual(new Set([0]));
    const counts = [0, 0];
    for (const i of draw([0.5, 1.5], 3, 40_000)) counts[i]!++;
    expect(counts[1]! / 40_000).toBeCloseTo(0.75, 2);
  });

  it("refuses an empty mix or a weight that is not above zero", () => {
    expect(() => new WeightedPick([], 1)).toThrow(RangeError);
    expect(() => new WeightedPick([1, 0], 1)).toThrow(RangeError);
    expect(() => new WeightedPick([1, Number.NaN], 1)).toThrow(RangeError);
  });
});

describe("per-operation counts", () => {
  it("reports shares and sums the migration's and the rollback's counts by name", () => {
    const t = new MixTally(2);
    t.intended[0] = 7;
    t.ok[0] = 6;
    t.errors[0] = 1;
    t.intended[1] = 3;
    t.ok[1] = 3;
    const ops = t.report([
      { name: "insert", weight: 70 },
      { name: "delete", weight: 30 },
    ]);
    expect(ops[0]).toEqual({
      name: "insert",
      weight: 70,
      share: 0.7,
      intended: 7,
      ok: 6,
      errors: 1,
      dropped: 0,
    });
    const base = {
      totals: { errors_by_sqlstate: {} },
      ack: {},
      source: {},
      windows: [],
      series: [],
      unavailability: [],
      flags: [],
    };
    const a = { ...base, operations: ops } as unknown as LoadReport;
    const merged = mergeLoadReports(a, a);
    expect(merged.operations?.map((o) => [o.name, o.intended, o.ok])).toEqual([
      ["insert", 14, 12],
      ["delete", 6, 6],
    ]);
  });
});

const root = mkdtempSync(path.join(tmpdir(), "rehearse-unit-mix-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HEAD = `version: 1
name: mix
dataset:
  schema: {file: schema.sql}
  tables:
    - {name: t, rows: 10, columns: {id: {gen: serial}}}
migration:
  phases:
    - name: m
      steps:
        - {name: s, sql: "SELECT 1"}
load:
  source: {table: t, key: id, columns: [id]}
  rate: 10
  write:
`;

let n = 0;
async function problems(write: string): Promise<Problem[]> {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "scenario.yaml"), HEAD + write);
  writeFileSync(path.join(dir, "schema.sql"), "CREATE TABLE t (id int);");
  try {
    await loadScenario(dir);
    return [];
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
}

// HEAD has 15 lines: the write section's first line is 16.
describe("load.write.mix in scenario.yaml", () => {
  it("accepts a mix and keeps statements: as a mix of one", async () => {
    expect(
      await problems(`    mix:
      - {name: insert, weight: 70, statements: [{sql: "INSERT INTO t VALUES (:id)"}]}
      - {name: delete, weight: 30, statements: [{sql: "DELETE FROM t WHERE id = :id"}]}
`),
    ).toEqual([]);
    expect(await problems(`    statements: [{sql: "INSERT INTO t VALUES (:id)"}]\n`)).toEqual([]);
    expect(
      writeOperations({ write: { statements: [{ sql: "x" }], transaction: true, ack_key: "new_uuid" } }),
    ).toEqual([
      { name: "write", weight: 1, statements: [{ sql: "x" }], at: ["load", "write", "statements"] },
    ]);
  });

  it.each([
    {
      name: "a weight of zero",
      write: `    mix:\n      - {name: insert, weight: 0, statements: [{sql: "SELECT 1"}]}\n`,
      want: { line: 17, path: "load.write.mix[0].weight", message: expect.stringContaining("above zero") },
    },
    {
      name: "a weight that is not a number",
      write: `    mix:\n      - {name: insert, weight: lots, statements: [{sql: "SELECT 1"}]}\n`,
      want: { line: 17, path: "load.write.mix[0].weight", message: expect.stringContaining("weight") },
    },
    {
      name: "an empty mix",
      write: `    mix: []\n`,
      want: { line: 16, path: "load.write.mix", fix: "give at least 1 item" },
    },
    {
      name: "an operation without statements",
      write: `    mix:\n      - {name: insert, weight: 1, statements: []}\n`,
      want: { line: 17, path: "load.write.mix[0].statements" },
    },
    {
      name: "both statements and mix",
      write: `    statements: [{sql: "SELECT 1"}]\n    mix:\n      - {name: a, weight: 1, statements: [{sql: "SELECT 1"}]}\n`,
      want: {
        line: 18,
        path: "load.write.mix",
        message: expect.stringContaining("both statements: and mix:"),
      },
    },
    {
      name: "neither statements nor mix",
      write: `    transaction: true\n`,
      want: { path: "load.write.statements", message: expect.stringContaining('"statements" (or "mix")') },
    },
    {
      name: "two operations with one name",
      write: `    mix:\n      - {name: a, weight: 1, statements: [{sql: "SELECT 1"}]}\n      - {name: a, weight: 1, statements: [{sql: "SELECT 2"}]}\n`,
      want: { line: 18, path: "load.write.mix[1].name", message: expect.stringContaining('named "a"') },
    },
    {
      name: "a flag no step sets, inside an operation",
      write: `    mix:\n      - name: a\n        weight: 1\n        statements:\n          - {sql: "SELECT 1", when: nope}\n`,
      want: {
        line: 20,
        path: "load.write.mix[0].statements[0].when",
        message: expect.stringContaining("nope"),
      },
    },
  ])("refuses $name, with its line", async ({ write, want }) => {
    const got = await problems(write);
    expect(got).toEqual([
      expect.objectContaining({ file: expect.stringContaining("scenario.yaml"), ...want }),
    ]);
  });
});
