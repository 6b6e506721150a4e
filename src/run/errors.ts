/** Why a run stops short of a verdict, and how each reason reads in the report: one place for every stage. */
import path from "node:path";
import { CloneRefusedError } from "../clone/provider.ts";
import type { RunReport } from "../report/model.ts";
import { formatProblem, type ResolvedScenario, ScenarioError } from "../scenario/load.ts";
import type { Logger } from "../util/logger.ts";
import { redact } from "../util/redact.ts";

/** The rehearsal could not be carried out (bad input, a machine that cannot make the clone): exit 2. */
export class Inconclusive extends Error {}

/** A flag that cannot apply to this scenario or provider (--rows naming no seeded table…): exit 2, with a fix. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** What to pass instead. */
    readonly fix: string,
  ) {
    super(message);
  }
}

/** A problem at a path of scenario.yaml, as `file:line:column: message` with its fix. */
export function located(rs: ResolvedScenario, at: (string | number)[], message: string, fix: string): string {
  const { line, column } = rs.locate(at);
  const rel = path.relative(process.cwd(), rs.file);
  return formatProblem({
    file: rel,
    line,
    column,
    path: at
      .map((k) => (typeof k === "number" ? `[${k}]` : k))
      .join(".")
      .replace(/\.\[/g, "["),
    message,
    fix,
  });
}

/** Marks the report inconclusive for the error that ended the run (an interrupt has its own reason). */
export function recordFailure(report: RunReport, log: Logger, err: unknown, stage: string): void {
  report.status = "inconclusive";
  report.exit_code = 2;
  // Redacted here, not only when written: the report object is API too, and an error may quote a secret.
  report.reason = redact(
    err instanceof ScenarioError
      ? `the scenario is invalid:\n${err.problems.map(formatProblem).join("\n")}`
      : err instanceof CloneRefusedError || err instanceof UsageError
        ? `${err.message}\nfix: ${err.fix}`
        : err instanceof Inconclusive
          ? err.message
          : `harness error while ${stage}: ${(err as Error).message}`,
  );
  if (
    !(err instanceof ScenarioError) &&
    !(err instanceof Inconclusive) &&
    !(err instanceof CloneRefusedError) &&
    !(err instanceof UsageError)
  )
    log.debug((err as Error).stack ?? "");
}
