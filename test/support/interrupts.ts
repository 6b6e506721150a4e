/**
 * Interrupting the real CLI in a chosen stage, and looking for what it left behind. Shared by
 * test/integration/interrupts.test.ts and `npm run figures` (bench/figures.ts), so the figures count the very
 * cases the tests assert. No vitest here: the caller judges the outcome.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { RunReport } from "../../src/report/model.ts";

export const REPO = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(REPO, "bin/rehearse.js");
/** Every stage of a rehearsal, each long enough to be hit (test/fixtures/interrupts/scenario.yaml). */
export const INTERRUPT_SCENARIO = "test/fixtures/interrupts";

/** 128 + the signal's number, as the CLI exits (README, "Exit codes"). */
export const SIGNAL_EXIT_CODE = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

export interface InterruptCase {
  /** The stage, as the figures name it. */
  name: string;
  signal: keyof typeof SIGNAL_EXIT_CODE;
  /**
   * On a pseudo-terminal that is hung up when `when` matches (SIGHUP to its process group and the terminal
   * closed, as `tmux kill-session` does): output after that is lost, so only report.json and the temp dir
   * tell what happened. `signal` must be SIGHUP. Needs python3 (its pty module).
   */
  terminal?: boolean;
  /** Sent as soon as a stderr line matches this. */
  when: RegExp;
  /** What report.json's reason must say: the stage the signal landed in. */
  reason: RegExp;
  /** Extra flags for `rehearse run`. */
  args?: string[];
  /** Use the seeded-cluster cache (a directory shared by the cache cases, so the second one hits). */
  cache?: boolean;
  /** SIGKILL the postmaster just before the signal: the teardown meets a server that already died. */
  killServerFirst?: boolean;
  /** The clone method report.json must name (the cache cases: overlay, so there is a mount to leak). */
  expectMethod?: string;
}

// The fixture's largest table is `ref`; --rows names the one to grow.
const SEEDING_ROWS = ["--rows", "items=600000"];

export const INTERRUPT_CASES: InterruptCase[] = [
  {
    name: "provisioning (initdb)",
    signal: "SIGTERM",
    when: /stage: starting the clone/,
    reason: /interrupted by SIGTERM during starting the clone$/,
  },
  {
    name: "provisioning (server starting)",
    signal: "SIGINT",
    // --debug shows the server's own log: its first line comes before it accepts connections.
    args: ["--debug"],
    when: /starting PostgreSQL \d+/,
    reason: /interrupted by SIGINT during starting the clone$/,
  },
  {
    name: "seeding",
    signal: "SIGINT",
    args: SEEDING_ROWS,
    when: /seeding items: \d+\/600000/,
    reason: /interrupted by SIGINT during seeding$/,
  },
  {
    name: "load warmup",
    signal: "SIGTERM",
    when: /load: warming up/,
    reason: /interrupted by SIGTERM during starting the load and warming up \(migration\)$/,
  },
  {
    name: "migration phase prepare",
    signal: "SIGINT",
    when: /prepare\/settle: running/,
    reason: /interrupted by SIGINT during running the migration \(prepare\/settle\)$/,
  },
  {
    name: "migration phase copy (backfill)",
    signal: "SIGTERM",
    when: /backfill copy\/backfill: \d+ rows/,
    reason: /interrupted by SIGTERM during running the migration \(copy\/backfill\)$/,
  },
  {
    name: "migration phase cutover",
    signal: "SIGINT",
    when: /cutover\/settle: running/,
    reason: /interrupted by SIGINT during running the migration \(cutover\/settle\)$/,
  },
  {
    name: "checks",
    signal: "SIGTERM",
    when: /stage: checking invariants/,
    reason: /interrupted by SIGTERM during checking invariants$/,
  },
  {
    name: "reporting",
    signal: "SIGINT",
    when: /stage: writing the reports/,
    reason: /interrupted by SIGINT while writing the reports$/,
  },
  {
    name: "migration with a server that already died",
    signal: "SIGTERM",
    when: /prepare\/settle: running/,
    killServerFirst: true,
    reason: /interrupted by SIGTERM during running the migration \(prepare\/settle\)$/,
  },
  {
    name: "storing the seeded cluster in the cache",
    signal: "SIGINT",
    cache: true,
    when: /stage: storing the seeded cluster in the cache/,
    reason: /interrupted by SIGINT during storing the seeded cluster in the cache$/,
  },
  {
    name: "migration on an overlay clone (cache)",
    signal: "SIGTERM",
    cache: true,
    when: /prepare\/settle: running/,
    reason: /interrupted by SIGTERM during running the migration \(prepare\/settle\)$/,
    expectMethod: "overlay",
  },
  {
    name: "provisioning an overlay clone (cache)",
    signal: "SIGINT",
    cache: true,
    when: /stage: cloning the cached cluster/,
    reason: /interrupted by SIGINT during cloning the cached cluster$/,
  },
];

