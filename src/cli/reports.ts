/** `rehearse validate`, `report`, `compare` and `schema`: reading scenarios and reports, nothing started. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import {
  compareReports,
  formatProblem,
  loadRun,
  loadScenario,
  makeDirectory,
  OutputDirError,
  prepareOutputDir,
  redact,
  renderComparisonHtml,
  renderComparisonMarkdown,
  renderTerminal,
  ReportInputError,
  rerenderReport,
  ScenarioError,
  scenarioJsonSchema,
  shouldUseColor,
} from "../index.ts";
import type { SetExit } from "./options.ts";

async function commandValidate(scenarioPath: string): Promise<number> {
  try {
    const rs = await loadScenario(scenarioPath);
    const steps = rs.phases.reduce((n, p) => n + p.steps.length, 0);
    process.stdout.write(
      `${path.relative(process.cwd(), rs.file)}: valid — ${rs.phases.length} phases, ${steps} steps, ` +
        `${rs.rollback.length} rollback steps, ${rs.scenario.invariants.length} invariants, expect ${rs.scenario.expect.verdict}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ScenarioError) {
      process.stderr.write(
        `${err.problems.length} problem(s):\n${err.problems.map(formatProblem).join("\n")}\n`,
      );
      return 2;
    }
    throw err;
  }
}

/** Bad input to `report`/`compare` (wrong path, damaged or incompatible report.json): message, exit 2. */
function reportInputFailure(err: unknown, out?: string): number {
  if (err instanceof ReportInputError) {
    process.stderr.write(`rehearse: ${redact(err.message)}\n`);
    return 2;
  }
  if (err instanceof OutputDirError) {
    process.stderr.write(`rehearse: --out ${out ?? err.dir}: ${err.reason}\n    fix: ${err.fix}\n`);
    return 2;
  }
  throw err;
}

async function commandReport(runDir: string, o: { out?: string; exitCode?: boolean }): Promise<number> {
  try {
    // Before reading anything: a directory that cannot take the files is the user's to fix, not a crash.
    if (o.out !== undefined) prepareOutputDir(o.out);
    const r = await rerenderReport(runDir, { out: o.out });
    const shown = path.relative(process.cwd(), r.dir) || r.dir;
    process.stdout.write(`${renderTerminal(r.report, { color: shouldUseColor(process.stdout) })}\n`);
    process.stdout.write(`re-rendered ${r.written.map((f) => path.basename(f)).join(", ")} into ${shown}\n`);
    return o.exitCode ? r.report.exit_code : 0;
  } catch (err) {
    return reportInputFailure(err);
  }
}

async function commandCompare(
  runA: string,
  runB: string,
  o: { format: "markdown" | "html"; out?: string },
): Promise<number> {
  try {
    if (o.out !== undefined) prepareOutputDir(path.dirname(path.resolve(o.out)));
    const a = await loadRun(runA, "run A (directory or report.json)");
    const b = await loadRun(runB, "run B (directory or report.json)");
    const comparison = compareReports(a.report, b.report);
    for (const w of comparison.warnings) process.stderr.write(`rehearse: warning: ${redact(w)}\n`);
    const text =
      o.format === "html" ? renderComparisonHtml(comparison) : renderComparisonMarkdown(comparison);
    if (o.out) {
      makeDirectory(path.dirname(path.resolve(o.out)));
      try {
        writeFileSync(o.out, text, "utf8");
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const reason =
          e.code === "EISDIR" ? "is a directory: --out takes a file" : `cannot write it (${e.code})`;
        throw new OutputDirError(
          path.resolve(o.out),
          reason,
          "pass --out a file path in a writable directory",
        );
      }
      process.stdout.write(`comparison written to ${o.out}\n`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  } catch (err) {
    return reportInputFailure(err, o.out);
  }
}

export function defineReportCommands(program: Command, setExit: SetExit): void {
  program
    .command("validate")
    .description("check a scenario (YAML, fields, SQL files and syntax) without running it")
    .argument("<scenario>", "scenario folder")
    .action(async (scenario: string) => setExit(await commandValidate(scenario)));

  program
    .command("report")
    .description("re-render every report file (summary.md, junit.xml, …) from a run's report.json")
    .argument("<run-dir>", "a run folder written by `rehearse run` (reports/<run-id>)")
    .option("--out <dir>", "write the files here instead of into <run-dir>")
    .option("--exit-code", "exit with the run's own exit code (0 passed, 1 failed, 2+ inconclusive/aborted)")
    .option("--debug", "stack traces")
    .addHelpText(
      "after",
      "\nThe run's verdict is shown as recorded: an aborted or inconclusive run stays so.\n" +
        "Exit codes: 0 rendered (whatever the run's verdict, unless --exit-code); 2 bad input (missing\n" +
        "folder, no report.json, malformed JSON, a report.json of an unsupported schema_version).",
    )
    .action(async (runDir: string, o) => setExit(await commandReport(runDir, o)));

  program
    .command("compare")
    .description("compare two runs per phase (A before, B after): timings, load latency, locks, checks")
    .argument("<runA>", "run folder or report.json: before")
    .argument("<runB>", "run folder or report.json: after")
    .addOption(
      new Option("--format <format>", "output format").choices(["markdown", "html"]).default("markdown"),
    )
    .option("--out <file>", "write to this file instead of stdout")
    .option("--debug", "stack traces")
    .addHelpText(
      "after",
      "\nChecks that passed in A and fail in B are listed first as regressions. If either run is aborted or\n" +
        "inconclusive the comparison says so at the top and never reads as an improvement. Runs of\n" +
        "different scenarios are compared with a warning.\n" +
        "Exit codes: 0 compared (whatever the result); 2 bad input (missing folder, no report.json,\n" +
        "malformed JSON, unsupported schema_version).",
    )
    .action(async (runA: string, runB: string, o) => setExit(await commandCompare(runA, runB, o)));

  program
    .command("schema")
    .description("print the JSON Schema of scenario.yaml (for editors)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
      setExit(0);
    });
}
