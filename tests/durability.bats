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
	# Under load python can take seconds to start: crash once they write.
	wait_acked "$BATS_TEST_TMPDIR/acked*" 60 200
	sleep 1
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

# The kernel serialises appends to one inode, so the writers use one
# video each, all in one shard.
@test "sync=always fsyncs before acknowledging, shared by concurrent writers" {
	mount_countfs sync=always,shards=1
	for w in $(seq 1 8); do
		python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(300):
    os.write(fd, b"\n")
' "$MNT/videos/g$w/views" &
		pids+=($!)
	done
	wait_all "${pids[@]}"
	content_is "$MNT/videos/g1/views" $'300\n'
	content_is "$MNT/videos/g8/views" $'300\n'
	fsyncs=$(grep '^countfs_fsyncs_total ' "$MNT/stats" | awk '{print $2}')
	commits=$(grep '^countfs_commits_total ' "$MNT/stats" | awk '{print $2}')
	echo "fsyncs $fsyncs commits $commits for 2400 writes"
	[ "$fsyncs" -ge "$commits" ]
	[ "$commits" -lt 2400 ]
}
