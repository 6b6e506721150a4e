/**
 * Reads a scenario folder into a resolved, validated scenario — or into the complete list of problems, each
 * with its file, line and path, so a user fixes them all in one pass. Nothing here touches a database.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { type Backfill, type FAULTS, isSqlStep, Scenario, type SqlStep, type Step } from "./schema.ts";
import { expandDatePlaceholders } from "./dates.ts";
import { lineCol, loadSqlParser, parseSql, SqlSyntaxError, type SqlText } from "./sql.ts";

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

interface StepBase {
  section: "migration" | "rollback";
  phase: string;
  name: string;
}

/** A step that runs SQL. */
export interface ResolvedSqlStep extends StepBase, Omit<SqlStep, "name" | "sql"> {
  kind: "sql";
  sqlText: SqlText;
}

/** A step that talks to the load instead of the database: flags and the writers' pause. */
export type ResolvedControlStep = StepBase &
  ({ kind: "flag"; flags: Record<string, boolean> } | { kind: "pause_writes" } | { kind: "resume_writes" });

/** A batched, throttled, resumable copy from one table to another (see Backfill in schema.ts). */
export interface ResolvedBackfillStep extends StepBase {
  kind: "backfill";
  backfill: Backfill;
  /** Where the step is in scenario.yaml, for errors. */
  at: (string | number)[];
}

/** An injected failure (see FaultStep in schema.ts). */
export interface ResolvedFaultStep extends StepBase {
  kind: "fault";
  fault: (typeof FAULTS)[number];
  after_batches: number;
}

export type ResolvedStep = ResolvedSqlStep | ResolvedControlStep | ResolvedBackfillStep | ResolvedFaultStep;

export interface ResolvedScenario {
  dir: string;
  /** Path of scenario.yaml. */
  file: string;
  scenario: Scenario;
  schemaSql: SqlText;
  afterSql?: SqlText;
  phases: { name: string; steps: ResolvedStep[] }[];
  rollback: ResolvedStep[];
  /** Line and column of a path in scenario.yaml, for errors found after loading (a table that does not exist). */
  locate(pathInFile: (string | number)[]): { line?: number; column?: number };
}

