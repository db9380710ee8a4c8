#!/usr/bin/env bats
# Clients in Python using ordinary buffered file I/O.

load helpers/common

setup() {
	mount_countfs
}

@test "100,000 lines through Python buffered I/O count exactly 100,000" {
	python3 - "$MNT" <<'PY'
import sys
mnt = sys.argv[1]
# A small odd buffer splits lines across write() calls.
with open(mnt + "/videos/py/events/bytes/count", "a", buffering=1000) as f:
    for i in range(100000):
        f.write("%d\n" % (i % 1000))
PY
	content_is "$MNT/videos/py/events/bytes/count" $'100000\n'
	content_is "$MNT/videos/py/events/bytes/sum" $'49950000\n'
}

@test "Python reads every file whole" {
	echo 5 >>"$MNT/videos/py/events/x/count"
	run python3 -c '
import sys
m = sys.argv[1]
print(open(m + "/videos/py/events/x/avg").read().strip(),
      len(open(m + "/stats").read()) > 1000)
' "$MNT"
	[ "$output" = "5 True" ]
}

@test "Python: open().write() without with loses a refused line silently; with, flush() and os.write raise EINVAL" {
	run -0 python3 - "$MNT/videos/py/views" <<'PY'
import errno, os, sys
p = sys.argv[1]
# The trap: CPython closes the file when it is collected and ignores
# the EINVAL its flush gets.  No exception; nothing recorded.
open(p, "a").write("oops\n")
print("silent", open(p).read().strip())
# The safe ways: each raises OSError EINVAL where the code can act.  A
# refused flush leaves the line in the file object's buffer (its close
# fails again): let the exception leave the with block.
try:
    with open(p, "a") as f:
        f.write("oops\n")
        f.flush()
        print("not reached")
except OSError as e:
    print("flush", errno.errorcode[e.errno])
try:
    with open(p, "a") as f:
        f.write("oops\n")
except OSError as e:
    print("close", errno.errorcode[e.errno])
fd = os.open(p, os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"oops\n")
except OSError as e:
    print("os.write", errno.errorcode[e.errno])
os.write(fd, b"\n")
os.close(fd)
print("counted", open(p).read().strip())
PY
	echo "$output"
	[ "${lines[0]}" = "silent 0" ]
	[ "${lines[1]}" = "flush EINVAL" ]
	[ "${lines[2]}" = "close EINVAL" ]
	[ "${lines[3]}" = "os.write EINVAL" ]
	[ "${lines[4]}" = "counted 1" ]
	[ "${#lines[@]}" = 5 ]
}
