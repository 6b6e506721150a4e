/** `rehearse run`: one rehearsal (or, with --project-to, several and a projection), its reports and exit code. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import {
  buildProjection,
  DEFAULT_PROJECTION_SCALES,
  fileReporters,
  formatLongDuration,
  makeDirectory,
  onInterrupt,
  OutputDirError,
  prepareOutputDir,
  ProjectionInputError,
  redact,
  registerCleanup,
  rehearse,
  rehearseAtScales,
  renderProjectionMarkdown,
  renderTerminal,
  type RunReport,
  shouldUseColor,
  signalExitCode,
  sourceRows,
  writeReports,
} from "../index.ts";
import { parseRows, parseScale, parseScales, parseTargetRows, type SetExit } from "./options.ts";
import { createProgressView } from "./progress.ts";

interface RunFlags {
  scale?: number;
  rows?: Record<string, number>;
  rollback?: boolean;
  out: string;
  expect?: boolean;
  debug?: boolean;
  quiet?: boolean;
  progress?: boolean;
  projectTo?: number;
  projectToSource?: boolean;
  projectScales?: number[];
  cache?: boolean;
  provider?: string;
  targetUrl?: string;
  iKnowThisIsNotProduction?: boolean;
  auroraSourceCluster?: string;
  auroraSubnetGroup?: string;
  auroraSecurityGroup?: string[];
  auroraParameterGroup?: string;
  auroraInstanceClass?: string;
  auroraRegion?: string;
}

/**
 * `--out` checked before anything starts: a directory that cannot take the reports was found only after the
 * whole rehearsal (or, under /proc, hung it). Returns the absolute directory, or undefined once it has said
 * what is wrong (exit 2).
 */
function reportsDirOrSay(out: string): string | undefined {
  try {
    return prepareOutputDir(out);
  } catch (err) {
    if (!(err instanceof OutputDirError)) throw err;
    process.stderr.write(`rehearse: --out ${out}: ${err.reason}\n    fix: ${err.fix}\n`);
    return undefined;
  }
}

/** Writes an aborted run's reports synchronously (the process is about to exit on the signal). */
function writeAbortedReports(reportsRoot: string, report: RunReport): void {
  const dir = path.join(reportsRoot, report.run_id);
  makeDirectory(dir);
  for (const r of fileReporters()) writeFileSync(path.join(dir, r.fileName!), r.render(report));
  sayOnExit(
    `rehearse ABORTED ${redact(report.scenario.name)}: ${redact(report.reason ?? "interrupted")}; ` +
      `exit code ${report.exit_code}\nreports: ${shownPath(dir)}\n`,
  );
}

/** A path as printed: relative to where the user is when under it, else absolute (not ../../tmp/…). */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

let lastWords: string | undefined;

/**
 * What an interrupted run ends on, printed once its clean-up is over (the signal's exit path and the
 * command's own both end in process.exit): without it the last line on screen was a step's progress.
 */
function sayOnExit(text: string): void {
  // Registered after the live view's own exit listener, so its block is cleared before this is written.
  if (lastWords === undefined) process.once("exit", () => process.stdout.write(lastWords!));
  lastWords = text;
}

/** A run's exit code, read through --expect when given. */
function runExitCode(report: RunReport, expect: boolean | undefined): number {
  if (!expect) return report.exit_code;
  process.stdout.write(
    `expectation ${report.expectation.met ? "met" : "NOT met"}: ${report.expectation.explanation}\n`,
  );
  return report.expectation.met ? 0 : report.exit_code === 0 ? 1 : report.exit_code;
}

