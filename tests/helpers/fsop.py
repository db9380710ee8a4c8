#!/usr/bin/env python3
"""fsop.py - one file operation, its outcome printed as "OK ..." or the
errno's name, so that bats tests can assert exact errors.

  fsop.py write PATH DATA...      one write() per DATA (\\n etc. decoded)
  fsop.py trunc PATH DATA         open with O_TRUNC (no O_APPEND), write
  fsop.py read PATH               the whole content
  fsop.py open PATH MODE          open only (r, w, a), then close
  fsop.py close-after PATH DATA   write DATA, report close()'s outcome
"""
import errno
import os
import sys


def decode(s):
    return s.encode().decode("unicode_escape").encode("latin-1")


def err(e):
    print(errno.errorcode.get(e.errno, str(e.errno)))
    return 1


def main(argv):
    op, path = argv[1], argv[2]
    try:
        if op == "read":
            fd = os.open(path, os.O_RDONLY)
            data = b""
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
            os.close(fd)
            sys.stdout.write("OK " + data.decode("latin-1"))
            return 0
        if op == "open":
            flags = {"r": os.O_RDONLY, "w": os.O_WRONLY,
                     "a": os.O_WRONLY | os.O_APPEND}[argv[3]]
            os.close(os.open(path, flags))
            print("OK")
            return 0
        if op in ("write", "trunc", "close-after"):
            flags = os.O_WRONLY | (os.O_TRUNC if op == "trunc"
                                   else os.O_APPEND)
            fd = os.open(path, flags)
            try:
                n = 0
                for d in argv[3:]:
                    n += os.write(fd, decode(d))
            except OSError as e:
                os.close(fd)
                return err(e)
            os.close(fd)
            print("OK %d" % n)
            return 0
    except OSError as e:
        return err(e)
    print("unknown op " + op, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
