/**
 * Issue 15's acceptance on schemas nobody on this project wrote: for every table of Pagila and pgbench's
 * (`pgbench -i -s 5`), with no strategy and with each built-in one, `rehearse init` either refuses — exit-2
 * InitError naming the obstacle, with a fix, nothing written — or writes a scenario that passes as generated,
 * at the default rows and at the source's row count. An error of any other kind (an "internal error") fails.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFile } from "node:fs/promises";
import { STRATEGIES } from "../../src/init/scaffold.ts";
import { initCase, rehearseCase, rowCounts } from "../support/init-matrix.ts";
import { pagilaMissing, type PagilaSource, startPagilaSource } from "../support/pagila-source.ts";

const SKIP = await pagilaMissing();
const TABLES = [
  ...["actor", "address", "category", "city", "country", "customer", "film", "film_actor", "film_category"],
  ...["inventory", "language", "payment", "rental", "staff", "store"],
  ...["pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers"],
];
let source: PagilaSource | undefined;
let root = "";
let counts = new Map<string, number>();
const table: string[] = [];

beforeAll(async () => {
  if (SKIP) return;
  source = await startPagilaSource({ pgbench: true });
  root = await mkdtemp(path.join(tmpdir(), "rehearse-init-matrix-"));
  const db = new pg.Client(source.clone.connectionConfig());
  await db.connect();
  counts = await rowCounts(db, TABLES);
  await db.end();
}, 180_000);

afterAll(async () => {
  await source?.clone.stop();
  if (root) await rm(root, { recursive: true, force: true });
  // The table of verdicts for the note, one line per table.
  if (table.length)
    console.log(`init matrix (table: ${["none", ...STRATEGIES].join(" | ")})\n${table.join("\n")}`);
});

describe("init on Pagila and pgbench, every table × every strategy (issue 15)", () => {
  for (const name of TABLES)
    it(`${name}: refused with a fix, or passes as generated at the default rows and the source's`, async (ctx) => {
      ctx.skip(SKIP !== undefined, SKIP);
      const verdicts: string[] = [];
      for (const strategy of [undefined, ...STRATEGIES]) {
        const out = path.join(root, `${name}-${strategy ?? "none"}`);
        const attempt = await initCase(source!.url, name, strategy, out);
        if (attempt.kind === "crash") throw attempt.error; // an internal error: the test fails on it
        if (attempt.kind === "refused") {
          const err = attempt.error;
          expect(err.message).toMatch(new RegExp(`${name}|--partition-key`));
          expect(err.fix.length).toBeGreaterThan(10);
          expect(await readdir(out).catch(() => [])).toEqual([]); // nothing written on refusal
          verdicts.push(`refused (${err.message.slice(0, 60)}…)`);
          continue;
        }
        const scenario = parse(await readFile(path.join(out, "scenario.yaml"), "utf8")) as {
          dataset: { tables: { name: string; rows: number }[] };
        };
        const seeded = scenario.dataset.tables.find((t) => t.name === name)!.rows;
        const sizes = [undefined, ...(seeded !== counts.get(name) ? [counts.get(name)!] : [])];
        const runs: string[] = [];
        for (const rows of sizes) {
          const { report, ms } = await rehearseCase(out, name, rows);
          const what = `${name} ${strategy ?? "none"} at ${rows ?? seeded} rows`;
          expect(report.reason ?? "", what).toBe("");
          expect(report.failing, what).toEqual([]);
          expect(report.status, what).toBe("passed");
          runs.push(`${rows ?? seeded} rows ${(ms / 1000).toFixed(1)} s`);
        }
        verdicts.push(`passed (init ${attempt.initMs} ms; ${runs.join(", ")})`);
      }
      table.push(`${name}: ${verdicts.join(" | ")}`);
    }, 600_000);
});
