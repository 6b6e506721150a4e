/**
 * What `rehearse` refuses before it starts anything: an `--out` the reports cannot go to (exit 2 naming
 * `--out`, the path, the reason and the fix, before any clone — `/proc/x` used to spin at 100 % CPU at
 * "writing the reports" and a file or read-only directory failed only after the whole rehearsal), and a
 * usage error (the message and one line pointing at --help, not 40 lines of help).
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, it } from "vitest";
import { inconclusiveRun } from "../unit/report-fixtures.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-cli-out-"));
chmodSync(scratch, 0o755);

/**
 * A directory even root cannot write in. Root ignores the mode bits (chmod 0555 stops no one), but not the
 * immutable attribute: mkdir in a `chattr +i` directory fails with EPERM for root too (ext4, xfs, btrfs;
 * tmpfs before Linux 6.0 has no such attribute, and then the case is skipped). Removed again in afterAll.
 */
const readOnly = path.join(scratch, "read-only");
mkdirSync(readOnly);
let immutable = false;
try {
  execFileSync("chattr", ["+i", readOnly], { stdio: "ignore" });
  immutable = true;
} catch {
  // No chattr or no support on this file system: the read-only case below is skipped.
}
afterAll(() => {
  if (immutable) execFileSync("chattr", ["-i", readOnly]);
  rmSync(scratch, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** rehearse-* entries the run left or made in its TMPDIR (a clone's directory). */
  tempDirs: string[];
}

let n = 0;
function cli(...args: string[]): Promise<Result> {
  const tmp = path.join(scratch, `tmp${++n}`);
  mkdirSync(tmp);
  const t0 = performance.now();
  // --debug: a clone that started would say so ("starting embedded clone") before anything else.
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repo,
    env: { ...process.env, TMPDIR: tmp, CI: "true", NO_COLOR: "1", GITHUB_STEP_SUMMARY: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on("exit", (code) =>
      resolve({
        code,
        stdout,
        stderr,
        ms: performance.now() - t0,
        tempDirs: readdirSync(tmp).filter((f) => f.startsWith("rehearse-")),
      }),
    ),
  );
}

/**
 * Exit 2 before anything started: no stage past the scenario, no clone directory, and quick — the process's
 * own start (tsx compiling the sources) is most of it; a clone would add seconds, the /proc spin forever.
 */
function expectRefusedUpFront(r: Result, out: string, reason: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(`rehearse: --out ${out}: `);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).toMatch(/\n {4}fix: \S/);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr).not.toMatch(/stage: |starting embedded clone/);
  expect(r.tempDirs).toEqual([]);
  expect(r.ms).toBeLessThan(15_000);
}

const SCENARIO = "test/fixtures/interrupts";

describe("rehearse run --out that cannot take the reports", () => {
  it("/proc/x (where Node's recursive mkdir spun forever): exit 2 up front", async () => {
    const r = await cli("run", SCENARIO, "--debug", "--out", "/proc/rehearse-nope");
    expectRefusedUpFront(r, "/proc/rehearse-nope", /cannot create \/proc\/rehearse-nope \(ENOENT: /);
  });

  it("a file, or a path under a file: exit 2 up front", async () => {
    const file = path.join(scratch, "a-file");
    writeFileSync(file, "");
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--debug", "--out", file),
      file,
      /is a file, not a directory/,
    );
    const under = path.join(file, "reports");
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--debug", "--out", under),
      under,
      new RegExp(`${file} is a file, so no directory can be made under it`),
    );
  });

  it.skipIf(!immutable)("a directory root cannot write in (chattr +i): exit 2 up front", async () => {
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--debug", "--out", readOnly),
      readOnly,
      /cannot write in it \(EPERM: /,
    );
    const sub = path.join(readOnly, "reports");
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--debug", "--out", sub),
      sub,
      new RegExp(`cannot create ${sub} \\(EPERM: `),
    );
  });

  it("/sys, which root cannot write either: exit 2 up front, also for --project-to", async () => {
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--debug", "--out", "/sys"),
      "/sys",
      /cannot write in it/,
    );
    expectRefusedUpFront(
      await cli("run", SCENARIO, "--project-to", "1000000", "--out", "/sys"),
      "/sys",
      /cannot write in it/,
    );
  });
});

describe("rehearse report / compare --out that cannot be written", () => {
  const run = path.join(scratch, "a-run");
  mkdirSync(run);
  writeFileSync(path.join(run, "report.json"), JSON.stringify(inconclusiveRun()));

  it("report --out /proc/x: exit 2 naming --out, no hang", async () => {
    const r = await cli("report", run, "--out", "/proc/rehearse-nope");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^rehearse: --out \/proc\/rehearse-nope: cannot create .*\n {4}fix: /);
    expect(r.ms).toBeLessThan(15_000);
  });

  it("compare --out under /proc, or a directory: exit 2 naming --out", async () => {
    const proc = await cli("compare", run, run, "--out", "/proc/rehearse-nope/c.md");
    expect(proc.code, proc.stderr).toBe(2);
    expect(proc.stderr).toMatch(
      /rehearse: --out \/proc\/rehearse-nope\/c\.md: cannot create \/proc\/rehearse-nope /,
    );
    const dir = await cli("compare", run, run, "--out", scratch);
    expect(dir.code, dir.stderr).toBe(2);
    expect(dir.stderr).toContain(`rehearse: --out ${scratch}: is a directory: --out takes a file`);
  });
});

describe("rehearse init --out that cannot be written", () => {
  it("exit 2 naming --out before the source is read (nothing listens on port 1)", async () => {
    const r = await cli(
      "init",
      "--from-url",
      "postgres://nobody@127.0.0.1:1/db",
      "--table",
      "t",
      "--out",
      "/proc/rehearse-nope",
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^rehearse init: --out \/proc\/rehearse-nope: cannot create .*\n {4}fix: /);
  });
});

describe("usage errors", () => {
  for (const args of [
    ["run", SCENARIO, "--row", "1000"],
    ["run", SCENARIO, "--rows", "1e6"],
  ]) {
    it(`${args.slice(2).join(" ")}: the message and a pointer to --help, exit 2`, async () => {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines[0]).toMatch(
        /^error: (unknown option '--row'|option '--rows <n\|table=n>' argument '1e6' is invalid)/,
      );
      expect(lines[lines.length - 1]).toBe("(see: rehearse run --help)");
      // The message, commander's "Did you mean --rows?" at most, and the pointer: never the help itself.
      expect(lines.length).toBeLessThanOrEqual(3);
      expect(r.stderr).not.toMatch(/Options:|Usage:/);
      expect(r.tempDirs).toEqual([]);
    });
  }
});
