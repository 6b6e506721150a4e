import { redact } from "./redact.ts";

/** Where the harness tells a person what it is doing. Plain timestamped lines: greppable in CI. */
export interface Logger {
  info(line: string): void;
  /** Frequent updates (seeding progress); throttled. */
  progress(line: string): void;
  debug(line: string): void;
}

export interface LoggerOptions {
  debug?: boolean;
  quiet?: boolean;
  /** Minimum ms between progress lines. */
  progressEveryMs?: number;
  write?: (line: string) => void;
}

/** Logs to stderr so stdout stays for machine-readable output. Every line is redacted. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const every = opts.progressEveryMs ?? 2000;
  let lastProgress = 0;
  const out = (line: string) => write(`${new Date().toISOString().slice(11, 23)} ${redact(line)}`);
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