async function commandRun(scenarioPath: string, o: RunFlags): Promise<number> {
  if (o.projectTo !== undefined || o.projectToSource) return commandProject(scenarioPath, o);
  const reportsRoot = reportsDirOrSay(o.out);
  if (reportsRoot === undefined) return 2;
  const logger = createProgressView({ debug: o.debug, quiet: o.quiet, noProgress: o.progress === false });
  const rows = o.rows;
  const writeAborted = (report: RunReport) => writeAbortedReports(reportsRoot, report);
  const report = await rehearse({
    scenarioPath,
    scale: o.scale,
    rows,
    rollback: o.rollback,
    cache: o.cache,
    provider: o.provider,
    targetUrl: o.targetUrl,
    allowUnmarked: o.iKnowThisIsNotProduction,
    aurora: Object.fromEntries(
      Object.entries({
        source_cluster: o.auroraSourceCluster,
        subnet_group: o.auroraSubnetGroup,
        security_groups: o.auroraSecurityGroup,
        parameter_group: o.auroraParameterGroup,
        instance_class: o.auroraInstanceClass,
        region: o.auroraRegion,
      }).filter(([, v]) => v !== undefined),
    ),
    logger,
    onAbort: writeAborted,
  });
  // Already written when the signal came; writing again would race the exit the signal started.
  if (report.status === "aborted") return report.exit_code;
  const dir = path.join(reportsRoot, report.run_id);
  // A signal while the reports are written still ends aborted: once the writes in flight have landed (they
  // would otherwise overwrite it), the aborted report replaces them, before the process exits.
  let writing: Promise<unknown> = Promise.resolve();
  const stopListening = onInterrupt((signal) => {
    report.status = "aborted";
    report.exit_code = signalExitCode(signal);
    report.reason = `interrupted by ${signal} while writing the reports`;
    report.expectation = {
      ...report.expectation,
      met: false,
      explanation: `the run is aborted: ${report.reason}`,
    };
    registerCleanup("write the aborted report", async () => {
      await writing.catch(() => {});
      writeAborted(report);
    });
  });
  try {
    logger.event({ kind: "stage", stage: "writing the reports" });
    writing = writeReports(report, dir);
    await writing;
    process.stdout.write(`${renderTerminal(report, { color: shouldUseColor(process.stdout) })}\n`);
    process.stdout.write(`reports: ${shownPath(dir)}\n`);
  } finally {
    stopListening();
  }
  return runExitCode(report, o.expect);
}

/**
 * `run --project-to`: rehearses at each scale, writes each run's folder, then projection.json and
 * projection.md into the last one. Exit code: the worst of the runs; 2 if nothing could be fitted.
 */
async function commandProject(scenarioPath: string, o: RunFlags): Promise<number> {
  const reportsRoot = reportsDirOrSay(o.out);
  if (reportsRoot === undefined) return 2;
  let target = o.projectTo;
  let targetFrom: "flag" | "source_reltuples" = "flag";
  if (target === undefined) {
    try {
      const src = await sourceRows(scenarioPath);
      target = src.rows;
      targetFrom = "source_reltuples";
      process.stdout.write(`projecting to ${src.rows} rows (${src.table}'s reltuples at the source)\n`);
    } catch (err) {
      if (err instanceof ProjectionInputError) {
        process.stderr.write(`rehearse: ${redact(err.message)}\n    fix: ${err.fix}\n`);
        return 2;
      }
      throw err;
    }
  }
  const logger = createProgressView({ debug: o.debug, quiet: o.quiet, noProgress: o.progress === false });
  const codes: number[] = [];
  const dirs: string[] = [];
  const reports = await rehearseAtScales(
    {
      scenarioPath,
      scale: o.scale,
      rows: o.rows,
      rollback: o.rollback,
      logger,
      onAbort: (report) => writeAbortedReports(reportsRoot, report),
    },
    o.projectScales ?? DEFAULT_PROJECTION_SCALES,
    async (report) => {
      const dir = path.join(reportsRoot, report.run_id);
      await writeReports(report, dir);
      dirs.push(dir);
      process.stdout.write(`${renderTerminal(report, { color: shouldUseColor(process.stdout) })}\n`);
      process.stdout.write(`reports: ${shownPath(dir)}\n`);
      codes.push(runExitCode(report, o.expect));
    },
  );
  // 1 (failed) < 2 (inconclusive) < 130/143 (interrupted): the worst run decides.
  const worst = Math.max(0, ...codes);
  if (reports.some((r) => r.status === "aborted")) return worst;
  const projection = buildProjection({ reports, targetRows: target, targetFrom });
  if (projection.phases.length === 0) {
    process.stderr.write(
      `rehearse: nothing to project: no phase succeeded at two scales\n${projection.warnings.map((w) => `  ${w}\n`).join("")}`,
    );
    return worst === 0 ? 2 : worst;
  }
  const dir = dirs[dirs.length - 1]!;
  writeFileSync(path.join(dir, "projection.json"), `${JSON.stringify(projection, null, 2)}\n`, "utf8");
  writeFileSync(path.join(dir, "projection.md"), renderProjectionMarkdown(projection), "utf8");
  const t = projection.total;
  process.stdout.write(
    `projection at ${target} rows: ${formatLongDuration(t.projected_ms)}` +
      `${t.error_ms === null ? " (no error estimate from two scales)" : ` ± ${formatLongDuration(t.error_ms)}`}` +
      ` — a lower bound: production storage and instance class differ\n` +
      `projection: ${path.relative(process.cwd(), path.join(dir, "projection.md"))}\n`,
  );
  return worst;
}

