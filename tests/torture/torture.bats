#!/usr/bin/env bats
# torture.bats - the long fault suite of `make torture`.  Each scenario
# runs writers that log what was acknowledged, then checks the counts
# exactly and adds a row to the report that `make torture` prints:
# scenario, acknowledged, counted, lost, doubled, seconds to recover.
#
# KILLS (default 50) crashes per sync mode; SOAK_SECONDS (default 600).

load ../helpers/common
load ../helpers/mysql

REPORT=${TORTURE_REPORT:-/dev/null}

setup_file() {
	start_shards
}

teardown_file() {
	stop_shards
}

teardown() {
	shards_teardown
}

# report SCENARIO ACKED COUNTED [RECOVER_SECONDS]: a row; lost/doubled
# allow for writes in flight at a crash (counted but not acknowledged).
report() {
	local lost=0 extra=0
	(($3 < $2)) && lost=$(($2 - $3))
	(($3 > $2)) && extra=$(($3 - $2))
	printf '%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$lost" "$extra" "${4:--}" >>"$REPORT"
}

# Writers append one view per write() to VIDEO on MOUNT and log each
# acknowledged one to $BATS_TEST_TMPDIR/acked.*; they stop at an error.
start_writers() { # MOUNT VIDEO N
	writers=()
	for w in $(seq 1 "$3"); do
		python3 "$ROOT/tests/helpers/acked_writer.py" \
			"$1/videos/$2/views" "$BATS_TEST_TMPDIR/acked.$w" &
		writers+=($!)
	done
}

acked() { cat "$BATS_TEST_TMPDIR"/acked.* 2>/dev/null | wc -l; }

# Wait (at most 30 s) until more than $1 writes are acknowledged: on a
# loaded machine python takes a while to start, and a crash before any
# write tests nothing.
acked_beyond() {
	local deadline=$((SECONDS + 30))
	until (($(acked) > $1)); do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}

crash_loop() { # SYNC
	local kills=${KILLS:-50} inflight=0 before
	for i in $(seq 1 "$kills"); do
		mount_countfs "sync=$1"
		before=$(acked)
		start_writers "$MNT" crash 4
		acked_beyond $((before + 3))
		sleep "0.$((RANDOM % 4 + 2))"
		crash_countfs
		for p in "${writers[@]}"; do wait "$p" || true; done
		inflight=$((inflight + 4))
	done
	mount_countfs "sync=$1"
	counted=$(cat "$MNT/videos/crash/views")
	a=$(acked)
	echo "sync=$1: $kills crashes, acknowledged $a, counted $counted"
	report "kill -9 x$kills, sync=$1" "$a" "$counted"
	[ "$a" -ge $((kills * 4)) ]
	[ "$counted" -ge "$a" ]
	[ "$counted" -le $((a + inflight)) ]
}

@test "kill -9 under load, again and again, sync=second" {
	crash_loop second
}

@test "kill -9 under load, again and again, sync=always" {
	crash_loop always
}

# Replicating writers on two hosts while SHARD suffers FAULT; then the
# global counts must be exact.
shard_fault() { # NAME BREAK-CMD HEAL-CMD [VIDEO]
	write_option_file "$BATS_TEST_TMPDIR/s.cnf"
	forget_hosts
	mount_countfs "host=a,mysql=$BATS_TEST_TMPDIR/s.cnf,global_cache=0"
	mount_b "host=b,mysql=$BATS_TEST_TMPDIR/s.cnf,global_cache=0"
	for i in 0 1; do sql $i "DELETE FROM countfs_minutes; DELETE FROM countfs_totals" 2>/dev/null || true; done
	local v=${4:-f}
	start_writers "$MNT" "$v" 2
	wa=("${writers[@]}")
	sleep 1
	eval "$2"
	sleep 3
	eval "$3"
	sleep 1
	for p in "${wa[@]}"; do kill "$p"; wait "$p" || true; done
	a=$(acked)
	local t0=$SECONDS
	eventually 60 global_is "videos/$v/views" "$(cat "$MNT/videos/$v/views")"
	counted=$(cat "$MNT/global/videos/$v/views")
	report "$1" "$a" "$counted" $((SECONDS - t0))
	[ "$counted" -ge "$a" ]
	[ "$counted" -le $((a + 2)) ]
}

