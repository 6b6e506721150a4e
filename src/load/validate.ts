/**
 * The load section checked against the seeded clone before the migration starts: a template that names a
 * missing column, a source with no rows, a parameter that does not exist — bad input, reported together with
 * the file, the field and the fix (exit 2), never discovered halfway through a rehearsal as a wall of errors.
 */
import path from "node:path";
import type pg from "pg";
import type { CatalogSnapshot } from "../catalog/types.ts";
import { ident, qualified, splitName } from "../db/sql.ts";
import { formatProblem, type Problem, type ResolvedScenario } from "../scenario/load.ts";
import { writeOperations } from "../scenario/schema.ts";
import { defaultWorkers } from "./native-engine.ts";
import { segmentOf } from "./share.ts";
import { parseTemplate, resolveParams, TemplateError } from "./template.ts";

export class LoadValidationError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the load section does not fit the database:\n${problems.map(formatProblem).join("\n")}`);
  }
}

/** Throws LoadValidationError listing every problem. */
export async function validateLoad(
  db: pg.Client,
  rs: ResolvedScenario,
  before: CatalogSnapshot,
): Promise<void> {
  const load = rs.scenario.load;
  if (!load) return;
  const file = path.relative(process.cwd(), rs.file);
  const problems: Problem[] = [];
  const at = (p: (string | number)[], message: string, fix: string) =>
    problems.push({ file, ...rs.locate(p), path: p.join(".").replace(/\.(\d+)/g, "[$1]"), message, fix });

  const { schema, name } = splitName(load.source.table);
  const table = before.tables[`${schema}.${name}`];
  if (!table) {
    at(
      ["load", "source", "table"],
      `table "${load.source.table}" does not exist`,
      "name the table whose history the load replays",
    );
    throw new LoadValidationError(problems);
  }
  const have = new Set(table.columns.map((c) => c.name));
  if (!have.has(load.source.key)) {
    at(
      ["load", "source", "key"],
      `"${load.source.table}" has no column "${load.source.key}"`,
      `use one of: ${[...have].join(", ")}`,
    );
  }
  for (const [i, c] of load.source.columns.entries()) {
    if (!have.has(c))
      at(
        ["load", "source", "columns", i],
        `"${load.source.table}" has no column "${c}"`,
        `use one of: ${[...have].join(", ")}`,
      );
  }
  if (problems.length > 0) throw new LoadValidationError(problems);

  const rows = await db.query(`SELECT 1 FROM ${qualified(load.source.table)} LIMIT 1`);
  if (rows.rowCount === 0) {
    at(
      ["load", "source", "table"],
      `"${load.source.table}" has no rows: there is no history to replay`,
      "seed the table (dataset.tables) or point the source at a table that has rows",
    );
  } else {
    const workers = Math.min(load.connections, load.workers ?? defaultWorkers(load));
    const served =
      workers > 1 ? await segmentsWithHistory(db, load.source.table, load.source.key, workers) : 1;
    if (served < workers)
      at(
        ["load", "workers"],
        `"${load.source.table}" has history for ${served} of the ${workers} load segments: the others would have no rows to replay`,
        `set load.workers: 1 (${load.workers === undefined ? "the default follows the machine's cores" : "or fewer"}), or seed more rows`,
      );
  }

  const columns = new Map(load.source.columns.map((c, i) => [c, i]));
  const ops = writeOperations(load);
  const templates: { sql: string; at: (string | number)[]; prepare: boolean }[] = [
    // A statement that waits for a flag may name what the migration creates before setting it (000's
    // dual-write into the new table): its parameters are checked now, its SQL when the flag is on.
    ...ops.flatMap((op) =>
      op.statements.map((w, i) => ({ sql: w.sql, at: [...op.at, i, "sql"], prepare: !w.when })),
    ),
    ...(load.read ? [{ sql: load.read.sql, at: ["load", "read", "sql"], prepare: true }] : []),
  ];
  const writeNames = new Set<string>();
  for (const [n, t] of templates.entries()) {
    let text: string;
    try {
      const parsed = parseTemplate(t.sql);
      resolveParams(parsed.names, columns);
      if (t.at[1] === "write") for (const p of parsed.names) writeNames.add(p);
      text = parsed.text;
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      at(
        t.at,
        err.message,
        "use :name for a history column listed in load.source.columns or a generated value",
      );
      continue;
    }
    // PREPARE runs the server's parse analysis: a missing column, table or function is found here, exactly as
    // the load would meet it, without executing anything.
    if (!t.prepare) continue;
    const stmt = ident(`rehearse_validate_${n}`);
    try {
      await db.query(`PREPARE ${stmt} AS ${text}`);
      await db.query(`DEALLOCATE ${stmt}`);
    } catch (err) {
      const e = err as Error & { code?: string; hint?: string };
      at(
        t.at,
        `the statement does not fit the database: ${e.message}${e.code ? ` (SQLSTATE ${e.code})` : ""}`,
        e.hint ?? "correct the statement against schema.sql",
      );
    }
  }
  for (const op of ops)
    if (!op.statements.some((w) => !w.when))
      at(
        op.at,
        `every statement of ${ops.length > 1 ? `operation "${op.name}"` : "the write"} waits for a flag: until one is set it writes nothing`,
        "give at least one statement no when:",
      );
  // The ledger matters only to no_lost_writes: without it, a write that carries no ack key is fine (a fitted
  // mix of production's UPDATEs and DELETEs has nothing new to acknowledge).
  const judged = rs.scenario.invariants.some((i) => i.check === "no_lost_writes");
  if (judged && !writeNames.has(load.write.ack_key)) {
    at(
      ["load", "write", "ack_key"],
      `no write statement uses :${load.write.ack_key}, so acknowledged writes cannot be found afterwards`,
      "pass the generated key to the write (e.g. :new_uuid) or set ack_key to a parameter the write uses",
    );
  }
  if (problems.length > 0) throw new LoadValidationError(problems);
}

/**
 * How many of `segments` load segments get at least one history row (source-reader.ts shares the rows by
 * the key's hash). Read from the first rows alone when they already reach every segment, the usual case; the
 * whole table only when it is small enough to leave one empty.
 */
async function segmentsWithHistory(
  db: pg.Client,
  table: string,
  key: string,
  segments: number,
): Promise<number> {
  const share = segmentOf(key, segments);
  const count = async (limit: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT count(DISTINCT ${share})::text AS n FROM (SELECT ${ident(key)} FROM ${qualified(table)}${limit}) t`,
        )
      ).rows[0]!.n,
    );
  const sampled = await count(` LIMIT ${100 * segments}`);
  return sampled === segments ? sampled : count("");
}
