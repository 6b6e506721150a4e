/**
 * The safety figures (`npm run figures`), measured now, on this machine, by running things — nothing here is
 * a constant:
 *
 * - interrupts survived per stage: the interrupt cases of test/integration/interrupts.test.ts
 *   (test/support/interrupts.ts), each the real CLI signalled in one stage; survived = exit 130/143, every
 *   report format says aborted at that stage, no PostgreSQL process, temp directory or overlay mount left;
 * - faults survived and acknowledged writes checked: the all-faults rehearsal of faults.test.ts
 *   (test/support/all-faults.ts) — terminate_load_connections, restart_server, kill_backfill_worker under load;
 * - bad inputs tried: every test in a `*bad-input*.test.ts` file under test/, run by vitest (JSON reporter)
 *   and counted, with how many passed (each is one malformed scenario or flag that must exit 2);
 * - secrets found: rehearsals given a recognisable password (in --target-url, in PGPASSWORD, and a wrong one
 *   that fails to connect); every byte they wrote — stdout, stderr, every report file — is searched for it.
 *
 * Prints one line per figure; exits 1 if any figure is not what it must be.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { EmbeddedProvider } from "../src/clone/embedded.ts";
import type { Clone } from "../src/clone/provider.ts";
import { rehearse } from "../src/run/rehearsal.ts";
import { silentLogger } from "../src/util/logger.ts";
import { FAULTS, faultFigures, writeAllFaultsScenario } from "../test/support/all-faults.ts";
import {
  INTERRUPT_CASES,
  INTERRUPT_SCENARIO,
  REPO,
  runInterruptCase,
  type InterruptCase,
  type InterruptOutcome,
} from "../test/support/interrupts.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-figures-"));
chmodSync(scratch, 0o755);
let bad = false;
const say = (line: string) => process.stdout.write(`${line}\n`);
const secs = (t: number) => `${((performance.now() - t) / 1000).toFixed(0)} s`;

/** The same judgement as interrupts.test.ts, as one verdict with what went wrong. */
function interruptVerdict(c: InterruptCase, o: InterruptOutcome): string | undefined {
  const want = c.signal === "SIGINT" ? 130 : 143;
  if (!o.signalled) return "the stage was never reached";
  if (o.code !== want) return `exit ${o.code}, not ${want}`;
  if (o.report?.status !== "aborted") return `report.json status ${o.report?.status ?? "missing"}`;
  if (!c.reason.test(o.report.reason ?? "")) return `reason "${o.report.reason}"`;
  for (const [name, text] of Object.entries(o.formats))
    if (!/aborted/i.test(text)) return `${name} does not say aborted`;
  if (c.expectMethod && o.report.context.clone?.method !== c.expectMethod)
    return `clone method ${o.report.context.clone?.method}, not ${c.expectMethod}`;
  const left = [
    ...o.leftovers.processes,
    ...o.leftovers.tempDirs,
    ...o.leftovers.mounts,
    ...o.leftovers.staging,
  ];
  if (left.length > 0) return `left behind: ${left.join("; ")}`;
  if (o.exitAfterSignalMs > 20_000) return `took ${Math.round(o.exitAfterSignalMs)} ms to exit`;
  return undefined;
}

async function interrupts(): Promise<void> {
  const t = performance.now();
  let survived = 0;
  for (const c of INTERRUPT_CASES) {
    const o = await runInterruptCase(c, scratch);
    const why = interruptVerdict(c, o);
    if (!why) survived++;
    say(
      `  interrupt ${c.signal} during ${c.name}: ${why ? `NOT survived (${why})` : `survived (exit ${o.code}, ${Math.round(o.exitAfterSignalMs)} ms to exit, nothing left)`}`,
    );
  }
  if (survived !== INTERRUPT_CASES.length) bad = true;
  say(`interrupts survived: ${survived} of ${INTERRUPT_CASES.length} stages (${secs(t)})`);
}

async function faults(): Promise<void> {
  const t = performance.now();
  const r = await rehearse({ scenarioPath: writeAllFaultsScenario(scratch), logger: silentLogger });
  const f = faultFigures(r);
  if (f.survived.length !== FAULTS.length || f.acknowledgedChecked === 0) bad = true;
  say(
    `faults survived: ${f.survived.length} of ${FAULTS.length} in one rehearsal under load ` +
      `(${f.survived.join(", ") || "none"}; run ${r.status}${r.reason ? `: ${r.reason}` : ""}; ` +
      `${f.connectionLosses} load connections lost and reopened, ${f.backfillRestarts} backfill worker restart(s)) (${secs(t)})`,
  );
  say(`acknowledged writes checked by no_lost_writes: ${f.acknowledgedChecked}, none lost`);
}

/** Test files under test/ whose name says bad input. */
function badInputFiles(dir = path.join(REPO, "test")): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...badInputFiles(p));
    else if (/bad-input.*\.test\.ts$/.test(e)) out.push(path.relative(REPO, p));
  }
  return out.sort();
}

