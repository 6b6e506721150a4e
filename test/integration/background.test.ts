/**
 * Background sessions through the real CLI on a small scenario: a 60 s reporting query (long_read) started just
 * before a step must be in the way of that step, be reported (when it ran, what it held, who waited), and be
 * ended by the harness on the exit paths the steps never finish — a failing step, and Ctrl-C while the step
 * waits behind it — long before its 60 s are over, leaving no server process behind.
 */
import { execSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/model.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-background-"));
// The server runs as the postgres user and must reach its data directory under the per-case TMPDIR.
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const scenario = (step: string) => `version: 1
name: background-exit-paths
target: {provider: embedded}
dataset:
  schema: {file: schema.sql}
  seed: 3
  tables:
    - name: items
      rows: 300
      columns:
        id: {gen: serial}
        v: {gen: uniform, min: 1, max: 9}
background:
  - name: reporting
    kind: long_read
    table: items
    duration: 60s
    at: change/step
migration:
  phases:
    - name: change
      steps:
        - name: step
          sql: "${step}"
`;

interface Outcome {
  code: number | null;
  report: RunReport;
  stderr: string;
  /** ms from the start (or from the signal) to the exit. */
  ms: number;
  leftovers: string[];
}

let n = 0;
async function run(step: string, interruptWhen?: RegExp): Promise<Outcome> {
  const dir = path.join(scratch, `case${++n}`);
  const tmp = path.join(dir, "tmp");
  const out = path.join(dir, "reports");
  mkdirSync(tmp, { recursive: true });
  mkdirSync(path.join(dir, "scenario"));
  writeFileSync(path.join(dir, "scenario", "scenario.yaml"), scenario(step));
  writeFileSync(
    path.join(dir, "scenario", "schema.sql"),
    "CREATE TABLE items (id bigserial PRIMARY KEY, v int);\n",
  );
  const child = spawn(process.execPath, [bin, "run", path.join(dir, "scenario"), "--out", out], {
    cwd: repo,
    env: { ...process.env, TMPDIR: tmp, CI: "true" },
  });
  let stderr = "";
  let t = performance.now();
  let signalled = false;
  child.stdout.resume();
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (!interruptWhen || signalled || !interruptWhen.test(stderr)) return;
    signalled = true;
    // Long enough for the step to be queued behind the session and for a few samples of it.
    setTimeout(() => {
      t = performance.now();
      child.kill("SIGINT");
    }, 1500);
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const ms = performance.now() - t;
  const [runDir] = readdirSync(out);
  const report = JSON.parse(readFileSync(path.join(out, runDir!, "report.json"), "utf8")) as RunReport;
  const ps = execSync("ps -eo pid,args", { encoding: "utf8" });
  return { code, report, stderr, ms, leftovers: ps.split("\n").filter((l) => l.includes(tmp)) };
}

describe("background sessions", () => {
  it(
    "a failing step: the session is terminated at once, reported as ended by the harness",
    { timeout: 120_000 },
    async () => {
      const o = await run("SELECT 1 / 0");
      expect(o.code, o.stderr.slice(-2000)).toBe(1);
      expect(o.report.failing).toContain("migration_completed");
      const [b] = o.report.background ?? [];
      expect(b).toMatchObject({
        name: "reporting",
        kind: "long_read",
        trigger: "change/step",
        ended: "ended_by_harness",
      });
      // Ended with the steps, not after its 60 s.
      expect(b!.ended_ms! - b!.started_ms).toBeLessThan(15_000);
      expect(o.ms).toBeLessThan(60_000);
      expect(o.leftovers).toEqual([]);
      const summary = readFileSync(
        path.join(
          scratch,
          `case${n}`,
          "reports",
          readdirSync(path.join(scratch, `case${n}`, "reports"))[0]!,
          "summary.md",
        ),
        "utf8",
      );
      expect(summary).toMatch(
        /### Background sessions\n\n- reporting \(long_read on items, before change\/step\)/,
      );
    },
  );

  it(
    "Ctrl-C while the step waits behind it: aborted, the session shown in the way, nothing left",
    { timeout: 120_000 },
    async () => {
      const o = await run("ALTER TABLE items ADD COLUMN note text", /change\/step: running/);
      expect(o.code, o.stderr.slice(-2000)).toBe(130);
      expect(o.report.status).toBe("aborted");
      const [b] = o.report.background ?? [];
      // Written when the signal landed: the session as it stood, holding the table the step waited for.
      expect(b).toMatchObject({ name: "reporting", held: ["AccessShareLock on public.items"] });
      expect(b!.blocked.migration_wait_ms).toBeGreaterThan(500);
      expect(o.ms).toBeLessThan(20_000);
      expect(o.leftovers).toEqual([]);
    },
  );
});
