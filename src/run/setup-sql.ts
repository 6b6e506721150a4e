/** schema.sql and dataset.after, run like migration SQL so an error points at its line: bad input. */
import type pg from "pg";
import { locateError } from "../migration/runner.ts";
import type { ResolvedSqlStep } from "../scenario/load.ts";
import type { SqlText } from "../scenario/sql.ts";
import { Inconclusive } from "./errors.ts";

/** Runs schema.sql / dataset.after statement by statement; an error there means the rehearsal cannot start. */
export async function runSetupSql(db: pg.Client, sql: SqlText, field: string): Promise<void> {
  const step: ResolvedSqlStep = {
    kind: "sql",
    section: "migration",
    phase: "setup",
    name: field,
    sqlText: sql,
  };
  for (const stmt of sql.statements) {
    try {
      await db.query(stmt.sql);
    } catch (err) {
      if (typeof (err as { code?: unknown }).code !== "string") throw err;
      const info = locateError(err as Error & { code: string }, step, stmt);
      throw new Inconclusive(
        `${info.file}:${info.line ?? "?"}${info.column ? `:${info.column}` : ""}: ${field} failed: ${info.message}` +
          `${info.sqlstate ? ` (SQLSTATE ${info.sqlstate})` : ""}${info.excerpt ? `\n${info.excerpt}` : ""}` +
          `${info.hint ? `\nhint: ${info.hint}` : ""}\nfix: correct the SQL in ${info.file}`,
      );
    }
  }
}
