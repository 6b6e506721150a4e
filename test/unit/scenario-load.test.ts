import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadScenario, type Problem, ScenarioError } from "../../src/scenario/load.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const GOOD = `version: 1
name: tiny
dataset:
  schema: {file: schema.sql}
  tables:
    - name: t
      rows: 10
      columns: {id: {gen: serial}}
migration:
  phases:
    - name: cutover
      steps:
        - name: swap
          sql: {file: cutover.sql}
          lock_timeout: 2s
invariants:
  - {check: triggers_preserved, original: t, target: t}
`;

let n = 0;
async function load(yaml: string, files: Record<string, string> = {}): Promise<Problem[]> {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "scenario.yaml"), yaml);
  const all = {
    "schema.sql": "CREATE TABLE t (id int);",
    "cutover.sql": "ALTER TABLE t RENAME TO u;",
    ...files,
  };
  for (const [f, body] of Object.entries(all)) writeFileSync(path.join(dir, f), body);
  try {
    await loadScenario(dir);
    return [];
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
}

describe("scenario loading", () => {
  it("accepts a good scenario and resolves defaults", async () => {
    const dir = path.join(root, "good");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "scenario.yaml"), GOOD);
    writeFileSync(path.join(dir, "schema.sql"), "CREATE TABLE t (id int);");
    writeFileSync(
      path.join(dir, "cutover.sql"),
      "ALTER TABLE t RENAME TO u;\nCREATE INDEX CONCURRENTLY i ON u (id);",
    );
    const rs = await loadScenario(dir);
    expect(rs.scenario.expect.verdict).toBe("pass");
    expect(rs.scenario.budgets.locks).toEqual([{ mode: "AccessExclusiveLock", relation: "*", max: 1000 }]);
    const step = rs.phases[0]!.steps[0]!;
    if (step.kind !== "sql") throw new Error("expected a SQL step");
    expect(step.lock_timeout).toBe(2000);
    expect(step.sqlText.statements.map((s) => [s.line, s.nonTransactional])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  const cases: { name: string; yaml?: string; files?: Record<string, string>; want: Partial<Problem>[] }[] = [
    {
      name: "YAML syntax error, with its line",
      yaml: "version: 1\nname: [unclosed\n",
      want: [{ line: 3, message: expect.stringContaining("YAML") as unknown as string }],
    },
    {
      name: "unknown key, pointed at the key",
      yaml: GOOD.replace("rows: 10", "rows: 10\n      colour: red"),
      want: [{ line: 8, path: "dataset.tables[0].colour", message: 'unknown key "colour"' }],
    },
    {
      name: "wrong type",
      yaml: GOOD.replace("rows: 10", "rows: ten"),
      want: [{ line: 7, path: "dataset.tables[0].rows", fix: "write a value of type number" }],
    },
    {
      name: "duration without a unit",
      yaml: GOOD.replace("lock_timeout: 2s", "lock_timeout: 2"),
      want: [
        {
          line: 15,
          path: "migration.phases[0].steps[0].lock_timeout",
          fix: expect.stringContaining('"5s"') as unknown as string,
        },
      ],
    },
    {
      name: "missing SQL file",
      yaml: GOOD.replace("cutover.sql}", "nope.sql}"),
      want: [
        { line: 14, path: "migration.phases[0].steps[0].sql.file", message: "SQL file not found: nope.sql" },
      ],
    },
    {
      name: "SQL syntax error located in its file with a caret",
      files: { "cutover.sql": "SELECT 1;\n\nALTR TABLE t RENAME TO u;" },
      want: [
        {
          file: expect.stringContaining("cutover.sql") as unknown as string,
          line: 3,
          column: 1,
          excerpt: "ALTR TABLE t RENAME TO u;\n^",
        },
      ],
    },
    {
      name: "several problems at once, schema and SQL together",
      yaml: GOOD.replace("rows: 10", "rows: -1").replace("version: 1", "version: 2"),
      files: { "cutover.sql": "SELEC 1" },
      want: [{ path: "version" }, { path: "dataset.tables[0].rows" }, { line: 1, column: 1 }],
    },
    {
      name: "expect names a check that does not exist",
      yaml: `${GOOD}expect: {verdict: fail, failing: [trigger_preserved]}\n`,
      want: [{ path: "expect.failing[0]", message: 'no check has the id "trigger_preserved"' }],
    },
    {
      name: "an expected failure must name its checks",
      yaml: `${GOOD}expect: {verdict: fail}\n`,
      want: [{ path: "expect.failing" }],
    },
    {
      name: "budget for a phase that does not exist",
      yaml: `${GOOD}budgets: {phases: {cutvoer: 2s}}\n`,
      want: [{ path: "budgets.phases.cutvoer", fix: "use one of: cutover" }],
    },
    {
      name: "a CONCURRENTLY statement in a step forced into a transaction",
      yaml: GOOD.replace("lock_timeout: 2s", "lock_timeout: 2s\n          transaction: true"),
      files: { "cutover.sql": "CREATE INDEX CONCURRENTLY i ON t (id);" },
      want: [{ path: "migration.phases[0].steps[0].transaction" }],
    },
    {
      name: "unknown generator",
      yaml: GOOD.replace("{gen: serial}", "{gen: fibonacci}"),
      want: [{ path: "dataset.tables[0].columns.id.gen" }],
    },
  ];

  const LOAD = `load:
  source: {table: t, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO t (v) VALUES (:v)"
      - {sql: "INSERT INTO t2 (v) VALUES (:v)", when: dual_write}
  rate: 100
`;
  cases.push(
    {
      name: "a when: flag that no step sets",
      yaml: GOOD + LOAD,
      want: [
        {
          path: "load.write.statements[1].when",
          message: expect.stringContaining("dual_write") as unknown as string,
        },
      ],
    },
    {
      name: "a rate of zero",
      yaml: GOOD + LOAD.replace("rate: 100", "rate: 0"),
      want: [{ path: "load.rate" }],
    },
    {
      name: "ramping stages that never send anything",
      yaml: GOOD + LOAD.replace("rate: 100", "rate: {stages: [{duration: 5s, target: 0}]}"),
      want: [{ path: "load.rate.stages" }],
    },
    {
      name: "load budgets without a load",
      yaml: `${GOOD}budgets: {load: {cutover: {write_p99: 100ms}}}\n`,
      want: [{ path: "budgets.load", fix: "add a load: section, or remove budgets.load" }],
    },
    {
      name: "a load budget with a duration that has no unit",
      yaml: `${GOOD}${LOAD}budgets: {load: {cutover: {write_p99: 100}}}\n`,
      want: [{ path: "budgets.load.cutover.write_p99" }],
    },
    {
      name: "a pause_writes step without a load",
      yaml: GOOD.replace(
        "          lock_timeout: 2s",
        "          lock_timeout: 2s\n        - {name: pause, pause_writes: true}",
      ),
      want: [{ path: "migration.phases[0].steps[1]", fix: "add a load: section, or remove the step" }],
    },
  );

  for (const c of cases) {
    it(`reports ${c.name}`, async () => {
      const problems = await load(c.yaml ?? GOOD, c.files);
      expect(problems.length).toBeGreaterThanOrEqual(c.want.length);
      for (const w of c.want) expect(problems).toContainEqual(expect.objectContaining(w));
      for (const p of problems) expect(p.file).toBeTruthy();
    });
  }

  it("reads shared SQL from a sibling _folder and refuses files anywhere else", async () => {
    mkdirSync(path.join(root, "_shared"), { recursive: true });
    writeFileSync(path.join(root, "_shared", "schema.sql"), "CREATE TABLE t (id int);");
    writeFileSync(path.join(root, "elsewhere.sql"), "SELECT 1;");
    expect(await load(GOOD.replace("{file: schema.sql}", "{file: ../_shared/schema.sql}"))).toEqual([]);
    const refused = await load(GOOD.replace("{file: schema.sql}", "{file: ../elsewhere.sql}"));
    expect(refused).toContainEqual(
      expect.objectContaining({
        path: "dataset.schema.file",
        message: expect.stringContaining("outside the scenario folder"),
      }),
    );
  });

  it("says what to pass when the folder does not exist", async () => {
    await expect(loadScenario(path.join(root, "missing"))).rejects.toThrow(/no such scenario folder/);
  });
});
