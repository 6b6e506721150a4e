/**
 * A backfill step that cannot be right is refused when the scenario is loaded, before any clone starts:
 * each problem names scenario.yaml's file and line, the path to the field and a fix.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadScenario, ScenarioError } from "../../src/scenario/load.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-backfill-bad-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BACKFILL = `          backfill:
            source: items
            target: items_new
            key: id
            workers: 2
`;

const scenario = (backfill: string, target = "") => `version: 1
name: backfill-bad
dataset:
  schema: {file: schema.sql}
  tables: [{name: items, rows: 10, columns: {id: {gen: serial}}}]
${target}migration:
  phases:
    - name: copy
      steps:
        - {name: make, sql: "CREATE TABLE items_new (id bigint)"}
        - name: fill
${backfill}`;

let n = 0;
async function load(yaml: string): Promise<string> {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "scenario.yaml"), yaml);
  writeFileSync(path.join(dir, "schema.sql"), "CREATE TABLE items (id bigint PRIMARY KEY);");
  try {
    await loadScenario(dir);
    return "";
  } catch (err) {
    if (err instanceof ScenarioError) return err.message;
    throw err;
  }
}

describe("bad backfill input is refused at load time", () => {
  it("a good backfill step loads (the baseline the cases below break)", async () => {
    expect(await load(scenario(BACKFILL))).toBe("");
  });

  const STEP = "migration\\.phases\\[0\\]\\.steps\\[1\\]\\.backfill";
  const cases: { name: string; yaml: string; want: RegExp[] }[] = [
    {
      name: "overlapping worker ranges",
      yaml: scenario(
        BACKFILL.replace(
          "workers: 2\n",
          "workers: 2\n            ranges: [{from: 0, to: 1000}, {from: 500, to: 2000}]\n",
        ),
      ),
      want: [
        new RegExp(
          `scenario\\.yaml:\\d+:\\d+: ${STEP}\\.ranges\\[1\\]: worker ranges overlap: \\[0, 1000\\) and \\[500, 2000\\) would copy keys 500…999 twice`,
        ),
        /fix: make the ranges disjoint/,
      ],
    },
    {
      name: "from not below to",
      yaml: scenario(
        BACKFILL.replace("workers: 2\n", "workers: 2\n            from: 5000\n            to: 5000\n"),
      ),
      want: [
        new RegExp(
          `scenario\\.yaml:\\d+:\\d+: ${STEP}\\.to: the key range is empty: from 5000 is not below to 5000`,
        ),
        /fix: set to above from \(the range is \[from, to\)\)/,
      ],
    },
    {
      name: "custom sql without :lo",
      yaml: scenario(
        BACKFILL.replace(
          "workers: 2\n",
          'workers: 2\n            sql: "INSERT INTO items_new SELECT id FROM items WHERE id < :hi"\n',
        ),
      ),
      want: [
        new RegExp(
          `scenario\\.yaml:\\d+:\\d+: ${STEP}\\.sql: the batch SQL does not use :lo, so batches would not be bounded by their key range`,
        ),
        /fix: bound the batch with {2}WHERE <key> >= :lo AND <key> < :hi/,
      ],
    },
    {
      name: "a replica_lag throttle with no replica",
      yaml: scenario(
        BACKFILL.replace("workers: 2\n", "workers: 2\n            throttle: {replica_lag: {max: 10s}}\n"),
      ),
      want: [
        new RegExp(
          `scenario\\.yaml:\\d+:\\d+: ${STEP}\\.throttle\\.replica_lag: the throttle waits on replica lag, but the scenario configures no replica`,
        ),
        /fix: set target\.replica: true, or remove throttle\.replica_lag/,
      ],
    },
    {
      name: "a backfill with no key",
      yaml: scenario(BACKFILL.replace("            key: id\n", "")),
      want: [
        new RegExp(`scenario\\.yaml:\\d+:\\d+: ${STEP}\\.key: missing required field "key"`),
        /fix: name the integer column the key ranges are cut on, e\.g\. key: id/,
      ],
    },
    {
      name: "a kill_backfill_worker fault with no backfill after it",
      yaml: `${scenario(BACKFILL)}        - {name: kill, fault: kill_backfill_worker}\n`,
      want: [
        /scenario\.yaml:\d+:\d+: migration\.phases\[0\]\.steps\[2\]\.fault: fault kill_backfill_worker arms the next backfill step, but no backfill step follows it/,
        /fix: put the fault step before the backfill step/,
      ],
    },
  ];

  for (const c of cases) {
    it(`reports ${c.name}`, async () => {
      const msg = await load(c.yaml);
      for (const w of c.want) expect(msg).toMatch(w);
    });
  }

  it("points at the offending line", async () => {
    const yaml = scenario(
      BACKFILL.replace(
        "workers: 2\n",
        "workers: 2\n            ranges: [{from: 0, to: 1000}, {from: 500, to: 2000}]\n",
      ),
    );
    const line = yaml.split("\n").findIndex((l) => l.includes("ranges:")) + 1;
    expect(await load(yaml)).toMatch(new RegExp(`scenario\\.yaml:${line}:\\d+: `));
  });

  it("a replica_lag throttle is accepted once the target has a replica", async () => {
    const yaml = scenario(
      BACKFILL.replace("workers: 2\n", "workers: 2\n            throttle: {replica_lag: {max: 10s}}\n"),
      "target: {replica: true}\n",
    );
    expect(await load(yaml)).toBe("");
  });
});
