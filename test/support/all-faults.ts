/**
 * One rehearsal under load with all three faults mid-run — `terminate_load_connections`, `restart_server`,
 * then `kill_backfill_worker` during a backfill — and what it must show afterwards. Shared by
 * test/integration/faults.test.ts (which asserts it) and `npm run figures` (which counts it).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RunReport } from "../../src/report/model.ts";

export const FAULTS = ["terminate_load_connections", "restart_server", "kill_backfill_worker"] as const;

/** Writes the scenario folder `<root>/all-faults` and returns its path. */
export function writeAllFaultsScenario(root: string): string {
  const dir = path.join(root, "all-faults");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "schema.sql"),
    `CREATE TABLE items (id bigserial PRIMARY KEY, k uuid NOT NULL, v int NOT NULL);
     -- Writes that take a few ms, so each fault catches some of them in flight.
     CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$;
     CREATE TABLE history (id bigint PRIMARY KEY, v int NOT NULL);
     -- No key on the copy: a batch copied twice after the worker's restart would show as extra rows.
     CREATE TABLE history_new (id bigint NOT NULL, v int NOT NULL);`,
  );
  writeFileSync(
    path.join(dir, "after.sql"),
    "CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow();",
  );
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: all-faults
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 3000
      columns: {id: {gen: serial}, k: {gen: uuid}, v: {gen: uniform, min: 1, max: 9}}
    - name: history
      rows: 30000
      columns: {id: {gen: serial}, v: {gen: uniform, min: 1, max: 1000}}
  after: {file: after.sql}
load:
  source: {table: items, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO items (k, v) VALUES (:new_uuid::uuid, :v)"
    ack_key: new_uuid
  rate: 150
  connections: 4
  warmup: 1s
  cooldown: 500ms
migration:
  phases:
    - name: prepare
      steps:
        - {name: add_column, sql: "ALTER TABLE items ADD COLUMN note text"}
        - {name: settle, sql: "SELECT pg_sleep(0.5)"}
    - name: terminate
      steps:
        - {name: inject, fault: terminate_load_connections}
        - {name: settle, sql: "SELECT pg_sleep(1)"}
    - name: restart
      steps:
        - {name: inject, fault: restart_server}
        - {name: settle, sql: "SELECT pg_sleep(1)"}
    - name: copy
      steps:
        - {name: inject, fault: kill_backfill_worker, after_batches: 5}
        - name: backfill
          backfill: {source: history, target: history_new, key: id, batch: 1000, workers: 2}
    - name: after
      steps:
        - {name: settle, sql: "SELECT pg_sleep(1)"}
        - {name: index, sql: "CREATE INDEX items_v ON items (v)"}
invariants:
  - {check: no_lost_writes, table: items, column: k}
  - {check: row_parity, source: history, target: history_new, key: id, columns: [id, v]}
  - {check: indexes_valid, tables: [items]}
`,
  );
  return dir;
}

export interface FaultFigures {
  /** Faults whose step succeeded in a run that passed. */
  survived: string[];
  /** Acknowledged writes no_lost_writes found, each exactly once (0 when it did not pass). */
  acknowledgedChecked: number;
  /** Load connections lost during the run (every fault but the backfill kill costs some). */
  connectionLosses: number;
  /** Times the backfill restarted a worker. */
  backfillRestarts: number;
}

/** The load's connection losses in a fault's window: from 50 ms before its step to 500 ms after it. */
export const lossesInWindow = (losses: number[], from: number, to: number): number[] =>
  losses.filter((t) => t >= from - 50 && t <= to + 500);

/** What the run shows about the faults, read from its report alone. */
export function faultFigures(r: RunReport): FaultFigures {
  const passed = r.status === "passed";
  const losses = r.load?.connection_losses ?? [];
  const survived = FAULTS.filter((f) => {
    if (!passed) return false;
    const phase = f === "kill_backfill_worker" ? "copy" : f === "restart_server" ? "restart" : "terminate";
    const step = r.steps.find((s) => s.phase === phase && s.name === "inject");
    if (step?.status !== "success") return false;
    if (f === "kill_backfill_worker") {
      // Fired, and the killed worker came back: a fault that never fired proves nothing.
      const bf = r.steps.find((s) => s.name === "backfill")?.backfill;
      return (bf?.faults_injected ?? 0) >= 1 && (bf?.restarts ?? 0) >= 1;
    }
    // The load lost connections in the fault's window, and so was there to survive it.
    const from = step.started_ms ?? 0;
    const to = from + (step.duration_ms ?? 0);
    return lossesInWindow(losses, from, to).length > 0;
  });
  const nlw = r.checks.find((c) => c.id === "no_lost_writes");
  const m =
    nlw?.status === "pass"
      ? /^(\d+) acknowledged writes?, each present exactly once/.exec(nlw.summary)
      : null;
  return {
    survived,
    acknowledgedChecked: m ? Number(m[1]) : 0,
    connectionLosses: losses.length,
    backfillRestarts: r.steps.find((s) => s.name === "backfill")?.backfill?.restarts ?? 0,
  };
}
