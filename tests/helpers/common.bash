# common.bash - loaded by every bats file: mount a countfs in the test's
# temp dir, unmount and check it afterwards.
#
#   mount_countfs [OPTS]   start ./countfs -f -o data=...,OPTS, wait for it
#                          (on $MNT, $DATA, logging to $LOG when set)
#   unmount_countfs        fusermount3 -u (then -uz), wait, kill by PID
#   restart_countfs [OPTS] kill -9 and mount again on the same data
#
# COUNTFS_BIN picks the daemon (./countfs, ./countfs-asan); COUNTFS_WRAP
# runs it under a tool (valgrind).  Teardown fails the test when the log
# shows a sanitizer or valgrind error, and prints the log on failure.

bats_require_minimum_version 1.5.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COUNTFS_BIN=${COUNTFS_BIN:-$ROOT/countfs}
# shellcheck disable=SC2034 # used, unquoted, by the bats files
FSOP="python3 $ROOT/tests/helpers/fsop.py"
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}

mount_countfs() {
	MNT=${MNT:-$BATS_TEST_TMPDIR/mnt}
	DATA=${DATA:-$BATS_TEST_TMPDIR/data}
	LOG=${LOG:-$BATS_TEST_TMPDIR/countfs.log}
	mkdir -p "$MNT"
	local opts="data=$DATA${1:+,$1}"
	# fd 3 closed, or bats waits for the daemon forever.
	$COUNTFS_WRAP "$COUNTFS_BIN" "$MNT" -f -o "$opts" >>"$LOG" 2>&1 3>&- &
	COUNTFS_PID=$!
	local deadline=$((SECONDS + MOUNT_TIMEOUT))
	until mountpoint -q "$MNT"; do
		if ! kill -0 "$COUNTFS_PID" 2>/dev/null; then
			echo "countfs exited before mounting:" >&2
			cat "$LOG" >&2
			return 1
		fi
		if ((SECONDS > deadline)); then
			echo "countfs did not mount within ${MOUNT_TIMEOUT}s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Wait up to $2 seconds for PID $1 to exit; its status in WAIT_STATUS.
wait_pid() {
	local deadline=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			return 1
		fi
		sleep 0.05
	done
	WAIT_STATUS=0
	wait "$1" 2>/dev/null || WAIT_STATUS=$?
	return 0
}

# Wait for the given PIDs (never a bare `wait`: the daemon is a child too);
# fail if any of them failed.
wait_all() {
	local p rc=0
	for p in "$@"; do
		wait "$p" || rc=1
	done
	return $rc
}

unmount_countfs() {
	[ -n "${COUNTFS_PID:-}" ] || return 0
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	fi
	if ! wait_pid "$COUNTFS_PID" 60; then
		kill -9 "$COUNTFS_PID" 2>/dev/null
		fusermount3 -uz "$MNT" 2>/dev/null
		COUNTFS_PID=
		echo "countfs did not exit after unmount" >&2
		return 1
	fi
	COUNTFS_PID=
	check_log || return 1
	if [ "$WAIT_STATUS" != 0 ]; then
		echo "countfs exited with status $WAIT_STATUS after unmount" >&2
		return 1
	fi
}

# kill -9 the daemon, as a crash would.
crash_countfs() {
	kill -9 "$COUNTFS_PID" 2>/dev/null
	wait_pid "$COUNTFS_PID" 10
	fusermount3 -uz "$MNT" 2>/dev/null
	COUNTFS_PID=
}

check_log() {
	[ -f "$LOG" ] || return 0
	# Under valgrind -q any line of its own is an error report.
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== |ThreadSanitizer' "$LOG"; then
		echo "the daemon's log shows memory errors:" >&2
		cat "$LOG" >&2
		return 1
	fi
}

common_teardown() {
	local rc=0
	unmount_countfs || rc=1
	if [ "$rc" != 0 ] || [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "--- countfs log ---" >&2
		cat "${LOG:-/dev/null}" >&2 2>/dev/null
	fi
	return $rc
}

teardown() {
	common_teardown
}

# read FILE and compare its exact content with the expected string + \n.
# The read itself must succeed: a failed read (EIO, ENOENT) is not "".
content_is() {
	local got
	if ! got=$(cat -- "$1" && echo x); then
		printf 'reading %s failed\n' "$1" >&2
		return 1
	fi
	got=${got%x}
	if [ "$got" != "$2" ]; then
		printf 'content of %s: got %q, want %q\n' "$1" "$got" "$2" >&2
		return 1
	fi
}

# FILE reads successfully and is empty (min, max, avg with no events).
reads_empty() {
	content_is "$1" ''
}

# Wait (at most 30 s) until each acked_writer.py log FILE holds a write:
# on a loaded machine python can take seconds to start, and a crash
# before then tests nothing.
writers_started() {
	local f deadline=$((SECONDS + 30))
	for f in "$@"; do
		until [ -s "$f" ]; do
			if ((SECONDS > deadline)); then
				echo "no write acknowledged in $f after 30 s" >&2
				return 1
			fi
			sleep 0.05
		done
	done
}

now() { date +%s; }

# Append $1 views over the videos v0 .. v$(($2 - 1)) of the mount, one
# write() each, and kill -9 the daemon right after the last: its journals
# still hold the records (they are emptied a second after being applied).
views_then_kill() {
	python3 - "$MNT" "$COUNTFS_PID" "$1" "$2" <<'EOF'
import os, signal, sys
m, pid, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fds = [os.open(f"{m}/videos/v{i}/views", os.O_WRONLY | os.O_APPEND)
       for i in range(k)]
for j in range(n):
    os.write(fds[j % k], b"\n")
os.kill(pid, signal.SIGKILL)
EOF
	wait_pid "$COUNTFS_PID" 10
	fusermount3 -uz "$MNT" 2>/dev/null || true
	COUNTFS_PID=
}
