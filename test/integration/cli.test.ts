/**
 * The CLI as a user runs it: exit codes, messages that name the file and the field, reports on disk, and
 * nothing left behind — each run gets its own TMPDIR, which must be empty when the process has exited.
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-cli-test-"));
// Like a normal TMPDIR: the server runs as the postgres user and must reach its data directory under it.
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  tmp: string;
  out: string;
}

let n = 0;
function start(args: string[]): { child: ChildProcess; done: Promise<Run>; stderrSoFar: () => string } {
  const tmp = path.join(scratch, `tmp${++n}`);
  const out = path.join(scratch, `reports${n}`);
  mkdirSync(tmp, { recursive: true });
  const child = spawn(process.execPath, [bin, ...args, ...(args[0] === "run" ? ["--out", out] : [])], {
    cwd: repo,
    env: { ...process.env, TMPDIR: tmp, CI: "true" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<Run>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr, tmp, out })),
  );
  return { child, done, stderrSoFar: () => stderr };
}

const cli = (...args: string[]) => start(args).done;

function onlyReport(out: string): Record<string, unknown> {
  const dirs = readdirSync(out);
  expect(dirs).toHaveLength(1);
  return JSON.parse(readFileSync(path.join(out, dirs[0]!, "report.json"), "utf8"));
}

function expectNothingLeft(r: Run): void {
  // The embedded cluster lived under TMPDIR: it must be gone, and no server may still run from it.
  expect(readdirSync(r.tmp).filter((f) => f.startsWith("rehearse-"))).toEqual([]);
  const ps = execSync("ps -eo args").toString();
  expect(ps.split("\n").filter((l) => l.includes(r.tmp))).toEqual([]);
}

describe("rehearse CLI", () => {
  it("validates a good scenario with exit 0", async () => {
    const r = await cli("validate", "scenarios/ledger-attach-history");
    expect(r.stderr).not.toMatch(/problem/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid/);
  });

  it("exits 2 for a missing scenario folder, with what to pass and no stack trace", async () => {
    const r = await cli("run", "scenarios/does-not-exist");
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/no such scenario folder/);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    expect(onlyReport(r.out)).toMatchObject({ status: "inconclusive", exit_code: 2 });
    expectNothingLeft(r);
  });

  it("exits 2 when an invariant names a table that does not exist, pointing at the line, and removes the server", async () => {
    const r = await cli("run", "test/fixtures/missing-table");
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /test\/fixtures\/missing-table\/scenario\.yaml:19:\d+: invariants\[0\]\.original: table "itemz" does not exist/,
    );
    expect(r.stdout).toMatch(/fix: name a table that schema.sql creates/);
    expect(onlyReport(r.out)).toMatchObject({ status: "inconclusive", exit_code: 2 });
    expectNothingLeft(r);
  });

  it("exits 1 when a migration statement fails, locating it in its file with a caret", async () => {
    const r = await cli("run", "test/fixtures/sql-error-at-runtime");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/migration_completed/);
    const report = onlyReport(r.out) as {
      steps: { name: string; status: string; error?: Record<string, unknown> }[];
    };
    const broken = report.steps.find((s) => s.name === "broken")!;
    expect(broken.error).toMatchObject({ sqlstate: "42703", line: 2, column: 25 });
    expect(String(broken.error!.file)).toMatch(/broken\.sql$/);
    expect(report.steps.find((s) => s.name === "never-runs")!.status).toBe("not_executed");
    expectNothingLeft(r);
  });

  it("with --expect exits 0 for a hazard that fails for exactly its named check", async () => {
    const r = await cli("run", "test/fixtures/sql-error-at-runtime", "--expect");
    expect(r.stdout).toMatch(/expectation met/);
    expect(r.code).toBe(0);
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`on ${signal} during seeding exits ${code}, marks the report aborted and leaves nothing behind`, async () => {
      const p = start(["run", "scenarios/ledger-attach-history", "--rows", "ledger=3000000"]);
      const deadline = Date.now() + 60_000;
      while (!/seeding|seeded/.test(p.stderrSoFar()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      p.child.kill(signal);
      const r = await p.done;
      expect(r.code).toBe(code);
      expect(onlyReport(r.out)).toMatchObject({ status: "aborted", exit_code: code });
      expectNothingLeft(r);
    });
  }
});
