#!/usr/bin/env bats
# Logs an operator can live with: repeated warnings are rate-limited per
# call site (LOG_BURST lines per LOG_INTERVAL_S seconds, then one "N more
# like this" line), and every write refusal names the writer's pid.
# shellcheck disable=SC2030,SC2031 # output is per test, as meant

load helpers/common

setup() {
	mount_countfs
}

# Make $1 bad writes to videos/a/views from one process; its pid on stdout.
bad_writes() {
	python3 - "$MNT/videos/a/views" "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[2])):
    try:
        os.write(fd, b"bad\n")
        sys.exit("a bad line was accepted")
    except OSError:
        pass
os.close(fd)
print(os.getpid())
PY
}

# Wait (at most $2 s) until the log holds a line matching $1.
log_shows() {
	local deadline=$((SECONDS + $2))
	until grep -q -- "$1" "$LOG"; do
		if ((SECONDS > deadline)); then
			echo "no line matching '$1' in the log after $2 s" >&2
			return 1
		fi
		sleep 0.2
	done
}

@test "2000 bad writes log a few lines and a 'more like this' line; every one is told" {
	pid=$(bad_writes 2000)
	# The summary comes once the interval is over, without another write.
	log_shows 'more like this in the last [0-9]*s; the last: /videos/a/views: write refused' 15
	unmount_countfs # says what is still held back
	shown=$(grep -c "warn: /videos/a/views: write refused (EINVAL): value is not an integer: \"bad\" (pid $pid)$" "$LOG")
	hidden=$(awk '/ more like this in the last / { n += $4 } END { print n + 0 }' "$LOG")
	echo "shown $shown, hidden $hidden" >&2
	[ "$shown" -ge 10 ]
	[ "$shown" -le 100 ]
	[ $((shown + hidden)) = 2000 ]
	[ "$(wc -l <"$LOG")" -le 120 ]
}

@test "a flood from one call site does not hide another's warning" {
	bad_writes 500 >/dev/null
	run $FSOP write "$MNT/videos/b/views" '1x'
	[ "$output" = EINVAL ]
	grep -Eq 'an unfinished line that cannot become valid: "1x" \(pid [0-9]+\)$' "$LOG"
}

# Every kind of refused write to the mount, from the main thread, or with
# $1 = thread from a second thread (its id is not the pid); then unmount
# and check that the 5 refusals name the writer's pid.
refusals_name_pid() {
	long=$(printf '1%.0s' {1..5000})
	python3 - "$MNT" "$long" "${1:-main}" >"$BATS_TEST_TMPDIR/pid" <<'PY'
import os, sys, threading
mnt, long, where = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
print(os.getpid())
def write(path, data):
    fd = os.open(mnt + path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    except OSError:
        pass
    os.close(fd)
def writes():
    if where == "thread":
        assert threading.get_native_id() != os.getpid()
    write("/videos/a/views", b"x\n")               # a bad line
    write("/videos/a/views", long)                  # an unfinished line too long
    write("/videos/a/views", b"1x")                 # one that cannot be valid
    write("/videos/a/events/n/count", b"9223372036854775807\n")
    write("/videos/a/events/n/count", b"1\n")       # an overflow
    write("/videos/a/views", b"-")                  # refused at the last close
if where == "thread":
    t = threading.Thread(target=writes)
    t.start()
    t.join()
else:
    writes()
PY
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	unmount_countfs
	run grep -c "refused (E[A-Z]*): .* (pid $pid)$" "$LOG"
	[ "$output" = 5 ]
	run grep -c 'refused' "$LOG"
	[ "$output" = 5 ]
}

@test "every kind of write refusal names the writer's pid" {
	refusals_name_pid
}

@test "a refusal names the pid of a multi-threaded writer, not its thread's id" {
	refusals_name_pid thread
}

@test "what is held back when the daemon stops is told at unmount" {
	bad_writes 100 >/dev/null
	unmount_countfs
	grep -q ' 90 more like this in the last [0-9]*s; the last: /videos/a/views: write refused' "$LOG"
	# ...before the last line.
	tail -n 1 "$LOG" | grep -q 'unmounted; store closed'
}
