#!/usr/bin/env python3
"""ptyrun.py OUT PROMPT ANSWER CMD...: run CMD on a new pseudo-terminal.

When the terminal output contains PROMPT (a literal string), ANSWER and a
newline are typed.  Everything the command writes to the terminal goes
to OUT.  Exits with the command's exit status (124 after 30 seconds).
"""
import os
import pty
import select
import sys
import time

out, prompt, answer, cmd = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
seen = b""
typed = False
deadline = time.monotonic() + 30
with open(out, "wb") as f:
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if fd in r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            f.write(data)
            f.flush()
            seen += data
            if not typed and prompt in seen:
                os.write(fd, answer.encode() + b"\n")
                typed = True
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128)
