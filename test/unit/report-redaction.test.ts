/**
 * The guarantee that matters most: no password reaches any output, whichever reporter renders it, however
 * the password got into the report, and whatever escaping the format applies.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunReport } from "../../src/report/model.ts";
import { reporters } from "../../src/report/registry.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { writeReports } from "../../src/report/write.ts";
import { clearSecrets, registerSecret } from "../../src/util/redact.ts";
import { failingRun, inconclusiveRun, loadRun } from "./report-fixtures.ts";

// Each secret carries a marker (Zq9, Kx7, Wv3, Jm2) found nowhere else, so "marker absent" means "not leaked",
// including in escaped forms (\|, &amp;, &lt;, \") that a text-level search for the raw secret would miss.
const REGISTERED = 'Zq9|p&s<s"w0rd'; // every character a format escapes
const URL_PW = "Kx7urlpass";
const CONNINFO_PW = "Wv3kvpass";
const ENV_PW = "Jm2envpass";
const MARKERS = ["Zq9", "Kx7", "Wv3", "Jm2"];

function leakyRun(): RunReport {
  const r = inconclusiveRun();
  const f = failingRun();
  r.checks = f.checks;
  r.effects = f.effects;
  r.checks[2]!.findings.push(`connected as app with password ${REGISTERED} to check constraints`);
  r.checks[2]!.summary = `fk check via postgres://app:${URL_PW}@db.internal:5432/prod failed`;
  r.checks[5]!.remediation = `retry with host=db user=app password=${CONNINFO_PW} dbname=prod`;
  r.reason = `lock timeout; PGPASSWORD was ${ENV_PW}`;
  const err = r.steps[1]!.error!;
  err.message = `could not connect to postgresql://app:${URL_PW}@db/prod (password ${REGISTERED})`;
  err.excerpt = `SELECT dblink_connect('host=db password=${CONNINFO_PW}');\n       ^`;
  err.detail = `secret: ${REGISTERED}`;
  r.context.settings[`note ${REGISTERED}`] = REGISTERED;
  r.scenario.description = `uses ${ENV_PW}`;
  return r;
}

/**
 * A load run whose server text carries secrets: the first error message of a SQLSTATE (a failed dblink or
 * FDW connection quotes its conninfo), an error class keyed by message where no SQLSTATE came back, and the
 * blocked load query (the application's SQL, as pg_stat_activity shows it).
 */
function leakyLoadRun(): RunReport {
  const r = loadRun();
  const load = r.load!;
  const samples = (load as unknown as { error_samples: { message: string }[] }).error_samples;
  samples[0]!.message = `could not connect to postgresql://app:${URL_PW}@db/prod: password ${REGISTERED} rejected`;
  const byMessage = `connection: password=${CONNINFO_PW} rejected`;
  load.totals.errors_by_sqlstate[byMessage] = 9;
  load.windows[2]!.errors_by_sqlstate[byMessage] = 9;
  load.windows[2]!.errors += 9;
  const episode = r.observations!.blocking.find((e) => e.load_waiters === 37)!;
  Object.assign(episode, {
    waiter_query: `SELECT dblink_exec('host=db password=${CONNINFO_PW}', 'INSERT ${REGISTERED}')`,
  });
  load.ack.file = `/tmp/${ENV_PW}/acks.txt`;
  return r;
}

function expectNoLeak(text: string, label: string): void {
  for (const m of MARKERS) expect(text.includes(m), `${label} contains ${m}`).toBe(false);
}

let dir: string;
beforeEach(async () => {
  clearSecrets();
  registerSecret(REGISTERED);
  vi.stubEnv("PGPASSWORD", ENV_PW);
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-redact-"));
});
afterEach(async () => {
  clearSecrets();
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe("no password in any output", () => {
  it("the fixture really carries the secrets (so the test below can fail)", () => {
    expect(JSON.stringify(leakyRun())).toContain("Zq9");
    for (const m of MARKERS) expect(JSON.stringify(leakyRun())).toContain(m);
  });

  for (const format of Object.keys(reporters) as (keyof typeof reporters)[]) {
    it(`${format} reporter`, () => {
      const out = reporters[format].render(leakyRun());
      expectNoLeak(out, format);
      expect(out).toContain("***");
    });
  }

  it("terminal reporter with colour", () => {
    expectNoLeak(renderTerminal(leakyRun(), { color: true, reportDir: "reports/x" }), "terminal");
  });

  it("files written by writeReports, and the GitHub step summary", async () => {
    const summary = path.join(dir, "step-summary.md");
    await writeFile(summary, "");
    vi.stubEnv("GITHUB_STEP_SUMMARY", summary);
    const out = path.join(dir, "out");
    await writeReports(leakyRun(), out);
    for (const f of await readdir(out)) expectNoLeak(await readFile(path.join(out, f), "utf8"), f);
    expectNoLeak(await readFile(summary, "utf8"), "step summary");
  });

  it("leaves the caller's report untouched (redaction works on a copy)", () => {
    const r = leakyRun();
    reporters.json.render(r);
    expect(r.reason).toContain(ENV_PW);
  });

  describe("load and observations", () => {
    it("the fixture really carries the secrets, where the reporters render them", () => {
      const json = JSON.stringify(leakyLoadRun());
      for (const m of MARKERS) expect(json).toContain(m);
      // Rendered at all (so their absence below is redaction, not omission): the text around the secrets.
      const md = reporters.markdown.render(leakyLoadRun());
      expect(md).toContain("could not connect to postgresql://app:***@db/prod");
      expect(md).toContain("SELECT dblink_exec(");
      expect(md).toContain("connection: password=*** rejected");
    });

    for (const format of Object.keys(reporters) as (keyof typeof reporters)[]) {
      it(`${format} reporter`, () => {
        expectNoLeak(reporters[format].render(leakyLoadRun()), format);
      });
    }

    it("terminal reporter with colour, and files written by writeReports", async () => {
      expectNoLeak(renderTerminal(leakyLoadRun(), { color: true }), "terminal");
      const out = path.join(dir, "load-out");
      await writeReports(leakyLoadRun(), out);
      for (const f of await readdir(out)) expectNoLeak(await readFile(path.join(out, f), "utf8"), f);
    });
  });
});
