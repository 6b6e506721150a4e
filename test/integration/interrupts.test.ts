/**
 * Ctrl-C (SIGINT), a CI cancel (SIGTERM) or a closed terminal (SIGHUP) at any moment of `rehearse run`: the
 * real CLI is spawned, the signal is sent as soon as its progress says it reached the stage under test, and
 * then the run must exit 130/143/129 with report.json marked aborted at that stage, end on a line saying so
 * and where the reports are, and leave no PostgreSQL process, no temp directory and no overlay mount behind.
 * Each run gets its own TMPDIR (the clusters live under it).
 *
 * The cases are exported: `npm run figures` runs them too and counts the phases survived.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  HANGUP_CASES,
  INTERRUPT_CASES,
  type InterruptCase,
  runInterruptCase,
  type InterruptOutcome,
  SIGNAL_EXIT_CODE,
} from "../support/interrupts.ts";
import { limiter } from "../support/limiter.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-interrupts-"));
// Like a normal TMPDIR: the server runs as the postgres user and must reach its data directory under it.
chmodSync(scratch, 0o755);
afterAll(() => {
  // A mount left under scratch would make removing it fail loudly; the tests below already failed on it.
  rmSync(scratch, { recursive: true, force: true });
});

function expectClean(o: InterruptOutcome): void {
  expect(o.leftovers.processes).toEqual([]);
  expect(o.leftovers.tempDirs).toEqual([]);
  expect(o.leftovers.mounts).toEqual([]);
  expect(o.leftovers.staging).toEqual([]);
}

/** Two CLIs at a time: the machine has two cores, and each case mostly waits for its stage. */
const slot = limiter(2);

async function check(c: InterruptCase): Promise<void> {
  const o = await runInterruptCase(c, scratch);
  // The run's own reason says why it ended before the stage (it is in the report, not on stderr).
  expect(
    o.signalled,
    `never reached ${c.name}: exit ${o.code}, ${o.report?.status}: ${o.report?.reason ?? "no report"}\n${o.stderr.slice(-2000)}`,
  ).toBe(true);
  expect(o.code, o.stderr.slice(-2000)).toBe(SIGNAL_EXIT_CODE[c.signal]);
  expect(o.report).toMatchObject({ status: "aborted", exit_code: o.code });
  expect(o.report?.reason).toMatch(c.reason);
  // The last words: what happened, the exit code and where the reports are (a closed terminal shows nothing).
  if (!c.terminal) {
    expect(o.stdout).toContain(
      `rehearse ABORTED interrupts: ${o.report?.reason}; exit code ${o.code}\nreports: `,
    );
    expect(o.stdout).toMatch(/\nreports: \S+\n$/);
  }
  // Every format says so, not only report.json.
  expect(o.formats.summary).toMatch(/aborted/i);
  expect(o.formats.junit).toMatch(/<error type="aborted" message="interrupted by SIG/);
  expect(o.formats.html).toMatch(/<header class="banner status-aborted"/);
  // Bounded: a teardown that waited on a dead server would sit out the exit hook's timeout.
  expect(o.exitAfterSignalMs).toBeLessThan(20_000);
  if (c.expectMethod) expect(o.report?.context?.clone?.method).toBe(c.expectMethod);
  expectClean(o);
}

const title = (c: InterruptCase) =>
  `${c.signal} during ${c.name}: exit ${SIGNAL_EXIT_CODE[c.signal]}, report aborted there, nothing left`;

describe("interrupting rehearse run in each stage", () => {
  for (const c of INTERRUPT_CASES.filter((c) => !c.cache))
    it.concurrent(title(c), () => slot(() => check(c)));
});

// A closed terminal used to kill the process mid-teardown (its writes failing with EIO) and leave the
// clone's data directory behind, 170 MB a time.
describe("a closed terminal (SIGHUP) during rehearse run", () => {
  for (const c of HANGUP_CASES) it.concurrent(title(c), () => slot(() => check(c)));
});

// After the others (a mount of theirs would show in each other's /proc/mounts check), in order: the first
// builds the cache entry the last one clones.
describe("interrupting rehearse run on the seeded-cluster cache", () => {
  for (const c of INTERRUPT_CASES.filter((c) => c.cache)) it(title(c), () => check(c));
});
