/**
 * The `rehearse` command line: commander wiring only. Each command calls the library and maps its result to
 * an exit code: 0 passed, 1 failed, 2 could not be carried out (inconclusive), 129/130/143 interrupted.
 */
import { Command } from "commander";
import { OutputDirError, redact, runAllCleanups, TOOL_VERSION } from "../index.ts";
import { defineCloneCommands } from "./clone.ts";
import { defineInitCommand } from "./init.ts";
import type { SetExit } from "./options.ts";
import { defineReportCommands } from "./reports.ts";
import { defineRunCommand } from "./run.ts";
import { guardStdio } from "./stdio.ts";

function buildProgram(setExit: SetExit): Command {
  const program = new Command("rehearse")
    // Before the subcommands are added: they copy it, so a bad option value exits 2 (bad input), not 1.
    .exitOverride()
    .description(
      "Rehearse a risky PostgreSQL migration on a throwaway clone, tracing locks and checking invariants.",
    )
    .version(TOOL_VERSION)
    .addHelpText(
      "after",
      "\nExit codes: 0 every invariant and budget held; 1 the rehearsal ran and something failed;\n" +
        "2 the rehearsal could not be carried out (inconclusive); 129/130/143 interrupted by\n" +
        "SIGHUP (the terminal closed)/SIGINT (Ctrl-C)/SIGTERM: the clone is removed, the report marked aborted.",
    );

  defineRunCommand(program, setExit);
  defineCloneCommands(program, setExit);
  defineReportCommands(program, setExit);
  defineInitCommand(program, setExit);
  // A usage error is the message and one line pointing at the command's own help: the whole help after it
  // (40 lines) pushed the message out of sight. Set on each command: commander copies settings only once.
  shortUsageErrors(program, "rehearse");
  return program;
}

/** Each command's usage error ends with one line naming its own --help, subcommands (`cache prune`) too. */
function shortUsageErrors(command: Command, name: string): void {
  command.showHelpAfterError(`(see: ${name} --help)`);
  for (const sub of command.commands) shortUsageErrors(sub, `${name} ${sub.name()}`);
}

async function main(): Promise<void> {
  guardStdio();
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
    } else if (err instanceof OutputDirError) {
      // Checked before a run starts; this is a directory that went away or turned read-only since.
      process.stderr.write(
        `rehearse: cannot write the reports: ${redact(err.message)}\n    fix: ${err.fix}\n`,
      );
      code = 2;
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
