/** `rehearse init`: a scenario fitted to a real database, written for the user to edit and run. */
import path from "node:path";
import { type Command, Option } from "commander";
import {
  InitError,
  OutputDirError,
  prepareOutputDir,
  redact,
  renderFidelity,
  runInit,
  STRATEGIES,
  type StrategyName,
} from "../index.ts";
import { collect, parseRows, type SetExit } from "./options.ts";

async function commandInit(o: {
  fromUrl: string;
  table: string[];
  out?: string;
  keepSampleValues?: boolean;
  strategy?: StrategyName;
  rows?: Record<string, number>;
  fidelity?: boolean;
  force?: boolean;
  partitionKey?: string;
}): Promise<number> {
  const log = (line: string) => process.stderr.write(`rehearse init: ${redact(line)}\n`);
  try {
    // Before the source is read: a folder that cannot be written (/proc/x made mkdir spin) is bad input.
    if (o.out !== undefined) prepareOutputDir(o.out);
    const r = await runInit({
      url: o.fromUrl,
      tables: o.table,
      out: o.out,
      keepSampleValues: o.keepSampleValues,
      strategy: o.strategy,
      rows: o.rows?.["*"],
      fidelity: o.fidelity,
      force: o.force,
      partitionKey: o.partitionKey,
      log,
    });
    const shown = path.relative(process.cwd(), r.dir) || r.dir;
    for (const n of r.notes) process.stdout.write(`  note: ${redact(n)}\n`);
    if (r.fidelity) {
      process.stdout.write(`\n${renderFidelity(r.fidelity)}\n`);
    }
    process.stdout.write(`wrote ${r.files.map((f) => path.join(shown, f)).join(", ")}\n`);
    process.stdout.write(`next: npx rehearse run ${shown}${r.rollback ? " --rollback" : ""}\n`);
    return 0;
  } catch (err) {
    if (err instanceof OutputDirError) {
      process.stderr.write(`rehearse init: --out ${o.out}: ${err.reason}\n    fix: ${err.fix}\n`);
      return 2;
    }
    if (err instanceof InitError) {
      process.stderr.write(`rehearse init: ${redact(err.message)}\n    fix: ${redact(err.fix)}\n`);
      return 2;
    }
    throw err;
  }
}

export function defineInitCommand(program: Command, setExit: SetExit): void {
  program
    .command("init")
    .description(
      "write a scenario fitted to a database's catalog and planner statistics (never its rows), and a migration scaffold",
    )
    .requiredOption("--from-url <url>", "the source database (postgres://user:password@host/db); read only")
    .requiredOption("--table <name>", "a table to rehearse (repeatable; the first one is migrated)", collect)
    .option("--out <dir>", "scenario folder (default scenarios/<table>)")
    .option("--force", "overwrite the files of an existing scenario folder (default: refuse, naming them)")
    .option("--keep-sample-values", "keep text values seen in the statistics instead of synthetic ones")
    .addOption(
      new Option("--strategy <name>", "scaffold the migration from a built-in strategy").choices(STRATEGIES),
    )
    .addOption(
      new Option("--rows <n>", "rows to seed (default: the source's, at most 100000)").argParser(parseRows),
    )
    .option(
      "--partition-key <column>",
      "the column to partition by (default: init ranks the candidates and prints why it chose one)",
    )
    .option("--no-fidelity", "do not seed a clone to compare its statistics with the source's")
    .addHelpText(
      "after",
      "\nRuns in one READ ONLY transaction with a 5s statement_timeout; reads pg_catalog and pg_stats only.\n" +
        "The role needs SELECT on the tables or pg_read_all_stats (GRANT pg_read_all_stats TO <role>).\n" +
        "Exit codes: 0 written; 2 bad input (missing table, no statistics, no access, a strategy that does not fit).",
    )
    .action(async (o) => setExit(await commandInit(o)));
}
