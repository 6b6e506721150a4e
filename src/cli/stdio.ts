/**
 * Standard output and error that outlive their reader. When the terminal closes (SIGHUP: a closed window,
 * `tmux kill-session`, a dropped ssh), every later write fails with EIO — and EPIPE once a pipe's reader has
 * gone (`rehearse run … | head`). Unhandled, that 'error' event killed the process in the middle of its
 * clean-up, leaving the clone's data directory (170 MB) in the temp dir. And Node 20 aborts on exit when it
 * cannot restore a terminal that has hung up (ResetStdio's tcsetattr fails with EIO; nodejs/node#58200
 * fixed it in later releases), so even a clean-up that finished ended in SIGABRT instead of 129.
 */
import { closeSync } from "node:fs";
import { isatty } from "node:tty";

const STDIO = [0, 1, 2] as const;

/** Call once, first thing: from then on a lost terminal or reader costs the output, never the clean-up. */
export function guardStdio(): void {
  // Nothing to tell a reader that is gone: drop the output, keep running to the end of the teardown.
  for (const s of [process.stdout, process.stderr]) s.on("error", () => {});
  const wasTerminal = STDIO.map((fd) => isatty(fd));
  process.on("exit", () => {
    for (const fd of STDIO) {
      // A terminal that hung up no longer answers isatty() (tcgetattr fails). Closed, Node's exit skips it
      // (it restores only descriptors still open on the same file) instead of aborting on it.
      if (!wasTerminal[fd] || isatty(fd)) continue;
      try {
        closeSync(fd);
      } catch {
        // Already closed: nothing for the exit to trip over either.
      }
    }
  });
}
