/**
 * Which tables dataset.after only fills: their indexes can be built after it has run instead of being
 * maintained row by row (ledger_idempotency: a million uuids into a primary key took most of dataset.after).
 *
 * Read from the parse trees, and deliberately narrow, so that nothing dataset.after does can tell the
 * difference: a table qualifies when every statement is a plain INSERT, SELECT, UPDATE, DELETE or
 * VACUUM/ANALYZE; the table is the target of INSERTs without ON CONFLICT (which would need its unique
 * index) and named nowhere else (no statement reads it, so no plan runs without its index); no statement
 * calls a function or operator outside pg_catalog (a user function could read it unseen); and it has no
 * expression index (an ANALYZE before the build would miss that index's statistics). dropDeferrableIndexes
 * then adds its own conditions (no firing triggers, nothing depending on the index). A duplicate under a
 * unique key is refused either way: by the INSERT before, by the index build now.
 */
import { parseSync } from "libpg-query";
import type pg from "pg";
import { ident } from "../db/sql.ts";
import type { SqlText } from "../scenario/sql.ts";

type Node = Record<string, unknown>;

const PLAIN = new Set(["InsertStmt", "SelectStmt", "UpdateStmt", "DeleteStmt", "VacuumStmt"]);

interface Mentions {
  /** Tables INSERTed into without ON CONFLICT, as written. */
  filled: string[];
  /** Every other table (or CTE) name. */
  other: string[];
  functions: string[][];
  operators: string[][];
}

const isObj = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

function names(list: unknown): string[] {
  return Array.isArray(list)
    ? list.flatMap((n) => (isObj(n) && isObj(n.String) ? [String(n.String.sval)] : []))
    : [];
}

function rangeVarName(rv: Node): string {
  const rel = ident(String(rv.relname));
  return typeof rv.schemaname === "string" ? `${ident(rv.schemaname)}.${rel}` : rel;
}

/**
 * Every table name, function and operator a tree mentions; `skip` is the one node counted as filled. Nodes
 * are recognised by their fields, not their wrapper key: a statement's target (InsertStmt.relation,
 * UpdateStmt.relation, VacuumRelation.relation) is a bare RangeVar.
 */
function walk(node: unknown, into: Mentions, skip?: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, into, skip);
    return;
  }
  if (!isObj(node)) return;
  if (typeof node.relname === "string" && node !== skip) into.other.push(rangeVarName(node));
  if (Array.isArray(node.funcname)) into.functions.push(names(node.funcname));
  if (typeof node.kind === "string" && node.kind.startsWith("AEXPR_") && Array.isArray(node.name))
    into.operators.push(names(node.name));
  for (const value of Object.values(node)) walk(value, into, skip);
}

/** The statements' mentions, or undefined when one is not a plain DML or VACUUM/ANALYZE statement. */
export function afterSqlMentions(sql: SqlText): Mentions | undefined {
  const into: Mentions = { filled: [], other: [], functions: [], operators: [] };
  for (const stmt of sql.statements) {
    const parsed = parseSync(stmt.sql) as { stmts?: { stmt: Node }[] };
    for (const { stmt: tree } of parsed.stmts ?? []) {
      const [kind] = Object.keys(tree);
      if (!kind || !PLAIN.has(kind)) return undefined;
      const ins = kind === "InsertStmt" && isObj(tree.InsertStmt) ? tree.InsertStmt : undefined;
      const target = ins && !ins.onConflictClause && isObj(ins.relation) ? ins.relation : undefined;
      if (target) into.filled.push(rangeVarName(target));
      walk(tree, into, target);
    }
  }
  return into;
}

/**
 * Tables (schema.name) whose indexes may wait until dataset.after has run; none when anything about it is
 * outside what the header allows.
 */
export async function tablesOnlyFilledBy(db: pg.ClientBase, sql: SqlText): Promise<string[]> {
  const m = afterSqlMentions(sql);
  if (!m || m.filled.length === 0) return [];
  const outside = (list: string[][]) =>
    list.some((n) => n.length > 1 && n[0] !== "pg_catalog") ? null : list.map((n) => n.at(-1) ?? "");
  const functions = outside(m.functions);
  const operators = outside(m.operators);
  if (!functions || !operators) return [];
  const user = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE p.proname = ANY($1::text[]) AND n.nspname <> 'pg_catalog')
          + (SELECT count(*) FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
              WHERE o.oprname = ANY($2::text[]) AND n.nspname <> 'pg_catalog') AS n`,
    [functions, operators],
  );
  if (Number(user.rows[0]!.n) > 0) return [];
  // Resolved by the server as the statements will be (search_path), so a name written two ways is one table.
  const res = await db.query<{ name: string }>(
    `WITH filled AS (SELECT DISTINCT to_regclass(f) AS oid FROM unnest($1::text[]) f),
          other AS (SELECT DISTINCT to_regclass(o) AS oid FROM unnest($2::text[]) o)
     SELECT n.nspname || '.' || c.relname AS name
       FROM filled f JOIN pg_class c ON c.oid = f.oid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE f.oid NOT IN (SELECT oid FROM other WHERE oid IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indexprs IS NOT NULL)
      ORDER BY 1`,
    [m.filled, m.other],
  );
  return res.rows.map((r) => r.name);
}
