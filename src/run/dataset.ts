/** The dataset as the scenario says (schema, seeding, sequences, dataset.after), on a clone or a build. */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { splitName } from "../db/sql.ts";
import type { ResolvedScenario } from "../scenario/load.ts";
import { seedDataset } from "../seed/seeder.ts";
import { syncSeededSequences } from "../seed/sequences.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive, located } from "./errors.ts";
import type { RunPlan } from "./plan.ts";
import { runSetupSql } from "./setup-sql.ts";

export async function prepareDataset(
  ctx: RunContext,
  plan: RunPlan,
  db: pg.Client,
  connectTo: () => Promise<pg.Client>,
): Promise<void> {
  const { log, report } = ctx;
  const { rs } = plan;
  const s = rs.scenario;
  ctx.enter("creating the schema");
  await runSetupSql(db, rs.schemaSql, "dataset.schema");
  await checkDatasetTables(db, rs);
  ctx.enter("seeding");
  const seedStart = performance.now();
  const seeded = await seedDataset(connectTo, s.dataset, {
    rows: plan.rows,
    onProgress: (p) => {
      log.progress(`seeding ${p.table}: ${p.rows}/${p.total} rows (${Math.round(p.rowsPerS)} rows/s)`);
      ctx.emit({ kind: "seed", table: p.table, rows: p.rows, total: p.total, rowsPerS: p.rowsPerS });
    },
  });
  const seedMs = performance.now() - seedStart;
  const totalRows = seeded.reduce((n, t) => n + t.rows, 0);
  report.seeding = {
    tables: seeded,
    rows: totalRows,
    duration_ms: Math.round(seedMs),
    rows_per_s: Math.round(totalRows / (seedMs / 1000)),
  };
  log.info(`seeded ${totalRows} rows in ${Math.round(seedMs)} ms (${report.seeding.rows_per_s} rows/s)`);
  const moved = await syncSeededSequences(db, s.dataset);
  if (moved.length > 0) log.info(`advanced ${moved.join(", ")} past the seeded values`);
  if (rs.afterSql) {
    ctx.enter("running dataset.after");
    await runSetupSql(db, rs.afterSql, "dataset.after");
  }
}

/** dataset.tables against what schema.sql created: a table or generator column it lacks is bad input. */
async function checkDatasetTables(db: pg.Client, rs: ResolvedScenario): Promise<void> {
  const problems: string[] = [];
  for (const [i, t] of rs.scenario.dataset.tables.entries()) {
    const { schema, name } = splitName(t.name);
    const r = await db.query<{ attname: string }>(
      `SELECT a.attname FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, name],
    );
    if (r.rows.length === 0) {
      problems.push(
        located(
          rs,
          ["dataset", "tables", i, "name"],
          `table "${t.name}" does not exist after schema.sql ran`,
          "create it in schema.sql, or fix the name in dataset.tables",
        ),
      );
      continue;
    }
    const have = r.rows.map((x) => x.attname);
    for (const col of Object.keys(t.columns).filter((c) => !have.includes(c)))
      problems.push(
        located(
          rs,
          ["dataset", "tables", i, "columns", col],
          `table "${t.name}" has no column "${col}"`,
          `give generators only for its columns (have: ${have.join(", ")})`,
        ),
      );
  }
  if (problems.length > 0)
    throw new Inconclusive(
      `the dataset names tables or columns schema.sql does not create:\n${problems.join("\n")}`,
    );
}
