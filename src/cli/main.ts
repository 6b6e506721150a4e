/**
 * The `rehearse` command line: commander wiring only. Each command calls the library and maps its result to
 * an exit code: 0 passed, 1 failed, 2 could not be carried out (inconclusive), 130/143 interrupted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { compareReports, renderComparisonHtml, renderComparisonMarkdown } from "../report/compare.ts";
import type { RunReport } from "../report/model.ts";
import { fileReporters } from "../report/registry.ts";
import { loadRun, ReportInputError, rerenderReport } from "../report/rerender.ts";
import { renderTerminal, shouldUseColor } from "../report/terminal.ts";
import { writeReports } from "../report/write.ts";
import { scenarioJsonSchema } from "../scenario/json-schema.ts";
import { formatProblem, loadScenario, ScenarioError } from "../scenario/load.ts";
import { STRATEGIES, type StrategyName } from "../init/scaffold.ts";
import { createProgressView } from "./progress.ts";
import { onInterrupt, registerCleanup, runAllCleanups, signalExitCode } from "../util/cleanup.ts";
import { redact } from "../util/redact.ts";
import { TOOL_VERSION } from "../version.ts";

function parseScale(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("--scale takes a positive number, e.g. 0.1 or 10");
  return n;
}

/** --rows 1000000 (every seeded table… no: the first) or --rows ledger=1000000 (repeatable). */
function parseRows(v: string, prev: Record<string, number> = {}): Record<string, number> {
  const m = /^(?:([A-Za-z_][\w.$]*)=)?(\d+)$/.exec(v.replace(/_/g, ""));
  if (!m || Number(m[2]) <= 0) {
    throw new InvalidArgumentError(
      "--rows takes a positive row count for the largest table (--rows 1000000) or table=rows (--rows ledger=1000000)",
    );
  }
  return { ...prev, [m[1] ?? "*"]: Number(m[2]) };
}

function parseScales(v: string): number[] {
  const list = v.split(",").map((x) => Number(x.trim()));
  if (
    list.length < 2 ||
    list.some((n) => !Number.isFinite(n) || n <= 0) ||
    new Set(list).size !== list.length
  )
    throw new InvalidArgumentError(
      "--project-scales takes two or more distinct positive factors, e.g. 1,2,4 (three give the fit an error)",
    );
  return list;
}

