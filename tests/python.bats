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
