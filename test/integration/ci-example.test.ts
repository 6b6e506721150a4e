/**
 * examples/github-actions: the workflow's own script run on fixture scenarios, with a step-summary file and a
 * stub for GitHub's `gh` CLI that records its arguments, so the example cannot rot.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const repo = path.resolve(import.meta.dirname, "../..");
const example = path.join(repo, "examples/github-actions");
const script = path.join(example, "rehearse-ci.sh");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-ci-example-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The stub stands in for GitHub's CLI only: it records its argv and the --body-file's contents.
const stubBin = path.join(scratch, "bin");
mkdirSync(stubBin);
writeFileSync(
  path.join(stubBin, "gh"),
  `#!/usr/bin/env bash
printf '%s\\n' "$@" > "$GH_STUB_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = "--body-file" ]; then cp "$2" "$GH_STUB_LOG.body"; fi
  shift
done
`,
);
chmodSync(path.join(stubBin, "gh"), 0o755);

let n = 0;
function runScript(args: string[], env: Record<string, string> = {}) {
  const dir = path.join(scratch, `case${++n}`);
  mkdirSync(dir);
  const summary = path.join(dir, "step-summary.md");
  const ghLog = path.join(dir, "gh.log");
  const reports = path.join(dir, "reports");
  const r = spawnSync("bash", [script, ...args], {
    cwd: repo,
    encoding: "utf8",
    timeout: 150_000,
    env: {
      ...process.env,
      PATH: `${stubBin}:${process.env.PATH}`,
      REHEARSE: `${process.execPath} ${path.join(repo, "bin/rehearse.js")}`,
      REPORTS_DIR: reports,
      GITHUB_STEP_SUMMARY: summary,
      GH_STUB_LOG: ghLog,
      CI: "true",
      ...env,
    },
  });
  const runs = existsSync(reports) ? readdirSync(reports) : [];
  const runSummary =
    runs.length === 1 ? readFileSync(path.join(reports, runs[0]!, "summary.md"), "utf8") : "";
  return {
    code: r.status,
    output: `${r.stdout}\n${r.stderr}`,
    runs,
    runSummary,
    stepSummary: existsSync(summary) ? readFileSync(summary, "utf8") : "",
    ghArgs: existsSync(ghLog) ? readFileSync(ghLog, "utf8").trim().split("\n") : null,
    ghBody: existsSync(`${ghLog}.body`) ? readFileSync(`${ghLog}.body`, "utf8") : null,
  };
}

describe("examples/github-actions/rehearse.yml", () => {
  it("parses, runs on PRs touching migrations or scenarios, and calls a script that exists", () => {
    const wf = parse(readFileSync(path.join(example, "rehearse.yml"), "utf8")) as {
      on: { pull_request: { paths: string[] } };
      permissions: Record<string, string>;
      jobs: Record<
        string,
        { steps: { uses?: string; run?: string; if?: string; with?: Record<string, unknown> }[] }
      >;
    };
    expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining(["migrations/**", "scenarios/**"]));
    expect(wf.permissions["pull-requests"]).toBe("write");
    const steps = Object.values(wf.jobs)[0]!.steps;
    expect(steps.some((s) => s.uses?.startsWith("actions/checkout@"))).toBe(true);
    expect(steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"]).toBe(20);
    expect(steps.some((s) => s.run === "npm ci")).toBe(true);
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");
    expect(upload.with?.path).toBe("reports/");
    const rehearse = steps.find((s) => s.run?.includes("rehearse-ci.sh"))!;
    const called = /bash (\S+rehearse-ci\.sh)/.exec(rehearse.run!)![1]!;
    expect(existsSync(path.join(repo, called))).toBe(true);
    expect(rehearse.run).toMatch(/--expect/);
  });

  it("a passing scenario: exit 0, step summary written, summary.md commented on the PR, reports kept", () => {
    const r = runScript(["test/fixtures/projection-copy", "--rows", "2000", "--quiet"], { PR_NUMBER: "42" });
    expect(r.code, r.output).toBe(0);
    expect(r.runs).toHaveLength(1);
    expect(r.runSummary).toMatch(/projection-copy/);
    expect(r.stepSummary).toContain(r.runSummary.trim());
    expect(r.ghArgs?.slice(0, 3)).toEqual(["pr", "comment", "42"]);
    expect(r.ghArgs).toContain("--body-file");
    expect(r.ghBody).toBe(r.runSummary);
  });

  it("a hazard without --expect: exit 1 fails the job, still summarised and commented", () => {
    const r = runScript(["test/fixtures/ci-hazard", "--quiet"], { PR_NUMBER: "7" });
    expect(r.code, r.output).toBe(1);
    expect(r.runSummary).toMatch(/no_rewrite_under_access_exclusive/);
    expect(r.stepSummary).toContain(r.runSummary.trim());
    expect(r.ghBody).toBe(r.runSummary);
  });

  it("a hazard with --expect: exit 0; no PR number, no comment", () => {
    const r = runScript(["test/fixtures/ci-hazard", "--expect", "--quiet"]);
    expect(r.code, r.output).toBe(0);
    expect(r.ghArgs).toBeNull();
    expect(r.runs).toHaveLength(1);
  });

  it("a scenario that cannot run: exit 2 propagates", () => {
    const r = runScript(["test/fixtures/missing-table", "--quiet"], { PR_NUMBER: "9" });
    expect(r.code, r.output).toBe(2);
    expect(r.ghBody).toBe(r.runSummary);
  });
});
