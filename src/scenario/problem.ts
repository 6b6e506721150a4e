/**
 * What the loader reports: a problem located in a scenario's files, and the error that carries all of them, so a
 * user fixes every problem in one pass. Its own module so each part of the loader can name problems.
 */

export interface Problem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path in scenario.yaml ("migration.phases[2].steps[0].sql.file"). */
  path: string;
  message: string;
  /** What to do about it. */
  fix?: string;
  excerpt?: string;
}

export class ScenarioError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ""}` : ""}`;
  const field = p.path ? ` ${p.path}:` : "";
  const fix = p.fix ? `\n    fix: ${p.fix}` : "";
  const excerpt = p.excerpt ? `\n${p.excerpt.replace(/^/gm, "    | ")}` : "";
  return `${where}:${field} ${p.message}${excerpt}${fix}`;
}

/** A path into scenario.yaml: keys and list indexes. */
export type YamlPath = (string | number)[];

export function pathString(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out;
}
