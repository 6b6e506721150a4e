/**
 * One cell of issue 15's matrix (a table × a strategy): `rehearse init`, then the generated scenario rehearsed.
 * Shared by test/integration/init-matrix.test.ts, which asserts on the outcomes, and scripts/init-matrix.ts,
 * which prints them.
 */
import { rm } from "node:fs/promises";
import type pg from "pg";
import { ident } from "../../src/db/sql.ts";
import { runInit } from "../../src/init/init.ts";
import type { StrategyName } from "../../src/init/scaffold.ts";
import { InitError } from "../../src/init/source.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import type { RunReport } from "../../src/report/model.ts";
import { silentLogger } from "../../src/util/logger.ts";

/** What init did: wrote a scenario, refused with an InitError (exit 2), or failed in any other way. */
export type InitAttempt =
  | { kind: "generated"; initMs: number }
  | { kind: "refused"; error: InitError }
  | { kind: "crash"; error: unknown };

/** The row count of each of `tables` (in public), through `db`. */
export async function rowCounts(db: pg.Client, tables: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const t of tables)
    counts.set(t, Number((await db.query(`SELECT count(*) AS n FROM "public".${ident(t)}`)).rows[0].n));
  return counts;
}

/** `rehearse init` of one table into `out` (emptied first), with `strategy` or none. */
export async function initCase(
  url: string,
  table: string,
  strategy: StrategyName | undefined,
  out: string,
): Promise<InitAttempt> {
  await rm(out, { recursive: true, force: true });
  const t0 = Date.now();
  try {
    await runInit({
      url,
      tables: [table],
      out,
      fidelity: false,
      log: () => {},
      ...(strategy ? { strategy } : {}),
    });
  } catch (error) {
    return error instanceof InitError ? { kind: "refused", error } : { kind: "crash", error };
  }
  return { kind: "generated", initMs: Date.now() - t0 };
}

/** Rehearses the scenario init wrote in `out`, as generated or with `table` at `rows` rows. */
export async function rehearseCase(
  out: string,
  table: string,
  rows?: number,
): Promise<{ report: RunReport; ms: number }> {
  const t0 = Date.now();
  const report = await rehearse({
    scenarioPath: out,
    logger: silentLogger,
    ...(rows ? { rows: { [table]: rows } } : {}),
  });
  return { report, ms: Date.now() - t0 };
}