function pathString(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out;
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

const BACKFILL_KEY_FIX =
  "name the integer column the key ranges are cut on, e.g. key: id (usually the primary key); batches are [lo, lo + batch) of it";

/** Loads `<dir>/scenario.yaml` (or a path to the yaml itself). Throws ScenarioError listing every problem. */
export interface LoadOptions {
  /** The time {{month}} / {{day}} placeholders in SQL are computed from; default: now. */
  now?: Date;
}

export async function loadScenario(dirOrFile: string, options: LoadOptions = {}): Promise<ResolvedScenario> {
  let dir = path.resolve(dirOrFile);
  let file = path.join(dir, "scenario.yaml");
  try {
    const st = await stat(dir);
    if (st.isFile()) {
      file = dir;
      dir = path.dirname(dir);
    }
  } catch {
    throw new ScenarioError([
      {
        file: dirOrFile,
        path: "",
        message: "no such scenario folder",
        fix: "pass a folder containing scenario.yaml, e.g. scenarios/ledger-attach-history",
      },
    ]);
  }
  const rel = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ScenarioError([
      {
        file: rel,
        path: "",
        message: "scenario.yaml not found",
        fix: "create scenario.yaml in the scenario folder",
      },
    ]);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    problems.push({
      file: rel,
      line: pos?.line,
      column: pos?.col,
      path: "",
      message: `YAML: ${e.message.split("\n")[0]}`,
      fix: "fix the YAML syntax (indentation, quoting, a missing colon)",
    });
  }
  if (problems.length > 0) throw new ScenarioError(problems);
  if (doc.contents === null)
    // Else zod lists every required field as missing, which hides that the file itself is empty.
    throw new ScenarioError([
      {
        file: rel,
        path: "",
        message: "scenario.yaml is empty",
        fix: "start from the README's scenario format or copy scenarios/ledger-attach-history/scenario.yaml",
      },
    ]);

  const locate = (p: (string | number)[]): { line?: number; column?: number } => {
    // Walk down as far as the path exists; a missing key is reported at its parent.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && typeof node === "object" && "range" in node && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  /** For an unknown key, point at the key itself rather than its parent map. */
  const locateKey = (p: (string | number)[], key: string): { line?: number; column?: number } => {
    const parent = doc.getIn(p, true);
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
          const pos = lineCounter.linePos(pair.key.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
    }
    return locate(p);
  };

  const readSql = async (
    src: string | { file: string },
    at: (string | number)[],
  ): Promise<SqlText | undefined> => {
    let sqlFile: string;
    let body: string;
    let firstLine = 1;
    if (typeof src === "string") {
      sqlFile = rel;
      body = src;
      // Inline SQL: a block scalar's text starts on the line after its indicator.
      const { line } = locate(at);
      const node = doc.getIn(at, true);
      const block = isScalar(node) && (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED");
      firstLine = (line ?? 1) + (block ? 1 : 0);
    } else {
      const full = path.resolve(dir, src.file);
      sqlFile = path.relative(process.cwd(), full);
      if (!full.startsWith(dir + path.sep) && !isSharedFolderFile(dir, full)) {
        problems.push({
          file: rel,
          ...locate([...at, "file"]),
          path: pathString([...at, "file"]),
          message: `"${src.file}" is outside the scenario folder and outside a shared folder (../_name/)`,
          fix: "keep SQL files inside the scenario folder, or in a shared sibling folder whose name starts with _ (../_shared/x.sql)",
        });
        return undefined;
      }
      try {
        body = await readFile(full, "utf8");
      } catch {
        problems.push({
          file: rel,
          ...locate([...at, "file"]),
          path: pathString([...at, "file"]),
          message: `SQL file not found: ${src.file}`,
          fix: `create ${path.relative(process.cwd(), full)} or correct the file name`,
        });
        return undefined;
      }
    }
    const expanded = expandDatePlaceholders(body, options.now ?? new Date());
    for (const u of expanded.unknown) {
      const { line, column } = lineCol(body, u.offset);
      problems.push({
        file: sqlFile,
        line: line + firstLine - 1,
        column,
        path: pathString(at),
        message: `unknown placeholder ${u.text}`,
        fix: "use {{month}}, {{month+N}}, {{month-N}} (start of the UTC month) or {{day}}, {{day+N}}, {{day-N}} (midnight UTC)",
      });
    }
    body = expanded.text;
    try {
      const parsedSql = parseSql(body, sqlFile, firstLine);
      if (parsedSql.statements.length === 0) {
        problems.push({
          file: sqlFile,
          path: pathString(at),
          message: "no SQL statement in it",
          fix: "write at least one statement, or remove the step",
        });
      }
      return parsedSql;
    } catch (err) {
      if (err instanceof SqlSyntaxError) {
        problems.push({
          file: err.file,
          line: err.line,
          column: err.column,
          path: pathString(at),
          message: `SQL syntax error: ${err.message}`,
          excerpt: err.excerpt,
          fix: "correct the statement; it is parsed with PostgreSQL's grammar before anything runs",
        });
        return undefined;
      }
      throw err;
    }
  };

  const raw = doc.toJS();
  const parsed = Scenario.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues.flatMap(bestUnionBranch)) {
      const p = issue.path.filter((k): k is string | number => typeof k !== "symbol");
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push({
            file: rel,
            ...locateKey(p, key),
            path: pathString([...p, key]),
            message: `unknown key "${key}"`,
            fix: fixFor(issue),
          });
        }
        continue;
      }
      const missing = issue.code === "invalid_type" && issue.input === undefined;
      const field = p.at(-1);
      problems.push({
        file: rel,
        ...locate(p),
        path: pathString(p),
        message: missing && typeof field === "string" ? `missing required field "${field}"` : issue.message,
        fix: p.at(-2) === "backfill" && field === "key" ? BACKFILL_KEY_FIX : fixFor(issue),
      });
    }
    // Still look at every SQL source the raw document names, so SQL problems come in the same report.
    await loadSqlParser();
    for (const [src, at] of rawSqlSources(raw)) await readSql(src, at);
    throw new ScenarioError(problems);
  }
  const scenario = parsed.data;

  await loadSqlParser();
  const schemaSql = await readSql(scenario.dataset.schema, ["dataset", "schema"]);
  const afterSql = scenario.dataset.after
    ? await readSql(scenario.dataset.after, ["dataset", "after"])
    : undefined;

  const phases: ResolvedScenario["phases"] = [];
  const phaseNames = new Set<string>();
  const stepKeys = new Set<string>();
  for (const [pi, phase] of scenario.migration.phases.entries()) {
    if (phaseNames.has(phase.name)) {
      problems.push({
        file: rel,
        ...locate(["migration", "phases", pi, "name"]),
        path: `migration.phases[${pi}].name`,
        message: `duplicate phase name "${phase.name}"`,
        fix: "give each phase a unique name",
      });
    }
    phaseNames.add(phase.name);
    const steps: ResolvedStep[] = [];
    for (const [si, step] of phase.steps.entries()) {
      const at = ["migration", "phases", pi, "steps", si];
      const key = `${phase.name}/${step.name}`;
      if (stepKeys.has(key)) {
        problems.push({
          file: rel,
          ...locate([...at, "name"]),
          path: pathString([...at, "name"]),
          message: `duplicate step "${key}"`,
          fix: "give each step in a phase a unique name",
        });
      }
      stepKeys.add(key);
      const resolved = await resolveStep(step, "migration", phase.name, at);
      if (resolved) steps.push(resolved);
    }
    phases.push({ name: phase.name, steps });
  }
  const rollback: ResolvedStep[] = [];
  for (const [si, step] of (scenario.rollback?.steps ?? []).entries()) {
    const resolved = await resolveStep(step, "rollback", "rollback", ["rollback", "steps", si]);
    if (resolved) rollback.push(resolved);
  }
  checkKillsHaveBackfill(
    scenario.migration.phases.flatMap((ph, pi) =>
      ph.steps.map((st, si) => ({ step: st, at: ["migration", "phases", pi, "steps", si] })),
    ),
  );
  checkKillsHaveBackfill(
    (scenario.rollback?.steps ?? []).map((st, si) => ({ step: st, at: ["rollback", "steps", si] })),
  );

  /** A kill_backfill_worker fault arms the next backfill step of its section: with none after it, it never fires. */
  function checkKillsHaveBackfill(steps: { step: Step; at: (string | number)[] }[]): void {
    for (const [i, { step, at }] of steps.entries()) {
      if (!("fault" in step) || step.fault !== "kill_backfill_worker") continue;
      if (steps.slice(i + 1).some((s) => "backfill" in s.step)) continue;
      problems.push({
        file: rel,
        ...locate([...at, "fault"]),
        path: pathString([...at, "fault"]),
        message: "fault kill_backfill_worker arms the next backfill step, but no backfill step follows it",
        fix: "put the fault step before the backfill step it should hit, or remove it",
      });
    }
  }

  async function resolveStep(
    step: Step,
    section: "migration" | "rollback",
    phase: string,
    at: (string | number)[],
  ): Promise<ResolvedStep | undefined> {
    const base = { section, phase, name: step.name };
    if ("backfill" in step) {
      checkBackfill(step.backfill, at);
      return { ...base, kind: "backfill", backfill: step.backfill, at };
    }
    if ("fault" in step) {
      if (step.fault === "terminate_load_connections" && !scenario.load) {
        problems.push({
          file: rel,
          ...locate([...at, "fault"]),
          path: pathString([...at, "fault"]),
          message: `fault "terminate_load_connections" needs a load, but the scenario has no load section`,
          fix: "add a load: section, or remove the step",
        });
      }
      return { ...base, kind: "fault", fault: step.fault, after_batches: step.after_batches };
    }
    if (!isSqlStep(step)) {
      if (!scenario.load) {
        problems.push({
          file: rel,
          ...locate(at),
          path: pathString(at),
          message: `step "${step.name}" controls the load, but the scenario has no load section`,
          fix: "add a load: section, or remove the step",
        });
      }
      if ("flag" in step) return { ...base, kind: "flag", flags: step.flag };
      if ("pause_writes" in step) return { ...base, kind: "pause_writes" };
      return { ...base, kind: "resume_writes" };
    }
    const sqlText = await readSql(step.sql, [...at, "sql"]);
    if (!sqlText) return undefined;
    checkTransactionMode(step, sqlText, at);
    const { sql: _sql, name: _name, ...rest } = step;
    return { ...rest, ...base, kind: "sql", sqlText };
  }

  function checkBackfill(b: Backfill, at: (string | number)[]): void {
    const where = (...p: (string | number)[]) => ({
      file: rel,
      ...locate([...at, "backfill", ...p]),
      path: pathString([...at, "backfill", ...p]),
    });
    if (b.from !== undefined && b.to !== undefined && b.from >= b.to) {
      problems.push({
        ...where("to"),
        message: `the key range is empty: from ${b.from} is not below to ${b.to}`,
        fix: "set to above from (the range is [from, to))",
      });
    }
    if (b.ranges) {
      if (b.ranges.length !== b.workers && b.workers !== 1) {
        problems.push({
          ...where("ranges"),
          message: `${b.ranges.length} ranges for ${b.workers} workers`,
          fix: "give one range per worker, or leave out workers (each range gets its own worker)",
        });
      }
      const sorted = b.ranges.map((r, i) => ({ ...r, i })).sort((x, y) => x.from - y.from);
      for (const r of sorted) {
        if (r.from >= r.to) {
          problems.push({
            ...where("ranges", r.i),
            message: `range ${r.i} is empty: from ${r.from} is not below to ${r.to}`,
            fix: "each range is [from, to) with from below to",
          });
        }
      }
      for (let k = 1; k < sorted.length; k++) {
        const a = sorted[k - 1]!;
        const c = sorted[k]!;
        if (c.from < a.to) {
          problems.push({
            ...where("ranges", c.i),
            message: `worker ranges overlap: [${a.from}, ${a.to}) and [${c.from}, ${c.to}) would copy keys ${c.from}…${Math.min(a.to, c.to) - 1} twice`,
            fix: "make the ranges disjoint: each [from, to) starts at or after the previous one's to",
          });
        }
      }
    }
    if (b.sql) {
      for (const p of ["lo", "hi"]) {
        if (!new RegExp(`:${p}\\b`).test(b.sql)) {
          problems.push({
            ...where("sql"),
            message: `the batch SQL does not use :${p}, so batches would not be bounded by their key range`,
            fix: "bound the batch with  WHERE <key> >= :lo AND <key> < :hi",
          });
        }
      }
    }
    if (b.throttle?.replica_lag && !scenario.target.replica) {
      problems.push({
        ...where("throttle", "replica_lag"),
        message: "the throttle waits on replica lag, but the scenario configures no replica",
        fix: "set target.replica: true, or remove throttle.replica_lag",
      });
    }
  }

  function checkTransactionMode(step: SqlStep, sqlText: SqlText, at: (string | number)[]): void {
    const nonTx = sqlText.statements.find((s) => s.nonTransactional);
    if (step.transaction === true && nonTx) {
      problems.push({
        file: sqlText.file,
        line: nonTx.line,
        path: pathString([...at, "transaction"]),
        message: `"${nonTx.sql.slice(0, 60)}" cannot run inside a transaction block, but the step sets transaction: true`,
        fix: "move the statement to its own step, or set transaction: false",
      });
    }
  }

  // Budgets and expectations must name things that exist, or a typo silently disables them.
  for (const phase of Object.keys(scenario.budgets.phases)) {
    if (!phaseNames.has(phase)) {
      problems.push({
        file: rel,
        ...locate(["budgets", "phases", phase]),
        path: `budgets.phases.${phase}`,
        message: `no phase named "${phase}"`,
        fix: `use one of: ${[...phaseNames].join(", ")}`,
      });
    }
  }
  for (const phase of Object.keys(scenario.budgets.load)) {
    if (phase !== "*" && !phaseNames.has(phase)) {
      problems.push({
        file: rel,
        ...locate(["budgets", "load", phase]),
        path: `budgets.load.${phase}`,
        message: `no phase named "${phase}"`,
        fix: `use "*" or one of: ${[...phaseNames].join(", ")}`,
      });
    }
  }
  if (scenario.load) {
    const setFlags = new Set<string>();
    for (const st of [...phases.flatMap((p) => p.steps), ...rollback]) {
      if (st.kind === "flag") for (const f of Object.keys(st.flags)) setFlags.add(f);
    }
    for (const [i, w] of scenario.load.write.statements.entries()) {
      if (w.unless && !setFlags.has(w.unless)) {
        problems.push({
          file: rel,
          ...locate(["load", "write", "statements", i, "unless"]),
          path: `load.write.statements[${i}].unless`,
          message: `no step ever sets the flag "${w.unless}", so this statement would never stop`,
          fix: `add a step like {name: stop_${w.unless}, flag: {${w.unless}: on}}, fix the flag name, or remove unless:`,
        });
      }
      if (w.when && w.unless && w.when === w.unless) {
        problems.push({
          file: rel,
          ...locate(["load", "write", "statements", i, "unless"]),
          path: `load.write.statements[${i}].unless`,
          message: `when: and unless: name the same flag "${w.when}", so this statement would never run`,
          fix: "name two different flags, or keep only one of when: / unless:",
        });
      }
      if (w.when && !setFlags.has(w.when)) {
        problems.push({
          file: rel,
          ...locate(["load", "write", "statements", i, "when"]),
          path: `load.write.statements[${i}].when`,
          message: `no step ever sets the flag "${w.when}", so this statement would never run`,
          fix: `add a step like {name: enable_${w.when}, flag: {${w.when}: on}}, or fix the flag name`,
        });
      }
    }
    const rate = scenario.load.rate;
    if (typeof rate === "object" && rate.stages.every((st) => st.target === 0)) {
      problems.push({
        file: rel,
        ...locate(["load", "rate", "stages"]),
        path: "load.rate.stages",
        message: "every stage's target is 0: the load would send nothing",
        fix: "give at least one stage a target above 0 operations per second",
      });
    }
  }
  if (!scenario.target.replica) {
    for (const [phase, b] of Object.entries(scenario.budgets.load)) {
      if (b.max_replica_lag === undefined) continue;
      problems.push({
        file: rel,
        ...locate(["budgets", "load", phase, "max_replica_lag"]),
        path: `budgets.load.${phase}.max_replica_lag`,
        message: "a replica lag budget, but the scenario has no replica",
        fix: "set target.replica: true, or remove max_replica_lag",
      });
    }
    if (Object.keys(scenario.target.replica_settings).length > 0) {
      problems.push({
        file: rel,
        ...locate(["target", "replica_settings"]),
        path: "target.replica_settings",
        message: "replica settings, but the scenario has no replica",
        fix: "set target.replica: true, or remove target.replica_settings",
      });
    }
  }
  if (Object.keys(scenario.budgets.load).length > 0 && !scenario.load) {
    problems.push({
      file: rel,
      ...locate(["budgets", "load"]),
      path: "budgets.load",
      message: "load budgets, but the scenario has no load section",
      fix: "add a load: section, or remove budgets.load",
    });
  }
  for (const key of Object.keys(scenario.budgets.steps)) {
    if (!stepKeys.has(key)) {
      problems.push({
        file: rel,
        ...locate(["budgets", "steps", key]),
        path: `budgets.steps.${key}`,
        message: `no step "${key}"`,
        fix: 'write "phase/step" with names from migration.phases',
      });
    }
  }
  for (const [i, l] of scenario.budgets.locks.entries()) {
    if (l.phase && !phaseNames.has(l.phase)) {
      problems.push({
        file: rel,
        ...locate(["budgets", "locks", i, "phase"]),
        path: `budgets.locks[${i}].phase`,
        message: `no phase named "${l.phase}"`,
        fix: `use one of: ${[...phaseNames].join(", ")}`,
      });
    }
  }
  const ids = new Set<string>();
  for (const [i, inv] of scenario.invariants.entries()) {
    const id = inv.id ?? inv.check;
    if (ids.has(id)) {
      problems.push({
        file: rel,
        ...locate(["invariants", i]),
        path: `invariants[${i}]`,
        message: `two invariants share the id "${id}"`,
        fix: "give one of them an explicit id: field",
      });
    }
    ids.add(id);
  }
  const base = [...ids, "migration_completed"];
  const known = new Set([
    ...base,
    ...budgetCheckIds(scenario),
    "rollback_completed",
    ...base.map((id) => `${id}@rollback`),
  ]);
  for (const [i, id] of scenario.expect.failing.entries()) {
    if (!known.has(id)) {
      problems.push({
        file: rel,
        ...locate(["expect", "failing", i]),
        path: `expect.failing[${i}]`,
        message: `no check has the id "${id}"`,
        fix: `use one of: ${[...known].join(", ")}`,
      });
    }
  }
  // An extension the embedded binaries lack can never be created there: say so now, not after a cluster start.
  if (scenario.target.provider === "embedded" && scenario.target.extensions.length > 0) {
    const { embeddedExtensions, extensionFix, suggestedMajor } = await import("../clone/extensions.ts");
    const bundled = await embeddedExtensions();
    for (const [i, ext] of scenario.target.extensions.entries()) {
      if (!bundled || bundled.has(ext)) continue;
      problems.push({
        file: rel,
        ...locate(["target", "extensions", i]),
        path: `target.extensions[${i}]`,
        message: `the embedded PostgreSQL has no extension "${ext}"`,
        fix: extensionFix("embedded", await suggestedMajor(), ext),
      });
    }
  }
  if (scenario.dataset.tables.length === 0) {
    problems.push({
      file: rel,
      ...locate(["dataset"]),
      path: "dataset.tables",
      message: "no table to seed",
      fix: "add at least one table with rows and column generators",
    });
  }

  if (problems.length > 0 || !schemaSql) throw new ScenarioError(problems);
  return { dir, file, scenario, schemaSql, afterSql, phases, rollback, locate };
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