export function defineRunCommand(program: Command, setExit: SetExit): void {
  program
    .command("run")
    .description("run a rehearsal: clone, seed, migrate with lock tracing, check, report, remove the clone")
    .argument("<scenario>", "scenario folder (containing scenario.yaml)")
    .addOption(new Option("--scale <factor>", "multiply every table's rows").argParser(parseScale))
    .addOption(new Option("--rows <n|table=n>", "rows to seed (repeatable)").argParser(parseRows))
    .option("--rollback", "run the rollback section after the migration and check the invariants again")
    .option("--out <dir>", "where report folders go", "reports")
    .option(
      "--expect",
      "exit 0 when the outcome matches the scenario's expect section (for hazard scenarios)",
    )
    .addOption(
      new Option(
        "--project-to <rows>",
        "rehearse at several scales and project each phase's duration to this many rows of the largest table",
      ).argParser(parseTargetRows),
    )
    .option("--project-to-source", "like --project-to, with the source's reltuples from init's fidelity.json")
    .addOption(
      new Option("--project-scales <factors>", "scales to rehearse at for a projection")
        .argParser(parseScales)
        .default([1, 2, 4], "1,2,4"),
    )
    .option("--quiet", "no progress lines")
    .option("--no-progress", "plain timestamped lines instead of the live status block on a terminal")
    .option("--debug", "server logs and stack traces")
    .option("--cache", "clone a cached seeded cluster (seeding it once) instead of seeding every run")
    .option("--no-cache", "seed this run even if the scenario sets target.cache")
    .option(
      "--provider <name>",
      "clone provider instead of the scenario's target.provider (embedded, system, container, url, aurora)",
    )
    .option(
      "--target-url <url>",
      "for --provider url: the database to rehearse on (else PGHOST, PGDATABASE…; keep the password in PGPASSWORD)",
    )
    .option(
      "--i-know-this-is-not-production",
      "let --provider url rehearse on a database that carries no clone marker (_rehearse.provenance)",
    )
    .option("--aurora-source-cluster <id>", "aurora: the cluster to clone (only ever read)")
    .option("--aurora-subnet-group <name>", "aurora: DB subnet group for the clone")
    .option(
      "--aurora-security-group <id>",
      "aurora: VPC security group for the clone (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--aurora-parameter-group <name>", "aurora: DB cluster parameter group for the clone")
    .option("--aurora-instance-class <class>", "aurora: instance class (default db.r6g.large)")
    .option("--aurora-region <region>", "aurora: AWS region (default: the AWS default chain's)")
    .action(async (scenario: string, o) => setExit(await commandRun(scenario, o)));
}