function parseTargetRows(v: string): number {
  const n = Number(v.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError("--project-to takes the production row count, e.g. 350000000");
  return n;
}

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
  const logger = createProgressView({ debug: o.debug, quiet: o.quiet, noProgress: o.progress === false });
  const rows = o.rows;
  const reportsRoot = path.resolve(o.out);
  const writeAborted = (report: RunReport) => {
    // Synchronous: the process is about to exit on the signal.
    const dir = path.join(reportsRoot, report.run_id);
    mkdirSync(dir, { recursive: true });
    for (const r of fileReporters()) writeFileSync(path.join(dir, r.fileName!), r.render(report));
  };
  // Loaded on demand: `validate` and `schema` need none of the rehearsal machinery.
  const { rehearse } = await import("../run/rehearsal.ts");
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
    process.stdout.write(`reports: ${path.relative(process.cwd(), dir) || dir}\n`);
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
  const { rehearseAtScales, sourceRows, ProjectionInputError, DEFAULT_PROJECTION_SCALES } =
    await import("../project/run.ts");
  const { buildProjection } = await import("../project/projection.ts");
  const { renderProjectionMarkdown, formatLongDuration } = await import("../project/markdown.ts");
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
  const reportsRoot = path.resolve(o.out);
  const codes: number[] = [];
  const dirs: string[] = [];
  const reports = await rehearseAtScales(
    {
      scenarioPath,
      scale: o.scale,
      rows: o.rows,
      rollback: o.rollback,
      logger,
      onAbort: (report) => {
        const dir = path.join(reportsRoot, report.run_id);
        mkdirSync(dir, { recursive: true });
        for (const r of fileReporters()) writeFileSync(path.join(dir, r.fileName!), r.render(report));
      },
    },
    o.projectScales ?? DEFAULT_PROJECTION_SCALES,
    async (report) => {
      const dir = path.join(reportsRoot, report.run_id);
      await writeReports(report, dir);
      dirs.push(dir);
      process.stdout.write(`${renderTerminal(report, { color: shouldUseColor(process.stdout) })}\n`);
      process.stdout.write(`reports: ${path.relative(process.cwd(), dir) || dir}\n`);
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

function parseAge(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError("--older-than takes a number and a unit: 30m, 12h, 7d");
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

function formatBytes(n: number | undefined): string {
  if (n === undefined) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

async function commandCacheLs(): Promise<number> {
  const { cacheRoot, listCache } = await import("../clone/snapshot-cache.ts");
  const entries = await listCache();
  if (entries.length === 0) {
    process.stdout.write(`no cached seeded clusters in ${cacheRoot()}\n`);
    return 0;
  }
  process.stdout.write(`${cacheRoot()}:\n`);
  for (const e of entries) {
    const rows = Object.entries(e.meta.rows)
      .map(([t, n]) => `${t}=${n}`)
      .join(" ");
    process.stdout.write(
      `${e.key}  ${e.meta.scenario}  ${formatBytes(e.bytes)}  PostgreSQL ${e.meta.postgres_version ?? "?"}  ` +
        `last used ${e.lastUsed.toISOString()}  ${rows}\n`,
    );
  }
  return 0;
}

async function commandCachePrune(o: { olderThan?: number; dryRun?: boolean }): Promise<number> {
  const { pruneCache } = await import("../clone/snapshot-cache.ts");
  const r = await pruneCache({ olderThanMs: o.olderThan, dryRun: o.dryRun });
  const verb = o.dryRun ? "would remove" : "removed";
  for (const e of r.removed)
    process.stdout.write(`${verb} ${e.key} (${e.meta.scenario}, ${formatBytes(e.bytes)})\n`);
  for (const p of r.partial) process.stdout.write(`${verb} an interrupted build: ${p}\n`);
  for (const e of r.inUse)
    process.stdout.write(`kept ${e.key} (${e.meta.scenario}): a running clone uses it\n`);
  const freed = r.removed.reduce((n, e) => n + (e.bytes ?? 0), 0);
  process.stdout.write(
    `${verb} ${r.removed.length} entr${r.removed.length === 1 ? "y" : "ies"}, ${formatBytes(freed)}\n`,
  );
  return 0;
}

async function commandClone(
  scenarioPath: string | undefined,
  o: {
    provider?: string;
    scale?: number;
    rows?: Record<string, number>;
    targetUrl?: string;
    iKnowThisIsNotProduction?: boolean;
    debug?: boolean;
  },
): Promise<number> {
  const { provisionClone } = await import("../run/clone-session.ts");
  const { UsageError } = await import("../run/rehearsal.ts");
  const { CloneRefusedError } = await import("../clone/provider.ts");
  const logger = createProgressView({ debug: o.debug, noProgress: true });
  let session;
  try {
    session = await provisionClone({
      scenarioPath,
      provider: o.provider,
      scale: o.scale,
      rows: o.rows,
      targetUrl: o.targetUrl,
      allowUnmarked: o.iKnowThisIsNotProduction,
      logger,
    });
  } catch (err) {
    if (err instanceof CloneRefusedError || err instanceof UsageError) {
      process.stderr.write(`rehearse: ${redact(err.message)}\nfix: ${redact(err.fix)}\n`);
      return 2;
    }
    if (err instanceof ScenarioError) {
      process.stderr.write(`${err.problems.map(formatProblem).join("\n")}\n`);
      return 2;
    }
    throw err;
  }
  const { clone, passFile, seededRows } = session;
  const url = clone.displayUrl();
  process.stdout.write(
    `clone ready (${clone.provider}${seededRows !== undefined ? `, ${seededRows} rows seeded` : ""}): ${url}\n` +
      `the password is in ${passFile} (mode 0600, removed with the clone); connect with:\n` +
      `  PGPASSFILE=${passFile} psql '${url.replace(":***@", "@")}'\n` +
      "Ctrl-C stops and removes the clone.\n",
  );
  // Kept alive until SIGINT/SIGTERM. The exit hook then runs the cleanup registry, which stops the clone
  // after the server has exited and removes its files and the pgpass file; stopping it here as well would
  // race that hook (the server would still be writing while its directory is removed).
  setInterval(() => {}, 60_000);
  return new Promise<number>(() => {});
}

async function commandGc(o: { dryRun?: boolean; region?: string }): Promise<number> {
  const { RDSClient } = await import("@aws-sdk/client-rds");
  const { gcAurora } = await import("../clone/aurora.ts");
  const client = new RDSClient(o.region ? { region: o.region } : {});
  try {
    const r = await gcAurora(client, {
      dryRun: o.dryRun,
      log: (l) => process.stdout.write(`${redact(l)}\n`),
    });
    for (const f of r.failed)
      process.stderr.write(`rehearse: could not delete ${f.cluster}: ${redact(f.error)}\n`);
    process.stdout.write(
      `${o.dryRun ? "would delete" : "deleted"} ${r.deleted.length} expired clone(s); ${r.kept} not yet expired\n`,
    );
    return r.failed.length > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(
      `rehearse: gc could not list the clusters: ${redact((err as Error).message)}\n` +
        "fix: configure AWS credentials (the default chain) and a region (--region or AWS_REGION)\n",
    );
    return 2;
  }
}

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
function reportInputFailure(err: unknown): number {
  if (err instanceof ReportInputError) {
    process.stderr.write(`rehearse: ${redact(err.message)}\n`);
    return 2;
  }
  throw err;
}

async function commandReport(runDir: string, o: { out?: string; exitCode?: boolean }): Promise<number> {
  try {
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
    const a = await loadRun(runA, "run A (directory or report.json)");
    const b = await loadRun(runB, "run B (directory or report.json)");
    const comparison = compareReports(a.report, b.report);
    for (const w of comparison.warnings) process.stderr.write(`rehearse: warning: ${redact(w)}\n`);
    const text =
      o.format === "html" ? renderComparisonHtml(comparison) : renderComparisonMarkdown(comparison);
    if (o.out) {
      mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
      writeFileSync(o.out, text, "utf8");
      process.stdout.write(`comparison written to ${o.out}\n`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  } catch (err) {
    return reportInputFailure(err);
  }
}

async function commandInit(o: {
  fromUrl: string;
  table: string[];
  out?: string;
  keepSampleValues?: boolean;
  strategy?: StrategyName;
  rows?: Record<string, number>;
  fidelity?: boolean;
}): Promise<number> {
  const { runInit } = await import("../init/init.ts");
  const { InitError } = await import("../init/source.ts");
  const log = (line: string) => process.stderr.write(`rehearse init: ${redact(line)}\n`);
  try {
    const r = await runInit({
      url: o.fromUrl,
      tables: o.table,
      out: o.out,
      keepSampleValues: o.keepSampleValues,
      strategy: o.strategy,
      rows: o.rows?.["*"],
      fidelity: o.fidelity,
      log,
    });
    const shown = path.relative(process.cwd(), r.dir) || r.dir;
    for (const n of r.notes) process.stdout.write(`  note: ${redact(n)}\n`);
    if (r.fidelity) {
      const { renderFidelity } = await import("../init/fidelity.ts");
      process.stdout.write(`\n${renderFidelity(r.fidelity)}\n`);
    }
    process.stdout.write(`wrote ${r.files.map((f) => path.join(shown, f)).join(", ")}\n`);
    process.stdout.write(`next: npx rehearse run ${shown}${o.strategy ? " --rollback" : ""}\n`);
    return 0;
  } catch (err) {
    if (err instanceof InitError) {
      process.stderr.write(`rehearse init: ${redact(err.message)}\n    fix: ${redact(err.fix)}\n`);
      return 2;
    }
    throw err;
  }
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("rehearse")
    // Before the subcommands are added: they copy it, so a bad option value exits 2 (bad input), not 1.
    .exitOverride()
    .description(
      "Rehearse a risky PostgreSQL migration on a throwaway clone, tracing locks and checking invariants.",
    )
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .addHelpText(
      "after",
      "\nExit codes: 0 every invariant and budget held; 1 the rehearsal ran and something failed;\n" +
        "2 the rehearsal could not be carried out (inconclusive); 130/143 interrupted.",
    );

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

  program
    .command("clone")
    .description("provision a clone (seeded from the scenario's dataset if empty) and keep it until Ctrl-C")
    .argument("[scenario]", "scenario folder whose dataset (and target) to use")
    .option(
      "--provider <name>",
      "embedded, system, container, url or aurora (default: the scenario's target.provider)",
    )
    .addOption(new Option("--scale <factor>", "multiply every table's rows").argParser(parseScale))
    .addOption(new Option("--rows <n|table=n>", "rows to seed (repeatable)").argParser(parseRows))
    .option("--target-url <url>", "for --provider url")
    .option(
      "--i-know-this-is-not-production",
      "for --provider url: accept a database without the clone marker",
    )
    .option("--debug", "server logs")
    .action(async (scenario: string | undefined, o) => setExit(await commandClone(scenario, o)));

  program
    .command("gc")
    .description("delete expired Aurora clones (tagged rehearse:expires-at in the past), instances first")
    .option("--dry-run", "list what would be deleted, delete nothing")
    .option("--region <region>", "AWS region (default: the AWS default chain's)")
    .action(async (o: { dryRun?: boolean; region?: string }) => setExit(await commandGc(o)));

  const cache = program
    .command("cache")
    .description(`the seeded-cluster cache ($REHEARSE_CACHE_DIR or ~/.cache/rehearse)`);
  cache
    .command("ls")
    .description("list cached seeded clusters, most recently used first")
    .action(async () => setExit(await commandCacheLs()));
  cache
    .command("prune")
    .description("remove cached seeded clusters (all, or those unused for --older-than)")
    .addOption(new Option("--older-than <duration>", "e.g. 7d, 12h, 30m").argParser(parseAge))
    .option("--dry-run", "say what would be removed, remove nothing")
    .action(async (o: { olderThan?: number; dryRun?: boolean }) => setExit(await commandCachePrune(o)));

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
    .command("init")
    .description(
      "write a scenario fitted to a database's catalog and planner statistics (never its rows), and a migration scaffold",
    )
    .requiredOption("--from-url <url>", "the source database (postgres://user:password@host/db); read only")
    .requiredOption("--table <name>", "a table to rehearse (repeatable; the first one is migrated)", collect)
    .option("--out <dir>", "scenario folder (default scenarios/<table>)")
    .option("--keep-sample-values", "keep text values seen in the statistics instead of synthetic ones")
    .addOption(
      new Option("--strategy <name>", "scaffold the migration from a built-in strategy").choices(STRATEGIES),
    )
    .addOption(
      new Option("--rows <n>", "rows to seed (default: the source's, at most 100000)").argParser(parseRows),
    )
    .option("--no-fidelity", "do not seed a clone to compare its statistics with the source's")
    .addHelpText(
      "after",
      "\nRuns in one READ ONLY transaction with a 5s statement_timeout; reads pg_catalog and pg_stats only.\n" +
        "The role needs SELECT on the tables or pg_read_all_stats (GRANT pg_read_all_stats TO <role>).\n" +
        "Exit codes: 0 written; 2 bad input (missing table, no statistics, no access, a strategy that does not fit).",
    )
    .action(async (o) => setExit(await commandInit(o)));

  program
    .command("schema")
    .description("print the JSON Schema of scenario.yaml (for editors)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
      setExit(0);
    });
  return program;
}

async function main(): Promise<void> {
  let code = 0;
  const debug = process.argv.includes("--debug");
  const program = buildProgram((c) => {
    code = c;
  });
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === "string" && e.code.startsWith("commander.")) {
      // Help and version exit 0; usage errors are bad input: 2.
      code = e.exitCode === 0 ? 0 : 2;
    } else {
      process.stderr.write(`rehearse: internal error: ${redact(e.message ?? String(err))}\n`);
      if (debug && err instanceof Error && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
      code = 2;
    }
  } finally {
    await runAllCleanups();
  }
  // process.exit() drops what a pipe has not taken yet (stdout to a pipe is asynchronous: `rehearse schema |
  // diff` lost everything past 64 KiB): exit once stdout and stderr have flushed.
  await Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write("", () => r()))),
  );
  process.exit(code);
}

await main();