/**
 * A closed terminal (SIGHUP), kept apart from INTERRUPT_CASES, whose SIGINT/SIGTERM cases `npm run figures`
 * counts. Under a terminal the progress is the live view, so `when` matches its text as well as plain lines.
 */
export const HANGUP_CASES: InterruptCase[] = [
  {
    name: "seeding (SIGHUP sent)",
    signal: "SIGHUP",
    args: SEEDING_ROWS,
    when: /seeding items: \d+\/600000/,
    reason: /interrupted by SIGHUP during seeding$/,
  },
  {
    name: "seeding (the terminal closed)",
    signal: "SIGHUP",
    terminal: true,
    args: SEEDING_ROWS,
    // The live view's bar line ("seeding items [███░░]  12%  72,000/600,000") or a plain progress line.
    when: /seeding items(?::|\s\S*)\s+(?:\d+%\s+)?[\d,]+\/600,?000/,
    reason: /interrupted by SIGHUP during seeding$/,
  },
  {
    name: "migration phase prepare (the terminal closed)",
    signal: "SIGHUP",
    terminal: true,
    when: /prepare\/settle: running/,
    reason: /interrupted by SIGHUP during running the migration \(prepare\/settle\)$/,
  },
];

export interface Leftovers {
  /** `ps` lines of processes running from the run's TMPDIR (a postmaster's args name its data directory). */
  processes: string[];
  /** rehearse-* entries left in the run's TMPDIR (cluster and ack directories). */
  tempDirs: string[];
  /** /proc/mounts lines under the scratch directory (overlay clones). */
  mounts: string[];
  /** Half-made cache entries in the cache: `.build-*` staging directories, or an incomplete entry under a key. */
  staging: string[];
}

export interface InterruptOutcome {
  /** Whether the trigger line was seen and the signal sent. */
  signalled: boolean;
  code: number | null;
  /** What the CLI printed last on stdout (empty on a closed terminal, whose output is lost). */
  stdout: string;
  /** Plain progress on stderr; a terminal case's whole terminal output up to the hangup. */
  stderr: string;
  report?: RunReport;
  /** The other formats' text ("" when missing). */
  formats: { summary: string; junit: string; html: string };
  exitAfterSignalMs: number;
  leftovers: Leftovers;
}

let n = 0;

