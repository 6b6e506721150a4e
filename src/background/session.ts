/**
 * One run of one background session: its own connection, named `rehearse background <name>` so whoever reads
 * pg_stat_activity (the lock tracer naming a blocker, a human) sees what it is, holding what its kind holds
 * in production for its duration. A run that is still going when the harness ends it is terminated from
 * another connection, because closing its socket would leave a pg_sleep or a VACUUM running server-side.
 */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { ident, literal, qualified } from "../db/sql.ts";
import type { BackgroundRun } from "../report/model.ts";
import type { ResolvedBackground } from "../scenario/resolved.ts";

export const BACKGROUND_APPLICATION_PREFIX = "rehearse background ";

/** How a run ended: its duration ran out, the harness ended it (section over, failure, interrupt), or an error. */
export type RunEnd = NonNullable<BackgroundRun["ended"]>;

export interface RunDeps {
  connect: () => Promise<pg.Client>;
  t0: number;
  /** Terminates a backend from the harness's own connection (never from the session's). */
  terminate: (pid: number) => Promise<void>;
  /** Resolves once the backend holds (or queues for) a lock on the table, the run ends, or it gives up. */
  waitForLock: (pid: number, table: string, running: () => boolean) => Promise<void>;
}

export class SessionRun {
  readonly facts: BackgroundRun;
  #client: pg.Client | undefined;
  #done: Promise<void> = Promise.resolve();
  #ending = false;

  constructor(
    readonly spec: ResolvedBackground,
    plannedMs: number,
    occurrence: number,
    trigger: string,
    private readonly deps: RunDeps,
  ) {
    this.facts = {
      name: spec.name,
      kind: spec.kind,
      ...(spec.table ? { table: spec.table } : {}),
      occurrence,
      trigger,
      planned_ms: Math.round(plannedMs),
      started_ms: this.now(),
      held: [],
      blocked: { migration_wait_ms: 0, load_backends: 0, max_waiters: 0, others: [] },
      waited_ms: 0,
    };
  }

  private now(): number {
    return Math.round(performance.now() - this.deps.t0);
  }

  get running(): boolean {
    return this.facts.ended === undefined;
  }

  /**
   * Connects and starts the session; resolves once it holds (or waits for) what it takes on its table, so a
   * step started right after really runs behind it. Never throws: a failure is the run's error.
   */
  async start(): Promise<void> {
    try {
      const c = await this.deps.connect();
      this.#client = c;
      // Ended while it was connecting (the steps failed, a signal): it must not start now.
      if (this.#ending) {
        this.finish("ended_by_harness");
        await c.end().catch(() => {});
        return;
      }
      const pid = (c as unknown as { processID: number }).processID;
      this.facts.pid = pid;
      await c.query(`SET application_name = ${literal(BACKGROUND_APPLICATION_PREFIX + this.spec.name)}`);
      this.facts.started_ms = this.now();
      this.#done = this.body(c).then(
        () => this.finish("completed"),
        (err: Error & { code?: string }) => this.finish(this.#ending ? "ended_by_harness" : "error", err),
      );
      if (this.spec.table) await this.deps.waitForLock(pid, this.spec.table, () => this.running);
    } catch (err) {
      this.finish("error", err as Error & { code?: string });
    }
  }