global_is() {
	[ "$(cat "$MNT/global/$1" 2>/dev/null)" = "$2" ] &&
		[ "$(cat "$MNT_B/global/$1" 2>/dev/null)" = "$2" ]
}

# The fault commands are run by shard_fault's eval.
# shellcheck disable=SC2016
@test "a MariaDB shard killed and restarted under load" {
	shard_fault "MariaDB shard kill -9 + restart" \
		'for i in 0 1; do sh "$MARIADB_SH" kill "$BATS_FILE_TMPDIR/db$i"; done' \
		'for i in 0 1; do rm -f "$BATS_FILE_TMPDIR/db$i/sock"; restart_shard $i; done'
}

# shellcheck disable=SC2016 # run by shard_fault's eval
@test "a MariaDB shard that hangs (SIGSTOP) and comes back" {
	shard_fault "MariaDB shard SIGSTOP 3 s" \
		'for i in 0 1; do kill -STOP "$(sh "$MARIADB_SH" pid "$BATS_FILE_TMPDIR/db$i")"; done' \
		'for i in 0 1; do kill -CONT "$(sh "$MARIADB_SH" pid "$BATS_FILE_TMPDIR/db$i")"; done'
}

@test "a network that drops between countfs and a shard" {
	# shard0 is reached through a proxy the test cuts and restores.
	pport=$(free_port)
	ctl=$BATS_TEST_TMPDIR/link
	echo up >"$ctl"
	python3 "$ROOT/tests/helpers/tcpproxy.py" "$pport" "$(cat "$BATS_FILE_TMPDIR/port0")" "$ctl" 3>&- &
	proxy=$!
	sleep 0.3
	write_option_file "$BATS_TEST_TMPDIR/s.cnf"
	sed -i "s/^port=.*/port=$pport/" "$BATS_TEST_TMPDIR/s.cnf"
	# Every video on shard0: their rows all go through the proxy.
	vid=$(python3 -c '
n = 0
for i in range(1000):
    h = 0xcbf29ce484222325
    for b in b"net%d" % i:
        h = ((h ^ b) * 0x100000001b3) % 2**64
    if h % 2 == 0:
        print("net%d" % i); break')
	# shellcheck disable=SC2016 # run by shard_fault's eval
	shard_fault "network to shard0 cut for 3 s" \
		'echo cut >"$ctl"' 'echo up >"$ctl"' "$vid"
	kill "$proxy"
}

@test "the wall clock stepped back two hours, then two days ahead" {
	cc -shared -fPIC -O2 -o "$BATS_TEST_TMPDIR/fakeclock.so" \
		"$ROOT/tests/helpers/fakeclock.c" -ldl
	off=$BATS_TEST_TMPDIR/offset
	echo 0 >"$off"
	COUNTFS_WRAP="env COUNTFS_FAKECLOCK=$off LD_PRELOAD=$BATS_TEST_TMPDIR/fakeclock.so" \
		mount_countfs retain_interval=1s
	fsyncs() { grep '^countfs_fsyncs_total ' "$MNT/stats" | awk '{print $2}'; }
	start_writers "$MNT" clk 2
	sleep 1
	echo -7200 >"$off"
	sleep 2
	f1=$(fsyncs)
	sleep 2
	f2=$(fsyncs)
	echo 172800 >"$off"
	sleep 3
	for p in "${writers[@]}"; do kill "$p"; wait "$p" || true; done
	a=$(acked)
	counted=$(cat "$MNT/videos/clk/views")
	report "wall clock -2 h, then +2 d" "$a" "$counted"
	echo "fsyncs $f1 -> $f2; acknowledged $a, counted $counted"
	[ "$f2" -gt "$f1" ]
	[ "$counted" -ge "$a" ]
	[ "$counted" -le $((a + 2)) ]
	grep -Eq '^countfs_buckets_expired_total [1-9]' "$MNT/stats"
	# The same events, seen through a range over all time.
	content_is "$MNT/videos/clk/range/0-" "$counted"$'\n'
}

@test "hostile input: 1 GiB unterminated, 1 GiB of lines, a million videos, in single writes" {
	mount_countfs
	run python3 - "$MNT" <<'PY'
import errno, os, sys, time
m = sys.argv[1]
def write_all(data):
    fd = os.open(m + "/ingest", os.O_WRONLY | os.O_APPEND)
    try:
        n = 0
        while n < len(data):
            n += os.write(fd, memoryview(data)[n:])
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)
print(write_all(b"x" * (1 << 30)))            # no newline at all
# 1 GiB of lines over 1,000 videos: h0 .. h999 views, the rest on h0.
block = b"".join(b"h%d views\n" % (i % 1000) for i in range(100000))
data = block * ((1 << 30) // len(block))
data += b"h0 views\n" * (((1 << 30) - len(data)) // 9)
t = time.monotonic()
print(write_all(data), data.count(b"\n"), data.count(b"h5 views\n"),
      "%.1f" % (time.monotonic() - t))
del data
print(write_all(b"".join(b"m%d views\n" % i for i in range(1000000))))
PY
	echo "$output"
	[ "${lines[0]}" = EINVAL ]
	read -r ok lines_sent h5 secs <<<"${lines[1]}"
	[ "$ok" = ok ]
	[ "${lines[2]}" = ok ]
	echo "1 GiB of lines: $lines_sent events in $secs s"
	content_is "$MNT/videos/h5/views" "$h5"$'\n'
	content_is "$MNT/videos/m999999/views" $'1\n'
	# Names are [A-Za-z0-9_.-]: one per line.
	# shellcheck disable=SC2012
	[ "$(ls "$MNT/videos" | wc -l)" = 1001000 ]
	counted=$(grep '^countfs_events_total ' "$MNT/stats" | awk '{print $2}')
	[ "$counted" = $((lines_sent + 1000000)) ]
	grep -Eq 'refused_total\{reason="too_long"\} [1-9]' "$MNT/stats"
	rss=$(awk '/RssAnon/ {print $2}' "/proc/$COUNTFS_PID/status")
	echo "RSS anon after: $((rss / 1024)) MiB"
	[ -n "${ASAN:-}" ] || [ "$rss" -lt $((128 * 1024)) ]
	report "1 GiB garbage, 1 GiB of lines, 1M videos" $((lines_sent + 1000000)) "$counted"
}

@test "soak: 10,000 events/s with replication; RSS and fds flat, no errors" {
	write_option_file "$BATS_TEST_TMPDIR/s.cnf"
	forget_hosts
	mount_countfs "host=a,mysql=$BATS_TEST_TMPDIR/s.cnf"
	secs=${SOAK_SECONDS:-600}
	"$ROOT/bench/load" steady "$secs" 10000 "$MNT" 100000 >"$BATS_TEST_TMPDIR/steady" &
	s=$!
	first_rss='' first_fds=''
	for t in $(seq 0 $((secs / 10))); do
		rss=$(awk '/RssAnon/ {print $2}' "/proc/$COUNTFS_PID/status")
		fds=$(find "/proc/$COUNTFS_PID/fd" -mindepth 1 | wc -l)
		# The baseline: 10 s in, once the load has warmed the caches.
		((t == 1)) && { first_rss=$rss first_fds=$fds; }
		((t % 6 == 0)) && echo "t=$((t * 10))s rss=$((rss / 1024))MiB fds=$fds" >&3
		kill -0 "$s" 2>/dev/null || break
		sleep 10
	done
	wait "$s"
	sent=$(sed -n 's/.*events=//p' "$BATS_TEST_TMPDIR/steady")
	eventually 30 replicated "$MNT"
	counted=$(grep '^countfs_events_total ' "$MNT/stats" | awk '{print $2}')
	report "soak ${secs}s at 10k events/s" "$sent" "$counted"
	echo "RSS anon ${first_rss:-?} -> $rss KiB, fds ${first_fds:-?} -> $fds" >&3
	[ "$counted" = "$sent" ]
	[ "$fds" -le $((first_fds + 4)) ]
	# Under ASan the shadow memory and quarantine count as RSS.
	[ -n "${ASAN:-}" ] || [ "$rss" -le $((first_rss + 32 * 1024)) ]
	run -1 grep -Ei ' (error|warn):' "$LOG" # 1: read, and none
}
