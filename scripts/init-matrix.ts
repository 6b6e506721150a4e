/**
 * Issue 15's acceptance matrix, as a script a person can run: Pagila (../shared/fixtures/pagila) and
 * `pgbench -i -s 5` loaded into a PostgreSQL 15 source; for every table × strategy, `rehearse init` then the
 * generated scenario rehearsed as generated (at the default rows, and with MATRIX_FULL=1 also at the source's
 * row count). Prints one greppable line per case: `matrix <table> <strategy> <outcome> <detail>`.
 * Env: MATRIX_TABLES=a,b (subset), MATRIX_STRATEGIES=x,y, MATRIX_FULL=1, MATRIX_KEEP=<dir> (keep the scenarios).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { STRATEGIES as BUILT_IN, type StrategyName } from "../src/init/scaffold.ts";
import { initCase, rehearseCase, rowCounts } from "../test/support/init-matrix.ts";
import { startPagilaSource } from "../test/support/pagila-source.ts";

const STRATEGIES = (process.env.MATRIX_STRATEGIES ?? ["none", ...BUILT_IN].join(",")).split(",");
const source = await startPagilaSource({ pgbench: true });
const admin = new pg.Client(source.clone.connectionConfig());
await admin.connect();
const tables =
  process.env.MATRIX_TABLES?.split(",") ??
  (
    await admin.query<{ t: string }>(
      `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r','p') AND NOT c.relispartition ORDER BY 1`,
    )
  ).rows.map((r) => r.t);
const counts = await rowCounts(admin, tables);
await admin.end();
const url = source.url;
const root = process.env.MATRIX_KEEP ?? (await mkdtemp(path.join(tmpdir(), "rehearse-matrix-")));
try {
  for (const table of tables)
    for (const strategy of STRATEGIES) {
      const out = path.join(root, `${table}-${strategy}`);
      const attempt = await initCase(
        url,
        table,
        strategy === "none" ? undefined : (strategy as StrategyName),
        out,
      );
      if (attempt.kind !== "generated") {
        const msg =
          attempt.kind === "refused"
            ? `refused: ${attempt.error.message} | fix: ${attempt.error.fix}`
            : `CRASH: ${(attempt.error as Error).stack}`;
        console.log(`matrix ${table} ${strategy} ${attempt.kind} ${msg.replace(/\s+/g, " ")}`);
        continue;
      }
      const sizes: (number | undefined)[] = [undefined];
      if (process.env.MATRIX_FULL) sizes.push(counts.get(table));
      for (const rows of sizes) {
        const { report: r, ms } = await rehearseCase(out, table, rows);
        const detail = r.status === "passed" ? "" : (r.reason ?? "") + " failing=" + r.failing.join(",");
        console.log(
          `matrix ${table} ${strategy} ${r.status} rows=${rows ?? "default"} init=${attempt.initMs}ms run=${ms}ms ${detail.replace(/\s+/g, " ").slice(0, 600)}`,
        );
      }
    }
} finally {
  if (!process.env.MATRIX_KEEP) await rm(root, { recursive: true, force: true });
  await source.clone.stop();
}
