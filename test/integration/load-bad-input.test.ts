/**
 * A load section that does not fit the database is bad input: the rehearsal stops before the migration with
 * exit 2, naming scenario.yaml, the field and the fix — never a pass, never a half-run migration.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-load-bad-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCHEMA = `CREATE TABLE items (id bigserial PRIMARY KEY, k uuid, v int NOT NULL);
CREATE TABLE empty_items (id bigserial PRIMARY KEY, v int);
CREATE TABLE one_item (id bigserial PRIMARY KEY, v int);
INSERT INTO one_item (v) VALUES (1);`;

const base = (load: string) => `version: 1
name: load-bad
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 500
      columns: {id: {gen: serial}, v: {gen: uniform, min: 1, max: 9}}
migration:
  phases:
    - name: cutover
      steps:
        - {name: touch, sql: "ALTER TABLE items ADD COLUMN note text"}
${load}`;

const LOAD = `load:
  source: {table: items, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO items (k, v) VALUES (:new_uuid::uuid, :v)"
  rate: 50
  warmup: 200ms
  cooldown: 100ms
`;

let n = 0;
async function run(load: string) {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "scenario.yaml"), base(load));
  writeFileSync(path.join(dir, "schema.sql"), SCHEMA);
  return rehearse({ scenarioPath: dir, logger: silentLogger });
}

describe("bad load input exits 2 before the migration", () => {
  it("a good load section runs (the baseline the cases below break)", async () => {
    const r = await run(LOAD);
    expect(r.reason ?? "").toBe("");
    expect(r.status).toBe("passed");
    expect(r.load?.totals.writes_ok).toBeGreaterThan(0);
  });

  const cases: { name: string; load: string; want: RegExp[] }[] = [
    {
      name: "a write template naming a missing column",
      load: LOAD.replace("(k, v)", "(k, nope)"),
      want: [/scenario\.yaml:\d+:\d+: load\.write\.statements\[0\]\.sql:/, /column "nope"/, /fix:/],
    },
    {
      name: "a template parameter that is neither a history column nor generated",
      load: LOAD.replace(":v)", ":vv)"),
      want: [/load\.write\.statements\[0\]\.sql: unknown parameter :vv/, /:new_uuid/],
    },
    {
      name: "a source that returns no rows",
      load: LOAD.replace("table: items", "table: empty_items"),
      want: [/load\.source\.table: "empty_items" has no rows/, /fix: seed the table/],
    },
    {
      name: "more load segments than the history has rows for",
      load: LOAD.replace("table: items", "table: one_item").replace(
        "rate: 50",
        "rate: 50\n  connections: 4\n  workers: 3",
      ),
      want: [
        /load\.workers: "one_item" has history for 1 of the 3 load segments/,
        /fix: set load\.workers: 1 \(or fewer\)/,
      ],
    },
    {
      name: "a source column that does not exist",
      load: LOAD.replace("columns: [v]", "columns: [w]"),
      want: [/load\.source\.columns\[0\]: "items" has no column "w"/],
    },
    {
      name: "a when: flag that no step sets",
      load: LOAD.replace(
        '      - sql: "INSERT',
        '      - {sql: "INSERT INTO items (v) VALUES (:v)", when: dual_write}\n      - sql: "INSERT',
      ),
      want: [/load\.write\.statements\[0\]\.when: no step ever sets the flag "dual_write"/],
    },
    {
      name: "a write that fails every time (the load never ran, so the run proves nothing)",
      load: LOAD.replace(":v)", "NULL)").replace("columns: [v]", "columns: [v]"),
      want: [/the load failed before the migration started: \d+ of \d+ writes in the warmup failed \(23502/],
    },
    {
      name: "a rate of zero",
      load: LOAD.replace("rate: 50", "rate: 0"),
      want: [/load\.rate: a rate above zero/],
    },
  ];

  for (const c of cases) {
    it(`reports ${c.name}`, async () => {
      const r = await run(c.load);
      expect(r.status).toBe("inconclusive");
      expect(r.exit_code).toBe(2);
      for (const w of c.want) expect(r.reason).toMatch(w);
      // Bad input found before the migration: nothing of it ran.
      if (!c.name.startsWith("a write that fails")) {
        expect(r.steps.filter((s) => s.status !== "not_executed")).toEqual([]);
      }
    });
  }
});
