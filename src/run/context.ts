/**
 * What every stage of a run shares, passed to each explicitly: the report under construction, progress,
 * the stage clock, the interrupt that may cut the run short, and what the teardown must close and remove.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type { Clone } from "../clone/provider.ts";
import { REPORT_SCHEMA_VERSION, type RunReport } from "../report/model.ts";
import { onInterrupt, signalExitCode } from "../util/cleanup.ts";
import type { Logger, ProgressEvent } from "../util/logger.ts";
import { TOOL_VERSION } from "../version.ts";
import { finish } from "./expectation.ts";
import type { RehearsalOptions } from "./options.ts";
import { newRunId } from "./run-id.ts";

/** Thrown at a stage boundary once a signal has arrived: the run ends there, its report already aborted. */
export class RunAborted extends Error {}

/** What the run made and must undo, whatever happens: the teardown's registry, filled as things are made. */
export interface RunResources {
  /** Every connection to the clone (connector() pushes onto it). */
  clients: pg.Client[];
  pools: pg.Pool[];
  clone?: Clone;
  /** The background sessions: ended (their backends terminated) before the connections close. */
  background?: { stop(): Promise<unknown> };
  /** The load's acknowledged-writes ledger, and the unregistering of its interrupt cleanup. */
  ackDir?: { path: string; unregister: () => void };
}

export class RunContext {
  readonly log: Logger;
  /** performance.now() at the start: every time in the report is relative to it. */
  readonly t0 = performance.now();
  readonly report: RunReport;
  readonly resources: RunResources = { clients: [], pools: [] };
  #aborted: NodeJS.Signals | undefined;
  #stage = "loading the scenario";
  /** The migration step running ("phase/step"), so an aborted report says which phase the signal hit. */
  #at: string | undefined;
  #stageStart: number;
  readonly #stopListening: () => void;

  constructor(readonly opts: RehearsalOptions) {
    this.log = opts.logger;
    this.report = emptyReport(opts, path.basename(path.resolve(opts.scenarioPath)));
    this.#stopListening = onInterrupt((signal) => {
      this.#aborted = signal;
      this.report.status = "aborted";
      this.report.exit_code = signalExitCode(signal);
      this.report.reason = `interrupted by ${signal} during ${this.#stage}${this.#at ? ` (${this.#at})` : ""}`;
      finish(this.report, this.t0);
      opts.onAbort?.(this.report);
    });
    this.#stageStart = performance.now();
    this.emit({ kind: "stage", stage: this.#stage });
  }

  /** The signal that interrupted the run, once one has. */
  get aborted(): NodeJS.Signals | undefined {
    return this.#aborted;
  }

  get stage(): string {
    return this.#stage;
  }

  emit(e: ProgressEvent): void {
    try {
      (this.opts.onEvent ?? this.log.event?.bind(this.log))?.(e);
    } catch {
      // Progress display must never break a rehearsal.
    }
  }

  /** Closes the current stage's timing and opens the next: the report says where the wall time went. */
  enter(next: string): void {
    this.closeTiming();
    this.#stage = next;
    this.#at = undefined;
    this.#stageStart = performance.now();
    this.emit({ kind: "stage", stage: next });
  }

  /** The current stage's time so far, into the report (at each change, and once at the end). */
  closeTiming(): void {
    this.report.timings.push({ stage: this.#stage, ms: Math.round(performance.now() - this.#stageStart) });
  }

  /** The migration step now running, for an interrupt's reason. */
  atStep(phaseStep: string): void {
    this.#at = phaseStep;
  }

  /** Where a stage would go on to make or wait for more: stop instead if a signal has arrived. */
  stopIfAborted(): void {
    if (this.#aborted) throw new RunAborted();
  }

  /** From here on a signal no longer changes the report (the teardown has begun). */
  stopListening(): void {
    this.#stopListening();
  }
}

function emptyReport(opts: RehearsalOptions, name: string): RunReport {
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    tool: { name: "rehearse", version: TOOL_VERSION },
    run_id: opts.runId ?? newRunId(name),
    scenario: { name, path: opts.scenarioPath, description: "" },
    started_at: new Date().toISOString(),
    finished_at: "",
    duration_ms: 0,
    status: "inconclusive",
    exit_code: 2,
    context: {
      provider: "embedded",
      settings: {},
      seed: 0,
      scale: opts.scale ?? 1,
      rows: {},
      rollback: opts.rollback ?? false,
      node: process.version,
    },
    timings: [],
    phases: [],
    steps: [],
    locks: [],
    effects: [],
    checks: [],
    failing: [],
    expectation: { verdict: "pass", failing: [], met: false, explanation: "" },
  };
}
