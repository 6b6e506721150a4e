/**
 * Server faults mid-migration, under load: `terminate_load_connections` (every load backend terminated from
 * the migration's connection) and `restart_server` (fast shutdown and start, with a replica streaming). The
 * load loses its connections in the fault's window, reconnects and keeps writing; every acknowledged write is
 * still there; the migration carries on over fresh connections; the run passes. A provider that cannot
 * restart makes a restart_server scenario bad input (exit 2) before anything runs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone, CloneOptions, CloneProvider } from "../../src/clone/provider.ts";
import type { RunReport } from "../../src/report/model.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { FAULTS, faultFigures, lossesInWindow, writeAllFaultsScenario } from "../support/all-faults.ts";

const root = mkdtempSync(path.join(tmpdir(), "rehearse-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONNECTIONS = 4;

function scenario(name: string, fault: string, replica: boolean, workers = 1): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, "schema.sql"),
    `CREATE TABLE items (id bigserial PRIMARY KEY, k uuid NOT NULL, v int NOT NULL);
     -- Writes that take a few ms, so the fault catches some of them in flight.
     CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$;`,
  );
  writeFileSync(
    path.join(dir, "after.sql"),
    "CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow();",
  );
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: ${name}
target:
  replica: ${replica}
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 3000
      columns: {id: {gen: serial}, k: {gen: uuid}, v: {gen: uniform, min: 1, max: 9}}
  after: {file: after.sql}
load:
  source: {table: items, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO items (k, v) VALUES (:new_uuid::uuid, :v)"
    ack_key: new_uuid
  rate: 150
  connections: ${CONNECTIONS}
  workers: ${workers}
  warmup: 1s
  cooldown: 500ms
migration:
  phases:
    - name: prepare
      steps:
        - {name: add_column, sql: "ALTER TABLE items ADD COLUMN note text"}
        - {name: settle, sql: "SELECT pg_sleep(0.5)"}
    - name: fault
      steps:
        - {name: inject, fault: ${fault}}
    - name: after
      steps:
        - {name: settle, sql: "SELECT pg_sleep(1.5)"}
        - {name: index, sql: "CREATE INDEX items_v ON items (v)"}
invariants:
  - {check: no_lost_writes, table: items, column: k}
  - {check: indexes_valid, tables: [items]}
`,
  );
  return dir;
}

/** What every fault run must show: a pass, no lost writes, losses in the fault's window, writes after it. */
function expectSurvived(r: RunReport): { from: number; to: number } {
  expect(r.reason ?? "").toBe("");
  expect(r.status).toBe("passed");
  expect(r.exit_code).toBe(0);
  expect(r.checks.find((c) => c.id === "no_lost_writes")?.status).toBe("pass");
  expect(r.checks.find((c) => c.id === "indexes_valid")?.status).toBe("pass");
  const step = r.steps.find((s) => s.phase === "fault" && s.name === "inject")!;
  expect(step.status).toBe("success");
  expect(r.steps.every((s) => s.status === "success")).toBe(true);
  const from = step.started_ms!;
  const to = from + step.duration_ms!;
  const load = r.load!;
  const losses = lossesInWindow(load.connection_losses ?? [], from, to);
  expect(losses.length).toBeGreaterThanOrEqual(CONNECTIONS);
  // Writes whose outcome the fault made unknown are indeterminate, never acknowledged nor lost.
  const unknown = Object.entries(load.totals.errors_by_sqlstate)
    .filter(([code]) => code === "connection" || code.startsWith("57P") || code.startsWith("08"))
    .reduce((n, [, c]) => n + c, 0);
  expect(load.ack.indeterminate).toBe(unknown);
  // The load kept writing after the fault, on new connections.
  const after = load.windows.filter((w) => w.phase === "after" && w.kind === "write");
  const ok = after.reduce((n, w) => n + w.count - w.errors, 0);
  expect(ok).toBeGreaterThan(100);
  return { from, to };
}

/** Runs `fn` with REHEARSE_CACHE_DIR set to `<root>/<name>`, then puts the variable back as it was. */
async function withCacheDir<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = process.env.REHEARSE_CACHE_DIR;
  process.env.REHEARSE_CACHE_DIR = path.join(root, name);
  try {
    return await fn();
  } finally {
    if (previous === undefined) delete process.env.REHEARSE_CACHE_DIR;
    else process.env.REHEARSE_CACHE_DIR = previous;
  }
}

