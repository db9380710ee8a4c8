#!/usr/bin/env bats
# Many writers and readers at once.

load helpers/common

setup() {
	mount_countfs
}

@test "8 writer processes x 2000 appends on one video give exactly 16000" {
	local pids=()
	for w in $(seq 1 8); do
		python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(2000):
    os.write(fd, b"\n")
os.close(fd)
' "$MNT/videos/hot/views" &
		pids+=($!)
	done
	wait_all "${pids[@]}"
	content_is "$MNT/videos/hot/views" $'16000\n'
}

@test "concurrent readers never see a count go down" {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(6000):
    os.write(fd, b"\n")
' "$MNT/videos/mono/views" &
	writer=$!
	for r in 1 2 3; do
		python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
last = 0
for i in range(3000):
    v = int(os.pread(fd, 64, 0))
    if v < last:
        print("went down from %d to %d" % (last, v))
        sys.exit(1)
    last = v
' "$MNT/videos/mono/views" >"$BATS_TEST_TMPDIR/reader$r" &
		readers+=($!)
	done
	for p in "${readers[@]}"; do
		wait "$p" || { cat "$BATS_TEST_TMPDIR"/reader*; false; }
	done
	wait "$writer"
	content_is "$MNT/videos/mono/views" $'6000\n'
}

@test "writers on many videos and types at once lose nothing" {
	local pids=()
	for w in $(seq 1 4); do
		python3 -c '
import os, sys
mnt, w = sys.argv[1], sys.argv[2]
fds = [os.open("%s/videos/v%s_%d/events/t%d/count" % (mnt, w, i, i % 3),
               os.O_WRONLY | os.O_APPEND) for i in range(10)]
for i in range(3000):
    os.write(fds[i % 10], b"2\n")
' "$MNT" "$w" &
		pids+=($!)
	done
	wait_all "${pids[@]}"
	run -0 ls "$MNT/videos"
	[ "${#lines[@]}" = 40 ]
	grep -q '^countfs_events_total 12000$' "$MNT/stats"
	content_is "$MNT/videos/v3_4/events/t1/sum" $'600\n'
}
