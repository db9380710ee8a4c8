#!/usr/bin/env python3
"""read_tree.py MNT - answer a list of reads of a countfs mount, one per
line of stdin, with one line "QUERY ANSWER" each, so that a whole tree can
be compared with a file made earlier (tests/upgrade.bats and
tests/fixtures/make-data-0.5.0.sh).

  PATH         the file's content without its final newline (a count:
               "12"; an empty min: ""); a content that is not one line is
               printed as Python's repr, a failed read as "!ENOENT" etc.
  PATH/        a listing: one line "PATH/ NAME" per entry, sorted
               ("PATH/" alone when empty)
  mtime:PATH   the file's mtime in whole seconds

One process reads everything: a cat per file would take minutes for the
tens of thousands of reads of the upgrade test.
"""
import errno
import os
import sys


def failed(e):
    return "!" + errno.errorcode.get(e.errno, str(e.errno))


def content(path):
    # Unbuffered: read() until end of file (the size says 0).
    with open(path, "rb", buffering=0) as f:
        text = f.read().decode("ascii", "replace")
    if text.endswith("\n") and "\n" not in text[:-1]:
        return text[:-1]
    return repr(text)


def answer(mnt, query, out):
    try:
        if query.startswith("mtime:"):
            st = os.stat(os.path.join(mnt, query[len("mtime:"):]))
            out.write("%s %d\n" % (query, st.st_mtime))
        elif query.endswith("/"):
            names = sorted(os.listdir(os.path.join(mnt, query)))
            if not names:
                out.write(query + "\n")
            for n in names:
                out.write("%s %s\n" % (query, n))
        else:
            out.write("%s %s\n" % (query, content(os.path.join(mnt, query))))
    except OSError as e:
        out.write("%s %s\n" % (query, failed(e)))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: read_tree.py MNT <queries\n")
        return 2
    out = sys.stdout
    for line in sys.stdin:
        query = line.rstrip("\n")
        if query:
            answer(argv[1], query, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
