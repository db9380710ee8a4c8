#!/usr/bin/env python3
"""acked_writer.py FILE LOG - append one line ("\\n") per write() to FILE
until a write fails (the daemon is gone), logging "1" to LOG after each
acknowledged write: the tests compare the log with the count afterwards."""
import os
import sys

try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
except OSError:
    sys.exit(0)
log = open(sys.argv[2], "a", buffering=1)
try:
    while True:
        os.write(fd, b"\n")
        log.write("1\n")
except OSError:
    pass