type SqlSrc = string | { file: string };

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
function rawSqlSources(raw: unknown): [SqlSrc, (string | number)[]][] {
  const out: [SqlSrc, (string | number)[]][] = [];
  const push = (v: unknown, p: (string | number)[]) => {
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
  return out;
}

/** Ids of the budget checks a scenario produces (see src/budgets). */
export function budgetCheckIds(s: Scenario): string[] {
  const ids = s.budgets.locks.map((l) => lockBudgetId(l));
  if (s.budgets.no_scan_under_access_exclusive) ids.push("budget.no_scan_under_access_exclusive");
  if (s.budgets.no_rewrite_under_access_exclusive) ids.push("budget.no_rewrite_under_access_exclusive");
  for (const p of Object.keys(s.budgets.phases)) ids.push(`budget.phase_duration.${p}`);
  for (const k of Object.keys(s.budgets.steps)) ids.push(`budget.step_duration.${k}`);
  const phases = s.migration.phases.map((p) => p.name);
  for (const [phase, limits] of Object.entries(s.budgets.load)) {
    for (const [metric, value] of Object.entries(limits)) {
      if (value === undefined) continue;
      for (const p of phase === "*" ? phases : [phase]) ids.push(`budget.load.${metric}.${p}`);
    }
  }
  return ids;
}

export function lockBudgetId(l: { mode: string; relation: string; phase?: string }): string {
  return `budget.lock_hold.${l.mode}${l.relation !== "*" ? `.${l.relation}` : ""}${l.phase ? `.${l.phase}` : ""}`;
}
