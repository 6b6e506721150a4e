/**
 * The whole test run's own check that it cleaned up after itself (vitest globalSetup, vitest.config.ts).
 *
 * - Every worker gets a private TMPDIR (inherited through the environment), so what is left in it at the end is
 *   this run's — not another run's on the same shared machine. A directory rehearse itself makes there (a
 *   cluster's `rehearse-XXXXXX`, `rehearse-ack-…`, `rehearse-pgpass-…`) or a PostgreSQL data directory
 *   anywhere under it fails the run. A test file's own scratch directory does not: vitest skips its afterAll
 *   when every test in it is filtered out or skipped (no chromium, no Docker), and the folder goes with the
 *   private TMPDIR.
 * - PostgreSQL's Unix sockets ignore TMPDIR (the binaries' default directory is /tmp): a `.s.PGSQL.<port>` or
 *   its `.lock` that appeared in /tmp during the run and whose server is gone (the lock's first line is the
 *   postmaster's pid) fails the run too. One whose server still runs belongs to someone else's live server.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const SOCKET_DIR = "/tmp";
/** What src/ names its temp directories: mkdtemp's six characters after the prefix. */
const HARNESS_DIR = /^rehearse-(?:ack-|pgpass-)?[A-Za-z0-9]{6}$/;
const SOCKET = /^\.s\.PGSQL\.\d+(\.lock)?$/;

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the server behind `.s.PGSQL.<port>[.lock]` in `dir` has gone (an unreadable lock counts as gone). */
function stale(dir: string, name: string): boolean {
  const lock = path.join(dir, name.endsWith(".lock") ? name : `${name}.lock`);
  try {
    const pid = Number(readFileSync(lock, "utf8").split("\n")[0]);
    return !(pid > 0 && alive(pid));
  } catch {
    return true;
  }
}

/** PostgreSQL data directories (they hold PG_VERSION) under `dir`, a few levels down. */
function dataDirs(dir: string, depth = 5): string[] {
  const entries = list(dir);
  if (entries.includes("PG_VERSION")) return [dir];
  if (depth === 0) return [];
  return entries.flatMap((e) => {
    const p = path.join(dir, e);
    try {
      return lstatSync(p).isDirectory() ? dataDirs(p, depth - 1) : [];
    } catch {
      return [];
    }
  });
}

export function staleSockets(dir: string, before: Set<string>): string[] {
  return list(dir)
    .filter((f) => SOCKET.test(f) && !before.has(f) && stale(dir, f))
    .map((f) => path.join(dir, f));
}

export default function setup(): () => void {
  const socketsBefore = new Set(list(SOCKET_DIR).filter((f) => SOCKET.test(f)));
  const previousTmp = process.env.TMPDIR;
  const privateTmp = mkdtempSync(path.join(tmpdir(), "vitest-run-"));
  // Like a normal TMPDIR: the clusters' server runs as the postgres user and must reach its directories.
  chmodSync(privateTmp, 0o755);
  process.env.TMPDIR = privateTmp;
  return () => {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    const harness = list(privateTmp)
      .filter((f) => HARNESS_DIR.test(f))
      .map((f) => path.join(privateTmp, f));
    const clusters = dataDirs(privateTmp).filter((d) => !harness.some((h) => d.startsWith(`${h}/`)));
    const left = [...harness, ...clusters, ...staleSockets(SOCKET_DIR, socketsBefore)];
    if (left.length === 0) {
      // What else is in it (tsx's compile cache, files tests did not need to name) goes with it.
      rmSync(privateTmp, { recursive: true, force: true });
      return;
    }
    // Kept for a look (a recursive removal would also reach into a mount left under it). vitest only logs
    // an error thrown here ("error during close") and still exits 0: fail the run itself.
    process.exitCode = 1;
    throw new Error(
      `the test run left these behind (its temp directories, sockets of servers that are gone):\n${left.map((l) => `  ${l}`).join("\n")}`,
    );
  };
}
