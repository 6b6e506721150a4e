"""Runs a command on a pseudo-terminal and hangs the terminal up the moment its output matches a pattern.

    python3 pty-hangup.py <regex> <command> [args...]

Like closing a terminal window or `tmux kill-session`: SIGHUP to the terminal's process group, then the master
side closed, so every later write of the command's fails (EIO). Prints the command's terminal output on stderr
and, last, one JSON line on stdout: {"signalled": bool, "code": int|null, "signal": int|null,
"exit_after_signal_ms": float}. Used by test/support/interrupts.ts (Node has no pty of its own).
"""
import json
import os
import pty
import re
import select
import signal
import sys
import time

pattern = re.compile(sys.argv[1].encode())
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

seen = b""
signalled = False
status = None
while True:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if not ready:
        # Ended before the pattern showed: nothing more will come.
        reaped, st = os.waitpid(pid, os.WNOHANG)
        if reaped != 0:
            status = st
            break
        continue
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        chunk = b""
    if not chunk:
        break
    seen += chunk
    if pattern.search(seen):
        signalled = True
        break

sys.stderr.buffer.write(seen)
sys.stderr.flush()
t0 = time.monotonic()
if signalled:
    # The child is the session leader of the terminal: its process group is its pid.
    try:
        os.killpg(pid, signal.SIGHUP)
    except ProcessLookupError:
        pass
os.close(fd)
if status is None:
    _, status = os.waitpid(pid, 0)
elapsed_ms = (time.monotonic() - t0) * 1000
code = sig = None
if os.WIFEXITED(status):
    code = os.WEXITSTATUS(status)
elif os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
print(json.dumps({"signalled": signalled, "code": code, "signal": sig, "exit_after_signal_ms": elapsed_ms}))
