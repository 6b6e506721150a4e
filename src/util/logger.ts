import { redact } from "./redact.ts";

/** Where the harness tells a person what it is doing. Plain timestamped lines: greppable in CI. */
export interface Logger {
  info(line: string): void;
  /** Frequent updates (seeding progress); throttled. */
  progress(line: string): void;
  debug(line: string): void;
  /**
   * Structured progress for a live view (src/cli/progress.ts). Optional: plain loggers ignore it, and the
   * rehearsal only calls it when present.
   */
  event?(e: ProgressEvent): void;
}

/** What the load is doing right now, when the engine can say so cheaply. Every field optional. */
export interface LoadSnapshot {
  /** Acknowledged writes per second over the last second or so. */
  writesPerS?: number;
  /** p99 latency (ms) over the same window. */
  p99Ms?: number;
  /** Load requests waiting on a lock right now. */
  blocked?: number;
  /** Locks the migration holds right now. */
  locksHeld?: number;
}

/** Structured progress the rehearsal reports at stage changes, steps, seeding, and once a second while migrating. */
export type ProgressEvent =
  | { kind: "stage"; stage: string }
  | { kind: "step"; phase: string; step: string; status: string }
  | { kind: "seed"; table: string; rows: number; total: number; rowsPerS: number }
  | { kind: "tick"; load?: LoadSnapshot }
  /** A running backfill step ("phase/step"): rows copied so far, share of the key range done, ETA. */
  | { kind: "backfill"; step: string; rows: number; rowsPerS: number; fraction: number; etaMs?: number }
  | { kind: "done" };

export interface LoggerOptions {
  debug?: boolean;
  quiet?: boolean;
  /** Minimum ms between progress lines. */
  progressEveryMs?: number;
  write?: (line: string) => void;
}

/** `HH:MM:SS.mmm line`, redacted: the one line format every view uses. */
export function formatLine(line: string, at: Date = new Date()): string {
  return `${at.toISOString().slice(11, 23)} ${redact(line)}`;
}

/** Logs to stderr so stdout stays for machine-readable output. Every line is redacted. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const every = opts.progressEveryMs ?? 2000;
  let lastProgress = 0;
  const out = (line: string) => write(formatLine(line));
  return {
    info: (l) => {
      if (!opts.quiet) out(l);
    },
    progress: (l) => {
      const now = Date.now();
      if (opts.quiet || now - lastProgress < every) return;
      lastProgress = now;
      out(l);
    },
    debug: (l) => {
      if (opts.debug) out(l);
    },
  };
}

export const silentLogger: Logger = { info() {}, progress() {}, debug() {} };
