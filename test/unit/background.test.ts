/**
 * The `background:` section as the loader reads it (where sessions start, what each kind needs, every problem
 * located in scenario.yaml with a fix) and the one line each run gets in summary.md and the terminal.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backgroundLine } from "../../src/report/background-view.ts";
import type { BackgroundRun } from "../../src/report/model.ts";
import { loadScenario, type Problem, ScenarioError } from "../../src/scenario/load.ts";
import type { ResolvedScenario } from "../../src/scenario/resolved.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-unit-background-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = (background: string) => `version: 1
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
          sql: "ALTER TABLE t RENAME TO u"
background:
${background}`;

let n = 0;
async function load(background: string): Promise<ResolvedScenario | Problem[]> {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "scenario.yaml"), base(background));
  writeFileSync(path.join(dir, "schema.sql"), "CREATE TABLE t (id int);");
  try {
    return await loadScenario(dir);
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
}

async function problems(background: string): Promise<Problem[]> {
  const r = await load(background);
  if (!Array.isArray(r)) throw new Error("expected problems, the scenario loaded");
  return r;
}

describe("background: in scenario.yaml", () => {
  it("resolves sessions at a phase, at a step and on a schedule, with duration ranges", async () => {
    const rs = await load(`  - {name: report, kind: long_read, table: t, duration: 3s, at: cutover/swap}
  - {name: idle, kind: idle_in_transaction, table: t, duration: 1m, at: cutover}
  - {name: dump, kind: export, table: t, every: 30s, duration: {min: 1s, max: 5s}}
  - {name: mine, kind: sql, sql: "BEGIN; LOCK TABLE t IN SHARE MODE", duration: 2s, at: cutover}
`);
    if (Array.isArray(rs)) throw new Error(rs.map((p) => p.message).join("\n"));
    expect(rs.background.map((b) => [b.name, b.at ?? b.every, b.duration])).toEqual([
      ["report", "cutover/swap", 3000],
      ["idle", "cutover", 60_000],
      ["dump", 30_000, { min: 1000, max: 5000 }],
      ["mine", "cutover", 2000],
    ]);
    expect(rs.background[3]!.sqlText!.statements).toHaveLength(2);
    expect(rs.background[0]!.rows).toBe(1000);
  });

  it("refuses a start naming no phase or step, listing the ones there are", async () => {
    const [p] = await problems("  - {name: r, kind: long_read, table: t, duration: 3s, at: cutover/swp}\n");
    expect(p).toMatchObject({
      path: "background[0].at",
      line: 16,
      message: 'no phase or step "cutover/swp" in the migration',
    });
    expect(p!.fix).toMatch(/cutover, cutover\/swap/);
  });

  it("refuses neither or both of at: and every:", async () => {
    const none = await problems("  - {name: r, kind: long_read, table: t, duration: 3s}\n");
    expect(none[0]!.message).toMatch(/neither at: nor every:/);
    const both = await problems(
      "  - {name: r, kind: long_read, table: t, duration: 3s, at: cutover, every: 5s}\n",
    );
    expect(both[0]!.message).toMatch(/both at: and every:/);
    expect(both[0]!.fix).toMatch(/not both/);
  });

  it("refuses a duration without a unit, with the fix", async () => {
    const [p] = await problems("  - {name: r, kind: long_read, table: t, duration: 5, at: cutover}\n");
    expect(p).toMatchObject({ path: "background[0].duration", line: 16 });
    expect(p!.fix).toMatch(/unit/);
  });

  it("refuses SQL that does not parse, at its line", async () => {
    const [p] = await problems('  - {name: r, kind: sql, sql: "SELEC 1", duration: 5s, at: cutover}\n');
    expect(p).toMatchObject({ path: "background[0].sql", line: 16 });
    expect(p!.message).toMatch(/SQL syntax error/);
  });

  it("refuses a kind without its table, sql on another kind, sql kind without sql, a duplicate name", async () => {
    const ps = await problems(`  - {name: a, kind: vacuum, duration: 5s, at: cutover}
  - {name: b, kind: analyze, table: t, sql: "SELECT 1", duration: 5s, at: cutover}
  - {name: c, kind: sql, duration: 5s, at: cutover}
  - {name: c, kind: long_read, table: t, duration: {min: 5s, max: 1s}, at: cutover}
`);
    expect(ps.map((p) => p.message)).toEqual([
      'background session "a" of kind vacuum needs the table it works on',
      "sql: is only for kind sql; a analyze session runs its own statements",
      'background session "c" of kind sql has no sql',
      'two background sessions share the name "c"',
      "the duration range runs backwards (min 5000 ms > max 1000 ms)",
    ]);
    expect(ps.every((p) => p.fix)).toBe(true);
  });
});

describe("the report line", () => {
  const run: BackgroundRun = {
    name: "reporting",
    kind: "long_read",
    table: "ledger",
    occurrence: 1,
    trigger: "cutover/swap",
    pid: 42,
    planned_ms: 5000,
    started_ms: 21_500,
    ended_ms: 26_500,
    ended: "completed",
    held: ["AccessShareLock on public.ledger"],
    blocked: { migration_wait_ms: 4800, load_backends: 2, max_waiters: 3, others: [] },
    waited_ms: 0,
  };

  it("says when it ran, what it held and who waited behind it", () => {
    expect(backgroundLine(run)).toBe(
      "reporting (long_read on ledger, before cutover/swap): at 21.5 s → 26.5 s (5.0 s, completed); " +
        "held AccessShareLock on public.ledger; blocked the migration for 4.8 s, 2 load backends (at most 3 waiting at once)",
    );
  });

  it("a scheduled run ended by the harness, with an error and nothing blocked", () => {
    const line = backgroundLine({
      ...run,
      trigger: "schedule",
      occurrence: 3,
      ended: "ended_by_harness",
      held: [],
      blocked: { migration_wait_ms: 0, load_backends: 0, max_waiters: 0, others: [] },
      waited_ms: 300,
    });
    expect(line).toMatch(/scheduled, run 3/);
    expect(line).toMatch(/ended by the harness/);
    expect(line).toMatch(/blocked nothing; itself waited up to 300 ms for a lock/);
  });
});
