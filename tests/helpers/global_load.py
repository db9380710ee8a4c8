"""global_load.py - local write latency while /global readers hammer a shard.

  global_load.py write FILE N
      append N empty lines to FILE, one open/write/close each, 10 ms apart;
      print the p99 latency of one append in milliseconds
  global_load.py read MNT NSHARDS SHARD READERS STOPFILE
      READERS threads read /global/videos/<v>/views in a loop, each <v> a
      different video of MySQL shard SHARD (FNV-1a 64 mod NSHARDS), 100 ms
      apart, until STOPFILE exists (at most 120 s); print how the reads
      ended, e.g. "ok=0 EHOSTUNREACH=5012 EAGAIN=40"
"""
import collections
import errno
import os
import sys
import threading
import time


def fnv(name):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) % 2**64
    return h


def write(path, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"\n")
        os.close(fd)
        lat.append(time.perf_counter() - t)
        time.sleep(0.01)
    lat.sort()
    print("%.3f" % (lat[int(len(lat) * 0.99) - 1] * 1000))


def read(mnt, nshards, shard, readers, stopfile):
    names = []
    i = 0
    while len(names) < readers:
        v = "hung%d" % i
        i += 1
        if fnv(v) % nshards == shard:
            names.append(v)
    ends = collections.Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + 120

    def loop(v):
        path = "%s/global/videos/%s/views" % (mnt, v)
        while not os.path.exists(stopfile) and time.monotonic() < deadline:
            # os.read: Python's file objects turn EAGAIN into None.
            fd = -1
            try:
                fd = os.open(path, os.O_RDONLY)
                os.read(fd, 64)
                end = "ok"
            except OSError as e:
                end = errno.errorcode.get(e.errno, str(e.errno))
            if fd >= 0:
                os.close(fd)
            with lock:
                ends[end] += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=loop, args=(v,)) for v in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(" ".join("%s=%d" % kv for kv in sorted(ends.items())))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]))
    else:
        read(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
             int(sys.argv[5]), sys.argv[6])
