/** The dataset as the scenario says (schema, seeding, sequences, dataset.after), on a clone or a build. */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { splitName } from "../db/sql.ts";
import type { ResolvedScenario } from "../scenario/load.ts";
import { buildDeferredIndexes, type DeferredIndex, dropDeferrableIndexes } from "../seed/deferred-indexes.ts";
import { rowsFor, seedDataset } from "../seed/seeder.ts";
import { syncSeededSequences } from "../seed/sequences.ts";
import { tablesOnlyFilledBy } from "./after-sql.ts";
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
  // Built again after the COPYs (their own stage below): the rows go into bare heaps at COPY speed.
  const seededTables = s.dataset.tables.filter((t) => rowsFor(t, { rows: plan.rows }) > 0).map((t) => t.name);
  const deferred = await dropDeferrableIndexes(db, seededTables, { fireTriggers: s.dataset.fire_triggers });
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
  if (deferred.length > 0) {
    ctx.enter("building indexes and constraints");
    await buildIndexes(ctx, connectTo, deferred);
  }
  const moved = await syncSeededSequences(db, s.dataset);
  if (moved.length > 0) log.info(`advanced ${moved.join(", ")} past the seeded values`);
  if (rs.afterSql) {
    // Tables dataset.after only fills get their indexes after it too (after-sql.ts says when that is safe).
    // Its session fires every enabled trigger: any on those tables and nothing is deferred.
    const filled = await tablesOnlyFilledBy(db, rs.afterSql);
    const later = await dropDeferrableIndexes(db, filled, { fireTriggers: true });
    ctx.enter("running dataset.after");
    await runSetupSql(db, rs.afterSql, "dataset.after");
    if (later.length > 0) {
      ctx.enter("building indexes after dataset.after");
      await buildIndexes(ctx, connectTo, later);
    }
  }
}

/** Builds what was dropped before the rows went in, with progress and its time in the log. */
async function buildIndexes(
  ctx: RunContext,
  connectTo: () => Promise<pg.Client>,
  deferred: DeferredIndex[],
): Promise<void> {
  const started = performance.now();
  await buildDeferredIndexes(connectTo, deferred, {
    onProgress: (p) => ctx.log.progress(`built ${p.index} (${p.built}/${p.total})`),
  });
  ctx.log.info(
    `built ${deferred.length} index(es) and key constraint(s) in ${Math.round(performance.now() - started)} ms: ${deferred.map((d) => d.index).join(", ")}`,
  );
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
