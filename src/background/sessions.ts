/**
 * The scenario's background sessions over one migration: those with `at:` started just before their phase or
 * step (and left running into the steps after it), those with `every:` started on their schedule from the
 * first step, all sampled while they run, and all ended when the steps are over — or earlier, by the run's
 * teardown, on a failure or an interrupt. What each run did goes into report.json's `background[]`.
 */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type { BackgroundRun } from "../report/model.ts";
import type { ResolvedBackground } from "../scenario/resolved.ts";
import { BackgroundSampler } from "./sampler.ts";
import { type RunDeps, SessionRun } from "./session.ts";

export interface BackgroundDeps {
  connect: () => Promise<pg.Client>;
  t0: number;
  /** dataset.seed: the same scenario draws the same durations. */
  seed: number;
  /** The migration connection's backend, as it is now (a restart replaces it). */
  migrationPid: () => number | undefined;
}

const SAMPLE_MS = 100;
/** How long a started session may take to hold (or queue for) its table lock before the step goes ahead. */
const LOCK_WAIT_MS = 2000;

export class BackgroundSessions {
  readonly #runs: SessionRun[] = [];
  /** Each run's facts, in start order, as they are now: the report holds this array from the start, so an
   * interrupted run's report (written when the signal lands) shows the sessions as they stood. */
  readonly facts: BackgroundRun[] = [];
  readonly #startedPhases = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  #control: pg.Client | undefined;
  #sampling: NodeJS.Timeout | undefined;
  #scheduled = false;
  #stopped = false;

  constructor(
    private readonly specs: ResolvedBackground[],
    private readonly deps: BackgroundDeps,
  ) {}

  /** True when the scenario has any session (otherwise every method is a no-op and opens no connection). */
  get any(): boolean {
    return this.specs.length > 0;
  }

  /** Starts the sessions due just before this step (its own, and its phase's if it is the phase's first). */
  async beforeStep(phase: string, step: string): Promise<void> {
    if (!this.any || this.#stopped) return;
    await this.ensureControl();
    this.startSchedules();
    const keys = [`${phase}/${step}`];
    if (!this.#startedPhases.has(phase)) {
      this.#startedPhases.add(phase);
      keys.push(phase);
    }
    const due = this.specs.filter((s) => s.at !== undefined && keys.includes(s.at));
    await Promise.all(due.map((s) => this.launch(s, `${phase}/${step}`)));
  }

  /** Ends every run still going, stops the schedules and the sampling; the runs' facts, in start order. */
  async stop(): Promise<BackgroundRun[]> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#sampling) clearInterval(this.#sampling);
    await Promise.all(this.#runs.map((r) => r.end()));
    await this.#control?.end().catch(() => {});
    this.#control = undefined;
    return this.facts;
  }

  private async ensureControl(): Promise<void> {
    if (this.#control) return;
    const c = await this.deps.connect();
    await c.query("SET application_name = 'rehearse background control'");
    this.#control = c;
    const sampler = new BackgroundSampler(c, this.deps.migrationPid);
    let busy = false;
    this.#sampling = setInterval(() => {
      if (busy) return;
      busy = true;
      void sampler.sample(this.#runs.map((r) => r.facts)).finally(() => (busy = false));
    }, SAMPLE_MS);
    this.#sampling.unref();
  }

  /** `every:` sessions: the first run now (the migration's first step), then one per period. */
  private startSchedules(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    for (const s of this.specs) {
      if (s.every === undefined) continue;
      void this.launch(s, "schedule");
      const t = setInterval(() => void this.launch(s, "schedule"), s.every);
      t.unref();
      this.#timers.push(t);
    }
  }

  private async launch(spec: ResolvedBackground, trigger: string): Promise<void> {
    if (this.#stopped) return;
    const occurrence = this.#runs.filter((r) => r.spec.name === spec.name).length + 1;
    const run = new SessionRun(spec, this.duration(spec, occurrence), occurrence, trigger, this.runDeps());
    this.#runs.push(run);
    this.facts.push(run.facts);
    await run.start();
  }

  private runDeps(): RunDeps {
    return {
      connect: this.deps.connect,
      t0: this.deps.t0,
      terminate: async (pid) => {
        await this.#control?.query("SELECT pg_terminate_backend($1)", [pid]);
      },
      waitForLock: (pid, table, running) => this.waitForLock(pid, table, running),
    };
  }

  /** Until the backend holds or queues for a lock on the table (or the run is over), at most LOCK_WAIT_MS. */
  private async waitForLock(pid: number, table: string, running: () => boolean): Promise<void> {
    const until = performance.now() + LOCK_WAIT_MS;
    while (performance.now() < until && this.#control && running()) {
      const r = await this.#control
        .query<{ locked: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'relation'
                           AND relation = to_regclass($2)) AS locked`,
          [pid, table],
        )
        .catch(() => undefined);
      if (!r || r.rows[0]?.locked) return;
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  /** A fixed duration, or one drawn uniformly from {min, max}: the same seed, name and run draw the same. */
  private duration(spec: ResolvedBackground, occurrence: number): number {
    const d = spec.duration;
    if (typeof d === "number") return d;
    return d.min + (d.max - d.min) * unitHash(`${this.deps.seed}/${spec.name}/${occurrence}`);
  }
}

/** A number in [0, 1) from a string (FNV-1a), for reproducible draws without a PRNG's state. */
function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}
