/**
 * Reads one SQL source of a scenario (inline in scenario.yaml or a file) into parsed statements, with every
 * problem located in the file the user edits: a file outside the allowed folders, a missing file, an unknown
 * date placeholder, a syntax error, no statement at all.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expandDatePlaceholders } from "./dates.ts";
import { pathString, type Problem, type YamlPath } from "./problem.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import { lineCol, parseSql, SqlSyntaxError, type SqlText } from "./sql.ts";

export type SqlSrc = string | { file: string };

export interface SqlRead {
  /** Absent when the source could not be read or parsed. */
  sql?: SqlText;
  problems: Problem[];
}

/** The SQL at `at` in scenario.yaml. Call loadSqlParser() first. `now` fills date placeholders; default: now. */
export async function readSql(yaml: ScenarioYaml, src: SqlSrc, at: YamlPath, now?: Date): Promise<SqlRead> {
  const source = await sourceText(yaml, src, at);
  if ("problem" in source) return { problems: [source.problem] };
  const problems: Problem[] = [];
  const expanded = expandDatePlaceholders(source.body, now ?? new Date());
  for (const u of expanded.unknown) {
    const { line, column } = lineCol(source.body, u.offset);
    problems.push({
      file: source.file,
      line: line + source.firstLine - 1,
      column,
      path: pathString(at),
      message: `unknown placeholder ${u.text}`,
      fix: "use {{month}}, {{month+N}}, {{month-N}} (start of the UTC month) or {{day}}, {{day+N}}, {{day-N}} (midnight UTC)",
    });
  }
  try {
    const sql = parseSql(expanded.text, source.inScenario, source.firstLine);
    if (sql.statements.length === 0) {
      problems.push({
        file: source.file,
        path: pathString(at),
        message: "no SQL statement in it",
        fix: "write at least one statement, or remove the step",
      });
    }
    return { sql, problems };
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    problems.push({
      file: source.file,
      line: err.line,
      column: err.column,
      path: pathString(at),
      message: `SQL syntax error: ${err.message}`,
      excerpt: err.excerpt,
      fix: "correct the statement; it is parsed with PostgreSQL's grammar before anything runs",
    });
    return { problems };
  }
}

interface SourceText {
  /** The file problems name (relative to where the command runs: what the user's editor opens). */
  file: string;
  /**
   * The same file relative to the scenario folder ("scenario.yaml" for inline SQL): what the statements carry
   * into the report, which is read wherever it is opened, not from where the command ran.
   */
  inScenario: string;
  body: string;
  /** Line in `file` where `body` starts. */
  firstLine: number;
}

async function sourceText(
  yaml: ScenarioYaml,
  src: SqlSrc,
  at: YamlPath,
): Promise<SourceText | { problem: Problem }> {
  if (typeof src === "string")
    return { file: yaml.rel, inScenario: "scenario.yaml", body: src, firstLine: yaml.textLine(at) };
  const full = path.resolve(yaml.dir, src.file);
  if (!full.startsWith(yaml.dir + path.sep) && !isSharedFolderFile(yaml.dir, full)) {
    return {
      problem: {
        ...where(yaml, [...at, "file"]),
        message: `"${src.file}" is outside the scenario folder and outside a shared folder (../_name/)`,
        fix: "keep SQL files inside the scenario folder, or in a shared sibling folder whose name starts with _ (../_shared/x.sql)",
      },
    };
  }
  try {
    return {
      file: path.relative(process.cwd(), full),
      inScenario: path.relative(yaml.dir, full).split(path.sep).join("/"),
      body: await readFile(full, "utf8"),
      firstLine: 1,
    };
  } catch {
    return {
      problem: {
        ...where(yaml, [...at, "file"]),
        message: `SQL file not found: ${src.file}`,
        fix: `create ${path.relative(process.cwd(), full)} or correct the file name`,
      },
    };
  }
}

/**
 * Scenarios that share a schema keep it once in a sibling folder whose name starts with "_" (no scenario.yaml,
 * so it is not a scenario itself): `{file: ../_ledger/schema.sql}`. Anything else outside the scenario folder
 * is refused, so a scenario never reads files from arbitrary places.
 */
function isSharedFolderFile(dir: string, full: string): boolean {
  const parent = path.dirname(dir);
  const rel = path.relative(parent, full);
  const [first] = rel.split(path.sep);
  return (
    !rel.startsWith("..") &&
    !path.isAbsolute(rel) &&
    first !== undefined &&
    first.startsWith("_") &&
    rel.includes(path.sep)
  );
}

function isSqlSrc(v: unknown): v is SqlSrc {
  return (
    (typeof v === "string" && v.length > 0) ||
    (typeof v === "object" && v !== null && typeof (v as { file?: unknown }).file === "string")
  );
}

function at(v: unknown, key: string | number): unknown {
  return typeof v === "object" && v !== null ? (v as Record<string | number, unknown>)[key] : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** SQL sources named in a document that failed validation, found where the format puts them. */
export function rawSqlSources(raw: unknown): [SqlSrc, YamlPath][] {
  const out: [SqlSrc, YamlPath][] = [];
  const push = (v: unknown, p: YamlPath) => {
    if (isSqlSrc(v)) out.push([v, p]);
  };
  push(at(at(raw, "dataset"), "schema"), ["dataset", "schema"]);
  push(at(at(raw, "dataset"), "after"), ["dataset", "after"]);
  for (const [pi, ph] of list(at(at(raw, "migration"), "phases")).entries()) {
    for (const [si, st] of list(at(ph, "steps")).entries()) {
      push(at(st, "sql"), ["migration", "phases", pi, "steps", si, "sql"]);
    }
  }
  for (const [si, st] of list(at(at(raw, "rollback"), "steps")).entries()) {
    push(at(st, "sql"), ["rollback", "steps", si, "sql"]);
  }
  for (const [bi, b] of list(at(raw, "background")).entries()) {
    push(at(b, "sql"), ["background", bi, "sql"]);
  }
  return out;
}