describe("server faults mid-migration under load", () => {
  it("terminate_load_connections: the load reconnects and no acknowledged write is lost", async () => {
    const r = await rehearse({
      scenarioPath: scenario("terminate", "terminate_load_connections", false),
      logger: silentLogger,
    });
    expectSurvived(r);
    console.log(
      `faults: terminate_load_connections: ${r.load!.connection_losses!.length} load connections lost, ` +
        `errors ${JSON.stringify(r.load!.totals.errors_by_sqlstate)}, ${r.load!.ack.acknowledged} acknowledged`,
    );
  });

  // The same faults with the load split over two worker threads (issue 18): each segment loses and replaces
  // its own connections, and the merged ledger still holds every acknowledged write.
  for (const fault of ["terminate_load_connections", "restart_server"])
    it(`${fault} with the load on two worker threads: the segments reconnect and no write is lost`, async () => {
      const r = await rehearse({
        scenarioPath: scenario(`${fault.replaceAll("_", "-")}-workers`, fault, false, 2),
        logger: silentLogger,
      });
      expectSurvived(r);
      console.log(
        `faults: ${fault}, 2 worker threads: ${r.load!.connection_losses!.length} load connections lost, ` +
          `errors ${JSON.stringify(r.load!.totals.errors_by_sqlstate)}, ${r.load!.ack.acknowledged} acknowledged`,
      );
    });

  it("restart_server: the migration, the load, the observers and the replica carry on", async () => {
    const r = await rehearse({
      scenarioPath: scenario("restart", "restart_server", true),
      logger: silentLogger,
    });
    const { to } = expectSurvived(r);
    expect(r.context.replica).toBeDefined();
    // The observers sampled again after the restart, and the replica streamed again.
    expect(r.observations!.replication_lag.some((p) => p.t > to + 500)).toBe(true);
    expect(r.observations!.failure).toBeUndefined();
    console.log(
      `faults: restart_server took ${Math.round(r.steps.find((s) => s.name === "inject")!.duration_ms!)} ms; ` +
        `load errors ${JSON.stringify(r.load!.totals.errors_by_sqlstate)}, ${r.load!.totals.dropped} dropped, ` +
        `${r.load!.ack.acknowledged} acknowledged`,
    );
  });

  it("all three faults in one run: the load reconnects twice, the backfill resumes exactly, no write is lost", async () => {
    const r = await rehearse({ scenarioPath: writeAllFaultsScenario(root), logger: silentLogger });
    expect(r.reason ?? "").toBe("");
    expect(r.status).toBe("passed");
    expect(r.steps.every((s) => s.status === "success")).toBe(true);
    const f = faultFigures(r);
    expect(f.survived).toEqual([...FAULTS]);
    // The worker killed mid-backfill resumed from its committed batches: the keyless copy has every row once.
    const bf = r.steps.find((s) => s.name === "backfill")!.backfill!;
    expect(bf).toMatchObject({ rows: 30_000, faults_injected: 1 });
    expect(bf.restarts).toBeGreaterThanOrEqual(1);
    expect(r.checks.find((c) => c.id === "row_parity")?.status).toBe("pass");
    // The load reconnected after each fault: writes succeeded after the restart.
    const after = r.load!.windows.filter((w) => w.phase === "after" && w.kind === "write");
    expect(after.reduce((n, w) => n + w.count - w.errors, 0)).toBeGreaterThan(100);
    expect(f.connectionLosses).toBeGreaterThanOrEqual(2 * CONNECTIONS);
    // no_lost_writes held, over a real number of acknowledged writes.
    expect(r.checks.find((c) => c.id === "no_lost_writes")?.status).toBe("pass");
    expect(f.acknowledgedChecked).toBeGreaterThan(500);
    expect(f.acknowledgedChecked).toBe(r.load!.ack.acknowledged);
    console.log(
      `faults: all three in one run: ${f.connectionLosses} load connections lost, ${bf.restarts} backfill ` +
        `restart(s), ${f.acknowledgedChecked} acknowledged writes checked`,
    );
  });

  it("restart_server on a thin clone of the cached seeded cluster: restarts in place, the run passes", async () => {
    const r = await withCacheDir("cache", () =>
      rehearse({
        scenarioPath: scenario("restart-cached", "restart_server", false),
        logger: silentLogger,
        cache: true,
      }),
    );
    expectSurvived(r);
    expect(r.context.clone).toMatchObject({ cache: "miss" });
    expect(["overlay", "reflink", "copy"]).toContain(r.context.clone?.method);
  });

  it("target.cache with target.replica is refused (exit 2) before anything is seeded", async () => {
    const r = await withCacheDir("cache-replica", () =>
      rehearse({
        scenarioPath: scenario("replica-cached", "restart_server", true),
        logger: silentLogger,
        cache: true,
      }),
    );
    expect(r.status).toBe("inconclusive");
    expect(r.exit_code).toBe(2);
    expect(r.reason).toMatch(/target\.cache and target\.replica cannot be combined yet/);
    expect(r.seeding).toBeUndefined();
    expect(r.steps).toEqual([]);
  });

  it("restart_server with a provider that cannot restart is bad input: exit 2 before anything runs", async () => {
    let stopped = false;
    const noRestart: CloneProvider = {
      name: "embedded",
      async start(options: CloneOptions): Promise<Clone> {
        const inner = await new EmbeddedProvider().start(options);
        const stop = async () => {
          stopped = true;
          await inner.stop();
        };
        return {
          provider: "no-restart",
          connectionConfig: () => inner.connectionConfig(),
          displayUrl: () => inner.displayUrl(),
          stop,
          [Symbol.asyncDispose]: stop,
        };
      },
    };
    const r = await rehearse({
      scenarioPath: scenario("no-restart", "restart_server", false),
      logger: silentLogger,
      providers: { embedded: noRestart },
    });
    expect(r.status).toBe("inconclusive");
    expect(r.exit_code).toBe(2);
    expect(r.reason).toMatch(
      /scenario\.yaml:\d+:\d+: migration\.phases\[1\]\.steps\[0\]\.fault: fault "restart_server" needs a provider that can restart its server; no-restart cannot/,
    );
    expect(r.seeding).toBeUndefined();
    expect(r.steps).toEqual([]);
    expect(stopped).toBe(true);
  });
});
