#!/usr/bin/env python3
"""client.py - the counter API of countfs in a few lines of Python.

Every call is plain file I/O on the mount; nothing to install.

    $ ./countfs mnt -o data=data
    $ examples/client.py mnt
    views of v42: 4 (a retried event id counts once)
    views of v42 in the last minute: 4
    play_ms of v42: count 2, sum 1500, avg 750
    a bad value is refused with EINVAL; play_ms of v42 still counts 2
    seek_ms of v42, written through a buffered file: count 3, avg 100
    batch of 1000 events recorded; v7 now has 100 views

A refused write raises OSError (EINVAL) from os.write(), or from flush()
and close() of a buffered file.  Never write through a file object that
is not closed by `with` or by hand: `open(p, "a").write("oops\n")` loses
the error, as CPython ignores what the garbage collector's close raises.
"""
import errno
import os
import sys
import time


class Counters:
    def __init__(self, mount):
        self.mount = mount

    def _append(self, path, line):
        # One write() per call: the line is recorded when write() returns.
        fd = os.open(os.path.join(self.mount, path), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _read(self, path):
        with open(os.path.join(self.mount, path)) as f:
            return f.read().strip()

    def count_view(self, video, event_id=None):
        self._append("videos/%s/views" % video,
                     "#%s\n" % event_id if event_id else "\n")

    def count_event(self, video, event_type, value=1, ts=None):
        line = str(value) + (" @%d" % ts if ts else "") + "\n"
        self._append("videos/%s/events/%s/count" % (video, event_type), line)

    def count_events_buffered(self, video, event_type, values):
        """Many events through Python's buffered file, one write() per
        buffer.  A bad line makes the whole buffer's write() fail, and
        Python raises that at flush() or close(): inside `with`, never
        lost."""
        path = "videos/%s/events/%s/count" % (video, event_type)
        with open(os.path.join(self.mount, path), "a") as f:
            for v in values:
                f.write("%d\n" % v)
            f.flush()   # raises here, while the events are still at hand

    def process_events(self, events):
        """events: iterable of (video, type, value); one write per 64 KiB."""
        fd = os.open(os.path.join(self.mount, "ingest"),
                     os.O_WRONLY | os.O_APPEND)
        try:
            buf = []
            size = 0
            for video, event_type, value in events:
                line = "%s %s %d\n" % (video, event_type, value)
                buf.append(line)
                size += len(line)
                if size > 60000:
                    os.write(fd, "".join(buf).encode())
                    buf, size = [], 0
            if buf:
                os.write(fd, "".join(buf).encode())
        finally:
            os.close(fd)

    def get_views_count(self, video, start=None, end=None):
        if start is None:
            return int(self._read("videos/%s/views" % video))
        window = "%d-%s" % (start, "" if end is None else "%d" % end)
        return int(self._read("videos/%s/range/%s" % (video, window)))

    def aggregate(self, video, event_type, fn):
        value = self._read("videos/%s/events/%s/%s" % (video, event_type, fn))
        return value or None


def main():
    c = Counters(sys.argv[1] if len(sys.argv) > 1 else "mnt")
    now = int(time.time())
    for _ in range(3):
        c.count_view("v42")
    c.count_view("v42", event_id="req-1")
    c.count_view("v42", event_id="req-1")      # a retry: not counted again
    print("views of v42: %d (a retried event id counts once)"
          % c.get_views_count("v42"))
    print("views of v42 in the last minute:",
          c.get_views_count("v42", now - 60))
    c.count_event("v42", "play_ms", 1000, ts=now)
    c.count_event("v42", "play_ms", 500)
    print("play_ms of v42: count %s, sum %s, avg %s" % (
        c.aggregate("v42", "play_ms", "count"),
        c.aggregate("v42", "play_ms", "sum"),
        c.aggregate("v42", "play_ms", "avg")))
    try:
        c.count_event("v42", "play_ms", "oops")
    except OSError as e:
        print("a bad value is refused with %s; play_ms of v42 still counts %s"
              % (errno.errorcode[e.errno], c.aggregate("v42", "play_ms", "count")))
    c.count_events_buffered("v42", "seek_ms", [120, 80, 100])
    print("seek_ms of v42, written through a buffered file: count %s, avg %s"
          % (c.aggregate("v42", "seek_ms", "count"),
             c.aggregate("v42", "seek_ms", "avg")))
    c.process_events(("v%d" % (i % 10), "views", 1) for i in range(1000))
    print("batch of 1000 events recorded; v7 now has %d views"
          % c.get_views_count("v7"))


if __name__ == "__main__":
    main()