/** The postmaster pids serving a data directory under `tmp`. */
function postmastersUnder(tmp: string): number[] {
  return psLines()
    .filter((l) => l.includes(tmp) && / -D /.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

function psLines(): string[] {
  return execFileSync("ps", ["-eo", "pid,args"], { maxBuffer: 256 * 1024 * 1024 })
    .toString()
    .split("\n")
    .slice(1)
    .filter(Boolean);
}

/** Runs one case in a fresh TMPDIR under `scratch`; resolves once the CLI has exited and leftovers are read. */
export async function runInterruptCase(c: InterruptCase, scratch: string): Promise<InterruptOutcome> {
  const id = ++n;
  const tmp = path.join(scratch, `tmp${id}`);
  const out = path.join(scratch, `reports${id}`);
  mkdirSync(tmp, { recursive: true });
  const args = ["run", INTERRUPT_SCENARIO, "--out", out, ...(c.args ?? []), ...(c.cache ? ["--cache"] : [])];
  const env = {
    ...process.env,
    TMPDIR: tmp,
    CI: "true",
    REHEARSE_CACHE_DIR: path.join(scratch, "cache"),
    REHEARSE_CLONE_METHOD: c.cache ? "overlay" : "",
  };
  const run = c.terminal
    ? await runOnTerminal(c, args, { ...env, CI: "" })
    : await runOnPipes(c, args, env, tmp);
  const { signalled, code, stdout, stderr, exitAfterSignalMs } = run;
  const runs = readdirSafe(out);
  const dir = runs.length === 1 ? path.join(out, runs[0]!) : undefined;
  const read = (f: string) => (dir ? readSafe(path.join(dir, f)) : "");
  const json = read("report.json");
  return {
    signalled,
    code,
    stdout,
    stderr,
    report: json ? (JSON.parse(json) as RunReport) : undefined,
    formats: { summary: read("summary.md"), junit: read("junit.xml"), html: read("index.html") },
    exitAfterSignalMs,
    leftovers: {
      processes: psLines().filter((l) => l.includes(tmp)),
      tempDirs: readdirSafe(tmp).filter((f) => f.startsWith("rehearse-")),
      mounts: readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .filter((l) => l.includes(scratch)),
      staging: readdirSafe(path.join(scratch, "cache")).filter(
        (f) =>
          f.startsWith(".build-") ||
          f.startsWith(".broken-") ||
          // A published entry must be whole: a half-deleted one under the key makes every later run miss.
          (!f.startsWith(".") &&
            !(
              existsSync(path.join(scratch, "cache", f, "meta.json")) &&
              existsSync(path.join(scratch, "cache", f, "data", "PG_VERSION"))
            )),
      ),
    },
  };
}

type RunOutcome = Pick<InterruptOutcome, "signalled" | "code" | "stdout" | "stderr" | "exitAfterSignalMs">;

/** The CLI on pipes, signalled (by `c.signal`) as soon as its plain progress matches `c.when`. */
async function runOnPipes(
  c: InterruptCase,
  args: string[],
  env: NodeJS.ProcessEnv,
  tmp: string,
): Promise<RunOutcome> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env });
  let stdout = "";
  let stderr = "";
  let signalled = false;
  let signalledAt = 0;
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (signalled || !c.when.test(stderr)) return;
    signalled = true;
    if (c.killServerFirst) for (const pid of postmastersUnder(tmp)) process.kill(pid, "SIGKILL");
    signalledAt = performance.now();
    child.kill(c.signal);
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const exitAfterSignalMs = signalled ? performance.now() - signalledAt : 0;
  return { signalled, code, stdout, stderr, exitAfterSignalMs };
}

/** The CLI on a pseudo-terminal that pty-hangup.py hangs up as soon as the terminal shows `c.when`. */
async function runOnTerminal(c: InterruptCase, args: string[], env: NodeJS.ProcessEnv): Promise<RunOutcome> {
  const helper = path.join(REPO, "test/support/pty-hangup.py");
  const child = spawn("python3", [helper, c.when.source, process.execPath, BIN, ...args], { cwd: REPO, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const helperCode = await new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const last = stdout.trim().split("\n").pop() ?? "";
  if (helperCode !== 0 || !last.startsWith("{")) {
    throw new Error(`pty-hangup.py failed (exit ${helperCode}):\n${stderr.slice(-2000)}`);
  }
  const r = JSON.parse(last) as {
    signalled: boolean;
    code: number | null;
    signal: number | null;
    exit_after_signal_ms: number;
  };
  // Killed by a signal (SIGABRT from Node's exit on a hung-up terminal): not an exit code at all.
  const code = r.code ?? (r.signal === null ? null : -r.signal);
  return { signalled: r.signalled, code, stdout: "", stderr, exitAfterSignalMs: r.exit_after_signal_ms };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
