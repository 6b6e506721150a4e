/**
 * The bad-input corpus (test/support/bad-input-cases.ts) through the real CLI: every malformed scenario or
 * flag exits 2 with the file, line, field and fix, prints no stack trace, writes an inconclusive report when
 * it got as far as `run`, and leaves no server and no temp directory behind. Cases run a few at a time: most
 * fail at validation and need no server, the rest start one and must remove it.
 */
import { execSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BAD_INPUT_CASES,
  BASE_FILES,
  type BadInputCase,
  type BadInputCategory,
  SCENARIO,
} from "../support/bad-input-cases.ts";
import { limiter } from "../support/limiter.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-bad-input-"));
// The server runs as the postgres user and must reach its data directory under the per-case TMPDIR.
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// tsx keeps its transpile cache in $TMPDIR/tsx-<uid>. Each case has its own TMPDIR (to find what it left
// behind), which would make every case transpile the whole CLI again: a shared cache, linked into each,
// takes ~40% off each case's CPU time.
const tsxCache = path.join(scratch, "tsx-cache");
const tsxCacheName = `tsx-${process.getuid?.() ?? 0}`;
mkdirSync(tsxCache, { recursive: true });

/** Two cores shared with other work: more CLIs at once only queue for the CPU. */
const PARALLEL = 3;
const slot = limiter(PARALLEL);

interface Outcome {
  code: number | null;
  output: string;
  tmp: string;
  out: string;
}

let n = 0;
function runCli(c: Pick<BadInputCase, "args" | "files" | "env">): Promise<Outcome> {
  const dir = path.join(scratch, `case${++n}`);
  const scenario = path.join(dir, "scenario");
  const tmp = path.join(dir, "tmp");
  const out = path.join(dir, "reports");
  mkdirSync(tmp, { recursive: true });
  symlinkSync(tsxCache, path.join(tmp, tsxCacheName));
  mkdirSync(scenario, { recursive: true });
  for (const [file, text] of Object.entries(c.files ?? {})) {
    mkdirSync(path.dirname(path.join(scenario, file)), { recursive: true });
    writeFileSync(path.join(scenario, file), text);
  }
  const args = c.args.map((a) => (a === SCENARIO ? path.relative(repo, scenario) : a));
  if (args[0] === "run") args.push("--out", out);
  // No PG* from the developer's shell: the url-provider cases must see none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  return slot(
    () =>
      new Promise<Outcome>((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args], {
          cwd: repo,
          env: { ...env, ...c.env, TMPDIR: tmp, CI: "true" },
        });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("error", reject);
        child.on("exit", (code) => resolve({ code, output, tmp, out }));
      }),
  );
}

function expectNothingLeft(r: Outcome): void {
  expect(readdirSync(r.tmp).filter((f) => f.startsWith("rehearse-"))).toEqual([]);
  const ps = execSync("ps -eo args").toString();
  expect(ps.split("\n").filter((l) => l.includes(r.tmp))).toEqual([]);
}

/** Every report written is inconclusive (exit 2); a `run` that got past its flags writes exactly one. */
function expectInconclusiveReport(c: BadInputCase, r: Outcome): void {
  const dirs = existsSync(r.out) ? readdirSync(r.out) : [];
  const usage = /^error: /m.test(r.output);
  if (c.args[0] === "run" && !usage) expect(dirs).toHaveLength(1);
  for (const d of dirs) {
    const report = JSON.parse(readFileSync(path.join(r.out, d, "report.json"), "utf8"));
    expect(report).toMatchObject({ status: "inconclusive", exit_code: 2 });
  }
}

beforeAll(async () => {
  // Fills the shared transpile cache once, before the cases race to fill it.
  const r = await runCli({ args: ["validate", SCENARIO], files: { ...BASE_FILES } });
  expect(r.code, r.output).toBe(0);
}, 120_000);

describe("the bad-input corpus", () => {
  it("has at least 40 cases covering every category", () => {
    expect(BAD_INPUT_CASES.length).toBeGreaterThanOrEqual(40);
    const categories: BadInputCategory[] = [
      "yaml-syntax",
      "wrong-type",
      "unknown-key",
      "missing-file",
      "sql-syntax",
      "missing-reference",
      "impossible-rate",
      "budget-unit",
      "conflicting-provider",
      "cli-flag",
    ];
    for (const cat of categories)
      expect(BAD_INPUT_CASES.filter((c) => c.category === cat).length, cat).toBeGreaterThanOrEqual(2);
    expect(new Set(BAD_INPUT_CASES.map((c) => c.name)).size).toBe(BAD_INPUT_CASES.length);
  });
});

describe.concurrent("bad input exits 2 with file, field and fix", () => {
  // The scenario every case breaks is itself good: validated and rehearsed, it passes. Without this a case
  // could "fail" for a reason unrelated to what it breaks.
  it("the base scenario validates and rehearses with exit 0", { timeout: 180_000 }, async () => {
    const v = await runCli({ args: ["validate", SCENARIO], files: { ...BASE_FILES } });
    expect(v.code, v.output).toBe(0);
    const r = await runCli({ args: ["run", SCENARIO, "--rollback"], files: { ...BASE_FILES } });
    expect(r.code, r.output).toBe(0);
    expectNothingLeft(r);
  });

  for (const c of BAD_INPUT_CASES) {
    it(`${c.category}: ${c.name}`, { timeout: 180_000 }, async () => {
      const r = await runCli(c);
      expect(r.code, r.output).toBe(2);
      for (const w of c.want) expect(r.output).toMatch(w);
      // Bad input is the user's to fix, not a crash: no stack frames, no "internal error".
      expect(r.output).not.toMatch(/^\s+at \S/m);
      expect(r.output).not.toMatch(/internal error|harness error/);
      // Refused at validation unless the case says only the catalog can tell: no server started for nothing.
      if (c.server) expect(r.output).toMatch(/clone ready/);
      else expect(r.output).not.toMatch(/clone ready/);
      expectInconclusiveReport(c, r);
      expectNothingLeft(r);
    });
  }
});
