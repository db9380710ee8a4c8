#!/usr/bin/env bats
# Faults and abuse, the short pass: disk full, permissions, retries with
# #id, unmount under load.  `make torture` runs the long versions.
# shellcheck disable=SC2153 # COUNTFS_BIN comes from helpers/common.bash

load helpers/common

teardown() {
	common_teardown
	[ -z "${SMALL:-}" ] || umount "$SMALL" 2>/dev/null || umount -l "$SMALL" 2>/dev/null || true
	if [ -n "${PERM:-}" ]; then
		fusermount3 -u "$PERM/m" 2>/dev/null || fusermount3 -uz "$PERM/m" 2>/dev/null || true
		rm -rf "$PERM"
	fi
}

# mount_shared [OPTS]: a mount in a directory every uid may enter, with
# one view of video a; teardown unmounts it.
mount_shared() {
	PERM=$(mktemp -d /tmp/countfs-perm.XXXXXX)
	chmod 755 "$PERM"
	mkdir -p "$PERM/m"
	"$COUNTFS_BIN" "$PERM/m" -o "data=$PERM/d${1:+,$1}"
	echo >>"$PERM/m/videos/a/views"
}

# Run a command as another user (nobody).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

@test "disk full: ENOSPC, nothing half-recorded, reads work, service resumes by itself" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	SMALL=$BATS_TEST_TMPDIR/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=24m tmpfs "$SMALL"
	DATA=$SMALL/data mount_countfs shards=1,mapsize=1M
	echo >>"$MNT/videos/keep/views"
	# Fill the disk but 2 MiB, then write distinct videos until it is full.
	avail=$(df --output=avail -k "$SMALL" | tail -1)
	dd if=/dev/zero of="$SMALL/ballast" bs=1k count=$((avail - 2048)) 2>/dev/null || true
	run python3 - "$MNT" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1] + "/ingest", os.O_WRONLY | os.O_APPEND)
acked = 0
for b in range(2000):
    batch = "".join("f%d_%d views\n" % (b, i) for i in range(500)).encode()
    try:
        os.write(fd, batch)
        acked += 500
    except OSError as e:
        print(errno.errorcode[e.errno], acked)
        break
PY
	echo "$output"
	[[ "$output" = "ENOSPC "* ]]
	acked=${output#ENOSPC }
	content_is "$MNT/videos/keep/views" $'1\n'
	counted=$(grep '^countfs_events_total ' "$MNT/stats" | awk '{print $2}')
	[ "$counted" = $((acked + 1)) ]
	grep -q 'refused_total{reason="storage"} [1-9]' "$MNT/stats"
	rm -f "$SMALL/ballast"
	printf 'after views\nafter views\n' >>"$MNT/ingest"
	content_is "$MNT/videos/after/views" $'2\n'
}

@test "without allow_other another uid is refused" {
	mount_shared
	run as_nobody cat "$PERM/m/videos/a/views"
	[ "$status" -ne 0 ]
	[[ "$output" = *"Permission denied"* ]]
}

@test "with allow_other the files' modes are honoured" {
	mount_shared allow_other
	run -0 as_nobody cat "$PERM/m/videos/a/views"
	[ "$output" = 1 ]
	run as_nobody sh -c "echo >> $PERM/m/videos/a/views"
	[ "$status" -ne 0 ]
	[ "$(cat "$PERM/m/videos/a/views")" = 1 ]
}

@test "a client that sends every write twice with #id counts the same" {
	mount_countfs
	python3 - "$MNT" <<'PY'
import os, sys
m = sys.argv[1]
once = os.open(m + "/videos/once/views", os.O_WRONLY | os.O_APPEND)
twice = os.open(m + "/videos/twice/views", os.O_WRONLY | os.O_APPEND)
for i in range(3000):
    os.write(once, b"#req-%d\n" % i)
    line = b"#req-%d\n" % i
    os.write(twice, line)
    os.write(twice, line)          # the retry
PY
	content_is "$MNT/videos/once/views" $'3000\n'
	content_is "$MNT/videos/twice/views" $'3000\n'
}

@test "fusermount3 -uz and SIGTERM mid-write: clean exit, data intact on remount" {
	for how in lazy term; do
		mount_countfs
		python3 "$ROOT/tests/helpers/acked_writer.py" \
			"$MNT/videos/u/views" "$BATS_TEST_TMPDIR/acked_$how" &
		w=$!
		writers_started "$BATS_TEST_TMPDIR/acked_$how"
		sleep 1
		if [ $how = lazy ]; then
			# Detached, the mount lives on while the writer's fd is
			# open: its writes still count.  Closing it ends the daemon.
			fusermount3 -uz "$MNT"
			sleep 0.5
			kill "$w" 2>/dev/null || true
		else
			kill -TERM "$COUNTFS_PID"
		fi
		wait "$w" || true
		wait_pid "$COUNTFS_PID" 30
		[ "$WAIT_STATUS" = 0 ]
		COUNTFS_PID=
		fusermount3 -uz "$MNT" 2>/dev/null || true
	done
	acked=$(cat "$BATS_TEST_TMPDIR"/acked_* | wc -l)
	mount_countfs
	counted=$(cat "$MNT/videos/u/views")
	echo "acknowledged $acked, counted $counted"
	[ "$acked" -gt 100 ]
	[ "$counted" -ge "$acked" ]
	[ "$counted" -le $((acked + 2)) ]
}
