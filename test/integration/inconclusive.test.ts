/**
 * A rehearsal that could not be carried out is never green: when the clone's server dies mid-run (SIGKILL of
 * the postmaster, so every connection is lost), an observer dies, the load engine stops early, or the harness
 * itself crashes, the run is `inconclusive` with exit 2 and the reason — and every report format says so, with
 * no pass verdict. Real servers throughout; the faults are caused from outside, as they happen in life.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone, CloneOptions, CloneProvider } from "../../src/clone/provider.ts";
import type { RunReport } from "../../src/report/model.ts";
import { reporters } from "../../src/report/registry.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import type { ProgressEvent } from "../../src/util/logger.ts";
import { silentLogger } from "../../src/util/logger.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-inconclusive-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A small rehearsal under load whose `prepare/wait` step runs long enough for something to go wrong in it. */
function scenario(name: string, opts: { load?: string } = {}): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, "schema.sql"),
    "CREATE TABLE items (id bigserial PRIMARY KEY, k uuid NOT NULL, v int NOT NULL);",
  );
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: ${name}
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: ${opts.load ? 40 : 2000}
      columns: {id: {gen: serial}, k: {gen: uuid}, v: {gen: uniform, min: 1, max: 9}}
load:
  source: {table: items, columns: [v]${opts.load ?? ""}}
  write:
    statements:
      - sql: "INSERT INTO items (k, v) VALUES (:new_uuid::uuid, :v)"
    ack_key: new_uuid
  rate: 100
  connections: 2
  warmup: 500ms
  cooldown: 200ms
migration:
  phases:
    - name: prepare
      steps:
        - {name: add_column, sql: "ALTER TABLE items ADD COLUMN note text"}
        - {name: wait, sql: "SELECT pg_sleep(4)"}
    - name: finish
      steps:
        - {name: index, sql: "CREATE INDEX items_v ON items (v)"}
invariants:
  - {check: no_lost_writes, table: items, column: k}
  - {check: indexes_valid, tables: [items]}
