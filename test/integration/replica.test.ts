/**
 * target.replica: a streaming physical standby of the embedded clone, made with the low-level base backup
 * API. It streams, it replays late when told to (recovery_min_apply_delay), its lag is read on the primary
 * (ReplicaLagReader, the replication observer, the max_replica_lag budget), and stopping the clone leaves no
 * server process and no directory behind.
 */
import {
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
import { performance } from "node:perf_hooks";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import { ReplicaLagReader } from "../../src/clone/replica-lag.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(path.join(tmpdir(), "rehearse-replica-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function client(cfg: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(cfg);
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** Pids of live processes whose command line mentions `needle` (a data directory). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmd.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process exited meanwhile.
    }
  }
  return pids;
}

describe("a streaming replica of the embedded clone", () => {
  it("streams, replays late when told to, its lag is read on the primary, and it leaves nothing behind", async () => {
    const t = performance.now();
    const clone = await new EmbeddedProvider().start({
      replica: { settings: { recovery_min_apply_delay: "2s" } },
    });
    const setupMs = performance.now() - t;
    let primaryDir = "";
    let replicaDir = "";
    try {
      expect(clone.replica).toBeDefined();
      expect(clone.replica!.displayUrl()).toMatch(
        /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/rehearsal$/,
      );
      const primary = await client(clone.connectionConfig());
      const replica = await client(clone.replica!.connectionConfig());
      try {
        primaryDir = (await primary.query("SHOW data_directory")).rows[0].data_directory;
        replicaDir = (await replica.query("SHOW data_directory")).rows[0].data_directory;
        expect(replicaDir).not.toBe(primaryDir);
        expect((await replica.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
        const rep = await primary.query("SELECT application_name, state FROM pg_stat_replication");
        expect(rep.rows).toEqual([{ application_name: "rehearse_replica", state: "streaming" }]);
        // The primary_conninfo carries no password (it is in a passfile).
        const conninfo = await replica.query("SELECT conninfo FROM pg_stat_wal_receiver");
        expect(conninfo.rows[0].conninfo).not.toContain(String(clone.connectionConfig().password));

        // A heavy write, replayed two seconds late.
        const written = performance.now();
        await primary.query(
          "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g",
        );
        expect((await replica.query("SELECT to_regclass('bulk') AS t")).rows[0].t).toBeNull();
        const reader = new ReplicaLagReader(primary);
        let worst = 0;
        let seen = -1;
        while (seen !== 200_000 && performance.now() - written < 15_000) {
          const r = await reader.read();
          expect(r).toBeDefined();
          expect(r!.lag_bytes).toBeGreaterThanOrEqual(0);
          expect(Math.abs(r!.sampled_at_ms - Date.now())).toBeLessThan(1000);
          worst = Math.max(worst, r!.lag_ms);
          const exists = (await replica.query("SELECT to_regclass('bulk') AS t")).rows[0].t;
          if (exists) seen = Number((await replica.query("SELECT count(*) AS n FROM bulk")).rows[0].n);
          await sleep(100);
        }
        const visibleAfter = performance.now() - written;
        expect(seen).toBe(200_000);
        expect(visibleAfter).toBeGreaterThanOrEqual(1800);
        expect(worst).toBeGreaterThanOrEqual(500);

        // Caught up and idle: no lag, in time or bytes.
        let last = await reader.read();
        for (let i = 0; i < 100 && (last?.lag_ms !== 0 || last.lag_bytes !== 0); i++) {
          await sleep(100);
          last = await reader.read();
        }
        expect(last).toMatchObject({ lag_ms: 0, lag_bytes: 0 });
        expect(
          await new ReplicaLagReader(primary, { applicationName: "no_such_standby" }).read(),
        ).toBeUndefined();
        console.log(
          `replica: clone + replica ready in ${Math.round(setupMs)} ms; 200k rows visible on the replica after ` +
            `${Math.round(visibleAfter)} ms (apply delay 2 s); worst replay_lag read ${Math.round(worst)} ms`,
        );
      } finally {
        await primary.end();
        await replica.end();
      }
      expect(processesMentioning(replicaDir).length).toBeGreaterThan(0);
    } finally {
      await clone.stop();
    }
    // The standby's server and files are gone with the clone.
    expect(processesMentioning(replicaDir)).toEqual([]);
    expect(processesMentioning(primaryDir)).toEqual([]);
    expect(existsSync(replicaDir)).toBe(false);
    expect(existsSync(path.dirname(primaryDir))).toBe(false);
  });

  it("restarts the primary in place; the replica reconnects by itself", async () => {
    await using clone = await new EmbeddedProvider().start({ replica: {} });
    const before = await client(clone.connectionConfig());
    await before.query("CREATE TABLE r (id int)");
    const t = performance.now();
    await clone.restart!();
    const restartMs = performance.now() - t;
    await expect(before.query("SELECT 1")).rejects.toThrow();
    await before.end().catch(() => {});
    const after = await client(clone.connectionConfig());
    try {
      await after.query("INSERT INTO r SELECT generate_series(1, 1000)");
      let state: string | undefined;
      for (let i = 0; i < 100 && state !== "streaming"; i++) {
        await sleep(100);
        state = (await after.query("SELECT state FROM pg_stat_replication")).rows[0]?.state;
      }
      expect(state).toBe("streaming");
      const replica = await client(clone.replica!.connectionConfig());
      try {
        let n = 0;
        for (let i = 0; i < 100 && n !== 1000; i++) {
          await sleep(50);
          n = Number((await replica.query("SELECT count(*) AS n FROM r")).rows[0].n);
        }
        expect(n).toBe(1000);
      } finally {
        await replica.end();
      }
      console.log(`replica: primary restarted in ${Math.round(restartMs)} ms`);
    } finally {
      await after.end();
    }
  });
});

const SCHEMA = `CREATE TABLE items (id bigserial PRIMARY KEY, k uuid NOT NULL, v int NOT NULL);`;

function scenario(name: string, budget: string, replica = "true"): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "schema.sql"), SCHEMA);
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: ${name}
target:
  replica: ${replica}
  replica_settings: {recovery_min_apply_delay: 1500ms}
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 2000
      columns: {id: {gen: serial}, k: {gen: uuid}, v: {gen: uniform, min: 1, max: 9}}
