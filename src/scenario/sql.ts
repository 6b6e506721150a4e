/**
 * SQL files are parsed with PostgreSQL's own grammar (libpg-query) before anything runs, so a syntax error
 * is reported with file:line and a caret before the clone even starts, and statements are split exactly as
 * the server would split them (dollar quotes, comments, semicolons in strings).
 */
import { loadModule, parseSync } from "libpg-query";
import { type SqlOperation, statementOperations } from "./sql-operations.ts";

export interface SqlStatement {
  /** The statement text, without the trailing semicolon. */
  sql: string;
  /** 1-based line of the statement's first character within its file. */
  line: number;
  /** Character offset of the statement within its file. */
  offset: number;
  /** Cannot run inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, …). */
  nonTransactional: boolean;
  /**
   * A CALL: its procedure may COMMIT (a batched copy), which it can only do when the CALL is not inside a
   * transaction block, so a `transaction: false` step runs it bare. Inside a transaction step it is wrapped.
   */
  call?: boolean;
  /** What it does, from its parse tree, when a remediation text exists for it (CREATE INDEX, ADD FOREIGN KEY…). */
  operations?: SqlOperation[];
}

export interface SqlText {
  /** Scenario-relative file name, or "scenario.yaml" for inline SQL. */
  file: string;
  /** The full text as written. */
  text: string;
  /** Line in `file` where `text` starts (inline SQL sits inside scenario.yaml). */
  firstLine: number;
  statements: SqlStatement[];
}

export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly excerpt: string,
  ) {
    super(message);
  }
}

let loaded: Promise<void> | undefined;
/** The parser is WebAssembly and must be loaded once before parseSync. */
export function loadSqlParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** Statement node types that PostgreSQL refuses inside a transaction block. */
const NON_TX_NODES = new Set([
  "VacuumStmt",
  "CreatedbStmt",
  "DropdbStmt",
  "AlterSystemStmt",
  "CreateTableSpaceStmt",
  "DropTableSpaceStmt",
  "CreateSubscriptionStmt",
  "DropSubscriptionStmt",
  "AlterSubscriptionStmt",
]);

function isNonTransactional(node: Record<string, unknown>): boolean {
  const kind = Object.keys(node)[0] ?? "";
  if (NON_TX_NODES.has(kind)) return true;
  // A DO block or procedure that COMMITs (a batched backfill) must not be wrapped in a transaction block.
  if ((kind === "DoStmt" || kind === "CallStmt") && /\bCOMMIT\b/i.test(JSON.stringify(node))) return true;
  const json = JSON.stringify(node);
  // CREATE INDEX / DROP INDEX / DETACH PARTITION … CONCURRENTLY carry `concurrent: true`;
  // REINDEX … CONCURRENTLY carries a "concurrently" option.
  return (
    json.includes('"concurrent":true') || (kind === "ReindexStmt" && /"defname":"concurrently"/.test(json))
  );
}

/** 1-based line and column of a character offset. */
export function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** The source line at `line` with a caret under `column`. */
export function caretExcerpt(text: string, line: number, column: number): string {
  const src = text.split("\n")[line - 1] ?? "";
  return `${src}\n${" ".repeat(Math.max(0, column - 1))}^`;
}

/** Character offset for a UTF-8 byte offset (libpg_query reports byte positions). */
function charOffset(buf: Buffer, byteOffset: number): number {
  return buf.subarray(0, byteOffset).toString("utf8").length;
}

/** Parses and splits SQL; throws SqlSyntaxError located in the file. Call loadSqlParser() first. */
export function parseSql(text: string, file: string, firstLine = 1): SqlText {
  const buf = Buffer.from(text, "utf8");
  let tree: { stmts?: Array<{ stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = parseSync(text);
  } catch (err) {
    const e = err as Error & { sqlDetails?: { cursorPosition?: number; message?: string } };
    const pos = charOffset(buf, Math.max(0, e.sqlDetails?.cursorPosition ?? 0));
    const { line, column } = lineCol(text, pos);
    throw new SqlSyntaxError(
      e.sqlDetails?.message ?? e.message,
      file,
      line + firstLine - 1,
      column,
      caretExcerpt(text, line, column),
    );
  }
  const statements: SqlStatement[] = [];
  for (const s of tree.stmts ?? []) {
    const startByte = s.stmt_location ?? 0;
    const endByte = s.stmt_len === undefined || s.stmt_len === 0 ? buf.length : startByte + s.stmt_len;
    const raw = buf.subarray(startByte, endByte).toString("utf8");
    // stmt_location includes leading whitespace and comments; point at the first real character.
    const lead = raw.length - raw.replace(/^(\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, "").length;
    const sql = raw.slice(lead).replace(/;\s*$/, "").trimEnd();
    if (sql === "") continue;
    const offset = charOffset(buf, startByte) + lead;
    const operations = statementOperations(s.stmt);
    statements.push({
      sql,
      offset,
      line: lineCol(text, offset).line + firstLine - 1,
      nonTransactional: isNonTransactional(s.stmt),
      call: Object.keys(s.stmt)[0] === "CallStmt",
      ...(operations.length > 0 ? { operations } : {}),
    });
  }
  return { file, text, firstLine, statements };
}
