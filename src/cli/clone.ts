/** `rehearse clone`, `gc` and `cache`: clones kept for a person, and the resources clones leave to clean up. */
import { type Command, Option } from "commander";
import {
  cacheRoot,
  CloneRefusedError,
  formatProblem,
  gcAurora,
  listCache,
  provisionClone,
  pruneCache,
  redact,
  ScenarioError,
  UsageError,
} from "../index.ts";
import { parseAge, parseRows, parseScale, type SetExit } from "./options.ts";
import { createProgressView } from "./progress.ts";

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

export function defineCloneCommands(program: Command, setExit: SetExit): void {
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
}
