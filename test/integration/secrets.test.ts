/**
 * No password in any output: the clone's generated password is known to this test (it wraps the provider),
 * and must appear nowhere — not in report.json, summary.md, junit.xml, nor in the log lines.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { CloneProvider } from "../../src/clone/provider.ts";
import { writeReports } from "../../src/report/write.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { createLogger } from "../../src/util/logger.ts";

const out = mkdtempSync(path.join(tmpdir(), "rehearse-secrets-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("the clone's password appears in no report and no log line", async () => {
  const passwords: string[] = [];
  const inner = new EmbeddedProvider();
  const spying: CloneProvider = {
    name: "embedded",
    async start(options) {
      const clone = await inner.start(options);
      passwords.push(String(clone.connectionConfig().password));
      return clone;
    },
  };
  const lines: string[] = [];
  const report = await rehearse({
    scenarioPath: path.resolve(import.meta.dirname, "../fixtures/sql-error-at-runtime"),
    providers: { embedded: spying },
    logger: createLogger({ debug: true, write: (l) => lines.push(l) }),
  });
  const dir = path.join(out, report.run_id);
  await writeReports(report, dir);
  expect(passwords).toHaveLength(1);
  const secret = passwords[0]!;
  expect(secret.length).toBeGreaterThanOrEqual(16);
  const artifacts = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8"));
  expect(artifacts.length).toBeGreaterThanOrEqual(3);
  // The run really produced output worth searching: server logs at --debug, a failing step, every format.
  expect(lines.length).toBeGreaterThan(5);
  for (const text of [...artifacts, lines.join("\n"), renderTerminal(report, { color: false })]) {
    expect(text.includes(secret)).toBe(false);
  }
});
