/**
 * Checks scenario.yaml against the format (schema.ts) and turns zod's issues into located problems with a fix
 * each. A document that fails still has its SQL read, so SQL problems come in the same report.
 */
import type { z } from "zod";
import { pathString, type Problem, ScenarioError } from "./problem.ts";
import { type ScenarioYaml, where } from "./scenario-yaml.ts";
import { Scenario } from "./schema.ts";
import { loadSqlParser } from "./sql.ts";
import { rawSqlSources, readSql } from "./sql-source.ts";

/** The validated scenario. Throws ScenarioError with every schema problem and every problem of its SQL. */
export async function validateScenario(yaml: ScenarioYaml, now?: Date): Promise<Scenario> {
  const parsed = Scenario.safeParse(yaml.raw ?? {}, { reportInput: true });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .flatMap(bestUnionBranch)
    .flatMap((issue) => issueProblems(issue, yaml));
  await loadSqlParser();
  for (const [src, at] of rawSqlSources(yaml.raw))
    problems.push(...(await readSql(yaml, src, at, now)).problems);
  throw new ScenarioError(problems);
}

const BACKFILL_KEY_FIX =
  "name the integer column the key ranges are cut on, e.g. key: id (usually the primary key); batches are [lo, lo + batch) of it";

function issueProblems(issue: z.core.$ZodIssue, yaml: ScenarioYaml): Problem[] {
  const p = issue.path.filter((k): k is string | number => typeof k !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      file: yaml.rel,
      ...yaml.locateKey(p, key),
      path: pathString([...p, key]),
      message: `unknown key "${key}"`,
      fix: fixFor(issue),
    }));
  }
  const missing = issue.code === "invalid_type" && issue.input === undefined;
  const field = p.at(-1);
  return [
    {
      ...where(yaml, p),
      message: missing && typeof field === "string" ? `missing required field "${field}"` : issue.message,
      fix: p.at(-2) === "backfill" && field === "key" ? BACKFILL_KEY_FIX : fixFor(issue),
    },
  ];
}

/**
 * A union (a step is SQL, a flag, or a pause) that matches no shape is reported by zod as one vague issue
 * carrying every branch's issues. Report the branch the user evidently meant: the one with the fewest issues,
 * preferring branches whose only complaint is not an unknown key (the key that names the kind).
 */
function bestUnionBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return [issue];
  const score = (branch: z.core.$ZodIssue[]) =>
    branch.length + (branch.some((i) => i.code === "unrecognized_keys") ? 100 : 0);
  const best = [...issue.errors].sort((a, b) => score(a) - score(b))[0]!;
  return best
    .map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as z.core.$ZodIssue)
    .flatMap(bestUnionBranch);
}

function fixFor(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case "unrecognized_keys":
      return `remove ${issue.keys.map((k) => `"${k}"`).join(", ")} or check its spelling against the README's scenario format`;
    case "invalid_type":
      if (issue.message.includes("duration"))
        return 'write the duration with its unit, e.g. "500ms", "5s", "2m"';
      return issue.input === undefined ? "add this field" : `write a value of type ${issue.expected}`;
    case "invalid_value":
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union":
      if ("options" in issue && issue.options?.length)
        return `use one of: ${issue.options.map((v) => JSON.stringify(v)).join(", ")}`;
      return "see the README's scenario format for the accepted shapes";
    case "too_small":
      if (issue.origin === "array" || issue.origin === "set")
        return `give at least ${String(issue.minimum)} item${Number(issue.minimum) === 1 ? "" : "s"}`;
      if (issue.origin === "string") return "write a non-empty value";
      return `use a number ${issue.inclusive ? "of at least" : "above"} ${String(issue.minimum)}`;
    case "too_big":
      if (issue.origin === "array" || issue.origin === "string")
        return `shorten it to at most ${String(issue.maximum)}${issue.origin === "string" ? " characters" : " items"}`;
      return `use a number ${issue.inclusive ? "of at most" : "below"} ${String(issue.maximum)}`;
    case "invalid_format":
      return `rewrite it as ${issue.message.replace(/^Invalid (string: )?/i, "")}`;
    case "custom":
      if (issue.message.includes("duration"))
        return 'write the duration with its unit, e.g. "500ms", "5s", "2m"';
      return undefined;
    default:
      return undefined;
  }
}