`,
  );
  return dir;
}

/** The embedded provider, remembering the clone it started (to reach its server from outside). */
class WatchedProvider implements CloneProvider {
  readonly name = "embedded";
  clone?: Clone;
  stops = 0;
  constructor(private readonly wrap: (c: Clone) => Clone = (c) => c) {}
  async start(options: CloneOptions): Promise<Clone> {
    const inner = await new EmbeddedProvider().start(options);
    const stop = async () => {
      this.stops++;
      await inner.stop();
    };
    this.clone = this.wrap({
      provider: inner.provider,
      method: inner.method,
      connectionConfig: () => inner.connectionConfig(),
      displayUrl: () => inner.displayUrl(),
      restart: inner.restart?.bind(inner),
      stop,
      [Symbol.asyncDispose]: stop,
    });
    return this.clone;
  }
  port(): number {
    return Number(this.clone!.connectionConfig().port);
  }
}

/** The postmaster listening on `port` (its args carry `-p <port>`). */
function postmasterPid(port: number): number | undefined {
  const line = execFileSync("ps", ["-eo", "pid,args"], { maxBuffer: 256 * 1024 * 1024 })
    .toString()
    .split("\n")
    .find((l) => / -D /.test(l) && new RegExp(` -p ${port}( |$)`).test(l));
  return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
}

async function onStep(
  provider: WatchedProvider,
  scenarioPath: string,
  step: string,
  act: (p: WatchedProvider) => void | Promise<void>,
): Promise<RunReport> {
  let acted: Promise<void> | undefined;
  const report = await rehearse({
    scenarioPath,
    logger: silentLogger,
    providers: { embedded: provider },
    onEvent: (e: ProgressEvent) => {
      if (e.kind === "step" && e.step === step && e.status === "start" && !acted)
        acted = (async () => act(provider))();
    },
  });
  await acted;
  return report;
}

/** Inconclusive, exit 2, the reason given — in report.json, markdown, JUnit, HTML and the terminal summary. */
function expectInconclusiveEverywhere(r: RunReport, reason: RegExp): void {
  expect(r.status).toBe("inconclusive");
  expect(r.exit_code).toBe(2);
  expect(r.reason).toMatch(reason);
  expect(r.expectation.met).toBe(false);
  const json = JSON.parse(reporters.json.render(r)) as RunReport;
  expect(json).toMatchObject({ status: "inconclusive", exit_code: 2 });
  expect(json.reason).toMatch(reason);
  // The reason's first line, as the text formats print it (HTML escapes it).
  const first = r.reason!.split("\n")[0]!;
  const md = reporters.markdown.render(r);
  expect(md).toMatch(/inconclusive/i);
  expect(md).toContain(first);
  expect(md).not.toMatch(/\bPASSED\b/);
  const junit = reporters.junit.render(r);
  expect(junit).toMatch(/<testsuites [^>]*errors="[1-9]/);
  expect(junit).toMatch(/<error type="inconclusive" message="[^"]+"/);
  const html = reporters.html.render(r);
  expect(html).toMatch(/<header class="banner status-inconclusive"/);
  expect(html).not.toMatch(/<header class="banner status-passed"/);
  const term = reporters.terminal.render(r);
  expect(term).toMatch(/INCONCLUSIVE/);
  expect(term).toContain(first);
  expect(term).not.toMatch(/PASSED/);
}

describe("inconclusive is never green", () => {
  it("the clone's server killed mid-run (every connection lost): exit 2, and the teardown does not hang", async () => {
    const provider = new WatchedProvider();
    const t = Date.now();
    const r = await onStep(provider, scenario("server-killed"), "wait", async (p) => {
      await new Promise((res) => setTimeout(res, 300));
      const pid = postmasterPid(p.port());
      expect(pid).toBeDefined();
      process.kill(pid!, "SIGKILL");
    });
    expectInconclusiveEverywhere(r, /^lost the connection to the clone while running step prepare\/wait: /);
    // Not judged as a failed migration: the step did not fail, the clone went away under it.
    expect(r.failing).toEqual([]);
    expect(provider.stops).toBeGreaterThanOrEqual(1);
    expect(postmasterPid(provider.port())).toBeUndefined();
    expect(Date.now() - t).toBeLessThan(60_000);
  });

  it("a server crash (another backend dies; the server ends every session and recovers): exit 2, not a failed migration", async () => {
    const provider = new WatchedProvider();
    const r = await onStep(provider, scenario("backend-crash"), "wait", async (p) => {
      // A session of our own whose backend we SIGKILL: the postmaster then ends every other session,
      // the migration's included, with "terminating connection because of crash of another server process".
      const c = new pg.Client(p.clone!.connectionConfig());
      c.on("error", () => {});
      await c.connect();
      const pid = (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      await new Promise((res) => setTimeout(res, 300));
      process.kill(pid, "SIGKILL");
      await c.end().catch(() => {});
    });
    expectInconclusiveEverywhere(r, /^lost the connection to the clone while running step prepare\/wait: /);
    expect(r.failing).toEqual([]);
  });

  it("the migration's session terminated under its statement (57P01): exit 2, not a failed migration", async () => {
    const provider = new WatchedProvider();
    const r = await onStep(provider, scenario("session-terminated"), "wait", async (p) => {
      const c = new pg.Client(p.clone!.connectionConfig());
      await c.connect();
      try {
        await new Promise((res) => setTimeout(res, 300));
        const n = await c.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(4)'",
        );
        expect(n.rowCount).toBe(1);
      } finally {
        await c.end();
      }
    });
    // The statement did not fail: its session was ended from outside, so the run has no verdict.
    expectInconclusiveEverywhere(r, /^lost the connection to the clone while running step prepare\/wait: /);
    expect(r.failing).toEqual([]);
  });

  it("an observer that dies (its connection killed, again after its one reconnect): exit 2", async () => {
    const provider = new WatchedProvider();
    const r = await onStep(provider, scenario("observer-dies"), "wait", async (p) => {
      const c = new pg.Client(p.clone!.connectionConfig());
      await c.connect();
      try {
        // Three seconds of terminating every observer session: the runner reconnects once, then gives up.
        for (let i = 0; i < 30; i++) {
          await c.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rehearse-observer'",
          );
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        await c.end();
      }
    });
    expectInconclusiveEverywhere(r, /an observer died/);
    expect(r.steps.find((s) => s.name === "wait")?.status).toBe("success");
  });

  it("a load engine that stops early (its history exhausted, at_end: stop): exit 2", async () => {
    const provider = new WatchedProvider();
    const r = await onStep(provider, scenario("load-stops", { load: ", at_end: stop" }), "wait", () => {});
    expectInconclusiveEverywhere(r, /the load stopped early: history exhausted/);
  });

  it("a harness crash (the clone object throws once started): exit 2, and the server is still stopped", async () => {
    const provider = new WatchedProvider((c) => ({
      ...c,
      displayUrl: () => {
        throw new TypeError("displayUrl exploded");
      },
    }));
    const r = await rehearse({
      scenarioPath: scenario("harness-crash"),
      logger: silentLogger,
      providers: { embedded: provider },
    });
    expectInconclusiveEverywhere(r, /harness error while starting the clone: displayUrl exploded/);
    expect(provider.stops).toBe(1);
    expect(postmasterPid(provider.port())).toBeUndefined();
  });
});