load:
  source: {table: items, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO items (k, v) VALUES (:new_uuid::uuid, :v)"
    ack_key: new_uuid
  rate: 50
  warmup: 500ms
  cooldown: 500ms
migration:
  phases:
    - name: bulk
      steps:
        - name: copy
          sql: "INSERT INTO items (k, v) SELECT gen_random_uuid(), g % 10 FROM generate_series(1, 300000) g"
invariants:
  - {check: no_lost_writes, table: items, column: k}
budgets:
  load:
    bulk: {max_replica_lag: ${budget}}
`,
  );
  return dir;
}

describe("max_replica_lag end to end", () => {
  it("fails a phase whose replica replays later than the budget, with the lag it saw", async () => {
    const r = await rehearse({ scenarioPath: scenario("lag-over", "500ms"), logger: silentLogger });
    expect(r.reason ?? "").toBe("");
    expect(r.context.replica).toEqual({ settings: { recovery_min_apply_delay: "1500ms" } });
    const lag = r.observations!.replication_lag;
    expect(lag.length).toBeGreaterThan(2);
    const worst = Math.max(...lag.map((p) => p.lag_ms));
    expect(worst).toBeGreaterThanOrEqual(1000);
    const budget = r.checks.find((c) => c.id === "budget.load.max_replica_lag.bulk")!;
    expect(budget.status).toBe("fail");
    expect(budget.measured).toBeGreaterThanOrEqual(1000);
    expect(budget.limit).toBe(500);
    expect(r.checks.find((c) => c.id === "no_lost_writes")?.status).toBe("pass");
    expect(r.status).toBe("failed");
    expect(r.failing).toEqual(["budget.load.max_replica_lag.bulk"]);
    console.log(
      `replica: worst replay lag observed ${Math.round(worst)} ms (apply delay 1.5 s, 300k-row INSERT)`,
    );
  });

  it("passes when the budget allows the lag", async () => {
    const r = await rehearse({ scenarioPath: scenario("lag-under", "10s"), logger: silentLogger });
    expect(r.reason ?? "").toBe("");
    const budget = r.checks.find((c) => c.id === "budget.load.max_replica_lag.bulk")!;
    expect(budget.status).toBe("pass");
    expect(budget.measured).toBeGreaterThanOrEqual(1000);
    expect(r.status).toBe("passed");
  });

  it("a replica lag budget without a replica is bad input: exit 2 before anything runs", async () => {
    const r = await rehearse({
      scenarioPath: scenario("no-replica", "500ms", "false"),
      logger: silentLogger,
    });
    expect(r.status).toBe("inconclusive");
    expect(r.exit_code).toBe(2);
    expect(r.reason).toMatch(
      /scenario\.yaml:\d+:\d+: budgets\.load\.bulk\.max_replica_lag: a replica lag budget, but the scenario has no replica\n\s+fix: set target\.replica: true/,
    );
    expect(r.reason).toMatch(/target\.replica_settings: replica settings, but the scenario has no replica/);
    expect(r.steps).toEqual([]);
    expect(r.seeding).toBeUndefined();
  });
});
