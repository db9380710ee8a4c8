#!/usr/bin/env bats
# kill -9 under load, remount on the same data: every acknowledged write
# is counted, none twice.

load helpers/common

# Writers append one view per write() and log each acknowledged write;
# they stop at the first error (the daemon is gone).
start_writers() {
	for w in $(seq 1 4); do
		python3 "$ROOT/tests/helpers/acked_writer.py" \
			"$MNT/videos/crash/views" "$BATS_TEST_TMPDIR/acked$w" &
		writers+=($!)
	done
}

crash_under_load() {
	mount_countfs "$1"
	writers=()
	start_writers
	writers_started "$BATS_TEST_TMPDIR"/acked{1..4}
	sleep 2
	crash_countfs
	for p in "${writers[@]}"; do wait "$p" || true; done
	acked=$(cat "$BATS_TEST_TMPDIR"/acked* | wc -l)
	mount_countfs "$1"
	counted=$(cat "$MNT/videos/crash/views")
	echo "acknowledged $acked, counted $counted"
	# A write can be committed and the daemon killed before it answers:
	# at most one such write per writer.
	[ "$acked" -gt 100 ]
	[ "$counted" -ge "$acked" ]
	[ "$counted" -le $((acked + 4)) ]
}

@test "kill -9 with sync=second loses no acknowledged write" {
	crash_under_load sync=second
}

@test "kill -9 with sync=always loses no acknowledged write" {
	crash_under_load sync=always
}

@test "a restart after kill -9 clears stale readers and serves again" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	crash_countfs
	mount_countfs
	echo >>"$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'2\n'
}

appends() { # FILE N: N appends of one view, one write() each
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[2])):
    os.write(fd, b"\n")
' "$1" "$2"
}

# WRITERS threads of one process (all start at once, where separate
# python processes may start seconds apart), each appending N views to
# its own video g1..gWRITERS.
concurrent_appends() { # MOUNT WRITERS N
	python3 -c '
import os, sys, threading
mnt, writers, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = threading.Barrier(writers)
def writer(i):
    fd = os.open("%s/videos/g%d/views" % (mnt, i), os.O_WRONLY | os.O_APPEND)
    start.wait()
    for _ in range(n):
        os.write(fd, b"\n")
    os.close(fd)
threads = [threading.Thread(target=writer, args=(i,)) for i in range(1, writers + 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
' "$1" "$2" "$3"
}

fsyncs() { grep '^countfs_fsyncs_total ' "$MNT/stats" | awk '{print $2}'; }

# What group commit promises: a writer alone waits for one fsync per
# write; writers waiting at once share one.  Each sync is made to take
# 2 ms more, as on a disk (on tmpfs it costs nothing: nothing to share).
# The kernel serialises appends to one inode, so the writers use one
# video each, all in one shard.
@test "sync=always fsyncs before acknowledging, shared by concurrent writers" {
	cc -shared -fPIC -O2 -o "$BATS_TEST_TMPDIR/slowsync.so" \
		"$ROOT/tests/helpers/slowsync.c"
	COUNTFS_WRAP="env LD_PRELOAD=$BATS_TEST_TMPDIR/slowsync.so ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		mount_countfs sync=always,shards=1
	f0=$(fsyncs)
	appends "$MNT/videos/alone/views" 50
	f1=$(fsyncs)
	concurrent_appends "$MNT" 8 100
	f2=$(fsyncs)
	echo "fsyncs: $((f1 - f0)) for 50 writes alone, $((f2 - f1)) for 8 x 100 at once"
	content_is "$MNT/videos/alone/views" $'50\n'
	content_is "$MNT/videos/g1/views" $'100\n'
	content_is "$MNT/videos/g8/views" $'100\n'
	[ $((f1 - f0)) -ge 50 ]
	[ $((f2 - f1)) -ge 1 ]
	[ $((f2 - f1)) -le 400 ]
}
