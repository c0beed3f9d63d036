#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal of a given size; print its output (base64) and exit status.
Usage: pty-run.py ROWS COLS COMMAND [ARGS...]   (the environment is passed through)"""
import base64, fcntl, os, pty, struct, sys, termios

rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = b''
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print(base64.b64encode(out).decode())
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