  /** Ends the run now if it is still going (the backend is terminated), and closes its connection. */
  async end(): Promise<void> {
    this.#ending = true;
    if (this.running && this.facts.pid !== undefined) {
      await this.deps.terminate(this.facts.pid).catch(() => {});
      // The termination surfaces as the body's error; past 2 s, stop waiting for it.
      await Promise.race([this.#done, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (this.running) this.finish("ended_by_harness");
    }
    await this.#client?.end().catch(() => {});
  }

  private finish(how: RunEnd, err?: Error & { code?: string }): void {
    if (!this.running) return;
    this.facts.ended = how;
    this.facts.ended_ms = this.now();
    if (how === "error" && err) {
      this.facts.error = { ...(err.code ? { sqlstate: err.code } : {}), message: err.message };
    }
  }

  /** What the kind does, for `planned_ms`. */
  private async body(c: pg.Client): Promise<void> {
    const s = this.spec;
    const secs = (this.facts.planned_ms / 1000).toFixed(3);
    const t = s.table ? qualified(s.table) : "";
    switch (s.kind) {
      case "long_read":
        // One statement, like a reporting query: ACCESS SHARE from parse to the end, and a real scan.
        await c.query(`SELECT count(*) FROM ${t}, pg_sleep(${secs})`);
        return;
      case "export":
        // pg_dump: a REPEATABLE READ snapshot, ACCESS SHARE taken up front, then the long COPY-like read.
        await c.query(
          `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot(); LOCK TABLE ${t} IN ACCESS SHARE MODE; SELECT count(*) FROM ${t}, pg_sleep(${secs}); COMMIT`,
        );
        return;
      case "idle_in_transaction":
        // Touches the table, then sits idle in its transaction: the lock stays, nothing runs server-side.
        await c.query(`BEGIN; SELECT 1 FROM ${t} LIMIT 1`);
        await this.idle(this.facts.planned_ms);
        await c.query("COMMIT");
        return;
      case "vacuum":
      case "analyze":
        await this.maintenance(c, s.kind === "vacuum" ? `VACUUM ${t}` : `ANALYZE ${t}`);
        return;
      case "update_batch":
        await this.updateBatch(c, t, secs);
        return;
      case "sql":
        await this.userSql(c);
        return;
    }
  }

  /** Sleeps client-side, cut short when the harness ends the run. */
  private async idle(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (!this.#ending && performance.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(100, until - performance.now())).unref());
    }
    if (this.#ending) throw new Error("ended by the harness");
  }

  /**
   * A manual VACUUM or ANALYZE holds SHARE UPDATE EXCLUSIVE only while it runs: cost-delayed so one pass is
   * slow, run again until the duration is over, the last pass cancelled at the deadline.
   */
  private async maintenance(c: pg.Client, stmt: string): Promise<void> {
    await c.query("SET vacuum_cost_delay = '20ms'; SET vacuum_cost_limit = 1");
    const until = performance.now() + this.facts.planned_ms;
    while (performance.now() < until && !this.#ending) {
      const left = Math.max(1, Math.round(until - performance.now()));
      try {
        // Apart: a multi-statement query is an implicit transaction block, where VACUUM cannot run.
        await c.query(`SET statement_timeout = ${left}`);
        await c.query(stmt);
      } catch (err) {
        // 57014: the pass ran into the deadline (statement_timeout): the session's time is up.
        if ((err as { code?: string }).code !== "57014") throw err;
        return;
      }
    }
  }

  /**
   * A long UPDATE batch: rows locked and rewritten in one transaction held for the duration, then rolled back,
   * so the session changes no data the invariants read (the dead tuples it leaves are real).
   */
  private async updateBatch(c: pg.Client, t: string, secs: string): Promise<void> {
    const col = await c.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = ${literal(this.spec.table!)}::regclass AND attnum > 0
         AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a' ORDER BY attnum LIMIT 1`,
    );
    const name = col.rows[0]?.attname;
    if (!name) throw new Error(`table ${this.spec.table} has no column an UPDATE can set`);
    const q = ident(name);
    await c.query(
      `BEGIN; UPDATE ${t} SET ${q} = ${q} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${t} LIMIT ${this.spec.rows}))`,
    );
    await c.query(`SELECT pg_sleep(${secs})`);
    await c.query("ROLLBACK");
  }

  /** The user's SQL as one query; past the duration it is cancelled, and an open transaction rolled back. */
  private async userSql(c: pg.Client): Promise<void> {
    const text = this.spec.sqlText!.statements.map((st) => st.sql).join(";\n");
    const started = performance.now();
    await c.query(`SET statement_timeout = ${Math.max(1, this.facts.planned_ms)}`);
    try {
      await c.query(text);
    } catch (err) {
      if ((err as { code?: string }).code !== "57014") throw err;
      await c.query("ROLLBACK").catch(() => {});
      return;
    }
    // A transaction the SQL left open holds its locks until the duration is over.
    const left = this.facts.planned_ms - (performance.now() - started);
    if (left > 0) await this.idle(left);
    await c.query("ROLLBACK").catch(() => {});
  }
}
