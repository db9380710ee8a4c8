#!/usr/bin/env python3
"""sigdfl.py CMD ARGS... - exec CMD with SIGINT back at its default, as a
process started from a terminal has it."""
import os
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