async function badInputs(): Promise<void> {
  const t = performance.now();
  const files = badInputFiles();
  const json = path.join(scratch, "bad-input.json");
  await new Promise<void>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(REPO, "node_modules/vitest/vitest.mjs"),
        "run",
        "--reporter=json",
        `--outputFile=${json}`,
        ...files,
      ],
      { cwd: REPO, stdio: "ignore" },
    );
    child.on("exit", () => resolve());
  });
  const result = JSON.parse(readFileSync(json, "utf8")) as {
    testResults: { name: string; assertionResults: { status: string }[] }[];
  };
  let tried = 0;
  let passed = 0;
  for (const f of result.testResults) {
    const n = f.assertionResults.length;
    const ok = f.assertionResults.filter((a) => a.status === "passed").length;
    tried += n;
    passed += ok;
    say(`  bad input: ${path.relative(REPO, f.name)}: ${n} cases, ${ok} passed`);
  }
  if (passed !== tried || tried === 0) bad = true;
  say(
    `bad inputs tried: ${tried} (${passed} passed), counted as the tests vitest ran in ${files.length} *bad-input*.test.ts files (${secs(t)})`,
  );
}

interface CliRun {
  code: number | null;
  text: string;
}

/** Runs the CLI and returns everything it wrote: stdout, stderr and every file under its --out. */
function cli(args: string[], env: NodeJS.ProcessEnv, out: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, "bin/rehearse.js"), ...args, "--out", out], {
      cwd: REPO,
      env: { ...process.env, CI: "true", ...env },
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr.on("data", (d: Buffer) => (text += d.toString()));
    child.on("exit", (code) => resolve({ code, text: text + filesUnder(out) }));
  });
}

function filesUnder(dir: string): string {
  let all = "";
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return "";
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    all += statSync(p).isDirectory() ? filesUnder(p) : `\n${readFileSync(p, "utf8")}`;
  }
  return all;
}

/** An embedded clone whose postgres password is `password` (it keeps its clone marker). */
async function cloneWithPassword(password: string): Promise<Clone> {
  const clone = await new EmbeddedProvider().start({});
  const c = new pg.Client(clone.connectionConfig());
  await c.connect();
  try {
    await c.query(`ALTER ROLE postgres PASSWORD ${c.escapeLiteral(password)}`);
  } finally {
    await c.end();
  }
  return clone;
}

async function secrets(): Promise<void> {
  const t = performance.now();
  const marker = `RecognisableSecret${randomBytes(6).toString("hex")}`;
  const urlPw = `${marker}url`;
  const envPw = `${marker}env`;
  const wrongPw = `${marker}wrong`;
  const [a, b] = await Promise.all([cloneWithPassword(urlPw), cloneWithPassword(envPw)]);
  try {
    const portA = Number(a.connectionConfig().port);
    const portB = Number(b.connectionConfig().port);
    const runs: [string, CliRun, number][] = [
      [
        "password in --target-url (a rehearsal under load, --debug)",
        await cli(
          [
            "run",
            INTERRUPT_SCENARIO,
            "--provider",
            "url",
            "--target-url",
            `postgres://postgres:${urlPw}@127.0.0.1:${portA}/rehearsal`,
            "--debug",
          ],
          { PGPASSWORD: urlPw },
          path.join(scratch, "secrets-url"),
        ),
        0,
      ],
      [
        "password in PGPASSWORD (a failing migration, --debug)",
        await cli(
          ["run", "test/fixtures/sql-error-at-runtime", "--provider", "url", "--debug"],
          {
            PGHOST: "127.0.0.1",
            PGPORT: String(portB),
            PGUSER: "postgres",
            PGDATABASE: "rehearsal",
            PGPASSWORD: envPw,
          },
          path.join(scratch, "secrets-env"),
        ),
        1,
      ],
      [
        "a wrong password in --target-url (authentication fails)",
        await cli(
          [
            "run",
            "test/fixtures/sql-error-at-runtime",
            "--provider",
            "url",
            "--target-url",
            `postgres://postgres:${wrongPw}@127.0.0.1:${portB}/rehearsal`,
            "--debug",
          ],
          {},
          path.join(scratch, "secrets-wrong"),
        ),
        2,
      ],
    ];
    let found = 0;
    for (const [what, r, want] of runs) {
      // A run that did not get as far as meant would make the search vacuous.
      if (r.code !== want) bad = true;
      // The marker is the common prefix of all three passwords: any of them, whole or cut, counts.
      const hits = r.text.split(marker).length - 1;
      found += hits;
      say(
        `  secrets: ${what}: exit ${r.code}${r.code === want ? "" : ` (NOT the expected ${want})`}, ${r.text.length} bytes searched, ${hits} found`,
      );
    }
    if (found !== 0) bad = true;
    say(`secrets found: ${found} in ${runs.length} runs' stdout, stderr and report files (${secs(t)})`);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

const started = performance.now();
try {
  say(`rehearse safety figures, ${new Date().toISOString()}, node ${process.version}`);
  await interrupts();
  await faults();
  await badInputs();
  await secrets();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
say(`done in ${secs(started)}${bad ? "; SOME FIGURES ARE NOT WHAT THEY MUST BE" : ""}`);
process.exit(bad ? 1 : 0);
