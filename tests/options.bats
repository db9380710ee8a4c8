#!/usr/bin/env bats
# The command line: --help, --version, option checks, start-up refusals,
# signals.
#
# COUNTFS_BIN comes from helpers/common.bash; each test runs in a process
# of its own, so a test that clears COUNTFS_PID (its daemon has exited)
# clears it for its own teardown only, as meant.
# shellcheck disable=SC2153,SC2030,SC2031

load helpers/common

@test "--help lists countfs options and points to the man page" {
	run "$COUNTFS_BIN" --help
	[ "$status" = 0 ]
	[[ "$output" = *"-o data=DIR"* ]]
	[[ "$output" = *"-o shards=N"* ]]
	[[ "$output" = *"-o sync=MODE         always (fsync before each ack) or second"* ]]
	[[ "$output" = *"-o dedup="* ]]
	[[ "$output" = *"see countfs(8)"* ]]
}

@test "--version prints the version" {
	run "$COUNTFS_BIN" --version
	[ "$status" = 0 ]
	[[ "$output" = "countfs "[0-9]* ]]
}

@test "bad option values exit 1 with a sentence" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	for bad in shards=0 shards=300 shards=x sync=sometimes dedup=0 \
		dedup=5y keep_seconds=10s keep_hours=1d log_level=loud \
		mapsize=1K mapsize=64Q keep_days=-1 keep_minutes=forever \
		retain_interval=0 retain_interval=soon host='a b' \
		host=$(printf 'h%.0s' {1..65}) global_cache=-5 \
		global_cache=3600001; do
		run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "$bad"
		[[ "$output" = *"is not valid"* ]] || { echo "$bad: $output"; false; }
	done
}

@test "sync without a value and unknown options are refused, not mounted" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,sync"
	[[ "$output" = *"sync is not valid without a value: use sync=always or sync=second"* ]]
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,colour=blue"
	[[ "$output" = *"unknown option"*"colour=blue"* ]]
	[[ "$output" = *"see countfs --help"* ]]
	run -32 mountpoint -q "$BATS_TEST_TMPDIR/m" # 32: not a mountpoint
}

@test "a MySQL option file that is missing or readable by others is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "mysql=$BATS_TEST_TMPDIR/none.cnf"
	[[ "$output" = *"mysql=$BATS_TEST_TMPDIR/none.cnf is not usable: "* ]]
	printf '[shard0]\nhost=127.0.0.1\nuser=u\npassword=p\ndatabase=d\n' >"$BATS_TEST_TMPDIR/open.cnf"
	chmod 644 "$BATS_TEST_TMPDIR/open.cnf"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "mysql=$BATS_TEST_TMPDIR/open.cnf"
	[[ "$output" = *"is not usable: "* ]]
}

@test "arguments: SOURCE MOUNTPOINT as mount.fuse3 gives them; no more" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 "$COUNTFS_BIN" a b c
	[[ "$output" = *"too many arguments"* ]]
	run -1 "$COUNTFS_BIN"
	[[ "$output" = *"no mountpoint given"* ]]
	# A bare-word SOURCE is a label: data= (absolute) is used.
	"$COUNTFS_BIN" countfs "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d1"
	echo >>"$BATS_TEST_TMPDIR/m/videos/a/views"
	fusermount3 -u "$BATS_TEST_TMPDIR/m"
	[ -d "$BATS_TEST_TMPDIR/d1/shard-0" ]
}

@test "a data directory made with other shards= is refused" {
	mount_countfs shards=4
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	run -1 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"shards"* ]]
	run -1 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,shards=8"
	[[ "$output" = *"shards"* ]]
	mount_countfs shards=4
	content_is "$MNT/videos/a/views" $'1\n'
}

@test "a data directory in use by another daemon is refused" {
	mount_countfs
	mkdir -p "$BATS_TEST_TMPDIR/m2"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m2" -f -o "data=$DATA"
	[[ "$output" = *"in use by another countfs"* ]]
}

@test "fstab-only options are accepted and ignored" {
	mount_countfs _netdev,nofail
	content_is "$MNT/videos/a/views" $'0\n'
}

@test "SIGTERM unmounts cleanly and keeps the data" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	kill -TERM "$COUNTFS_PID"
	wait_pid "$COUNTFS_PID" 20
	[ "$WAIT_STATUS" = 0 ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint (1: ENOTCONN)
	COUNTFS_PID=
	mount_countfs
	content_is "$MNT/videos/a/views" $'1\n'
}

@test "SIGINT unmounts cleanly" {
	# A background job of a script starts with SIGINT ignored, and libfuse
	# leaves ignored signals alone: restore the default as a terminal would.
	COUNTFS_WRAP="python3 $ROOT/tests/helpers/sigdfl.py" mount_countfs
	kill -INT "$COUNTFS_PID"
	wait_pid "$COUNTFS_PID" 20
	[ "$WAIT_STATUS" = 0 ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint (1: ENOTCONN)
	COUNTFS_PID=
}

@test "without -f the daemon goes to the background" {
	mkdir -p "$BATS_TEST_TMPDIR/bg"
	run "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/bg" -o "data=$BATS_TEST_TMPDIR/bgdata"
	[ "$status" = 0 ]
	mountpoint -q "$BATS_TEST_TMPDIR/bg"
	echo >>"$BATS_TEST_TMPDIR/bg/videos/a/views"
	[ "$(cat "$BATS_TEST_TMPDIR/bg/videos/a/views")" = 1 ]
	fusermount3 -u "$BATS_TEST_TMPDIR/bg"
}

@test "a relative data= is kept relative to where countfs was started" {
	mkdir -p "$BATS_TEST_TMPDIR/bg2"
	cd "$BATS_TEST_TMPDIR"
	run "$COUNTFS_BIN" bg2 -o data=reldata
	[ "$status" = 0 ]
	echo >>"$BATS_TEST_TMPDIR/bg2/videos/a/views"
	fusermount3 -u "$BATS_TEST_TMPDIR/bg2"
	[ -d "$BATS_TEST_TMPDIR/reldata/shard-0" ]
}

@test "a dead daemon leaves ENOTCONN until fusermount3 -u" {
	mount_countfs
	kill -9 "$COUNTFS_PID"
	wait_pid "$COUNTFS_PID" 10
	COUNTFS_PID=
	run $FSOP read "$MNT/videos/a/views"
	[ "$output" = ENOTCONN ]
	fusermount3 -u "$MNT"
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint (1: ENOTCONN)
}

@test "the LMDB map grows by itself: no MDB_MAP_FULL reaches a writer" {
	mount_countfs mapsize=1M,shards=1
	python3 - "$MNT" <<'PY'
import os, sys
fd = os.open(sys.argv[1] + "/ingest", os.O_WRONLY | os.O_APPEND)
for b in range(10):
    os.write(fd, "".join("v%d_%d views\n" % (b, i) for i in range(3000)).encode())
PY
	grep -Eq '^countfs_map_grows_total [1-9]' "$MNT/stats"
	grep -q '^countfs_events_total 30000$' "$MNT/stats"
}

@test "durations out of range and level orders are refused with both values named" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,dedup=36500d"
	[[ "$output" = *"dedup=36500d is not valid: give a duration from 1s to 365d"* ]]
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,retain_interval=2d"
	[[ "$output" = *"retain_interval=2d is not valid"* ]]
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,keep_seconds=forever"
	[[ "$output" = *"keep_seconds=forever is not valid: a coarser level must be kept at least as long as a finer one (keep_minutes is 7d)"* ]]
	[[ "$output" != *"(null)"* ]]
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -o "data=$BATS_TEST_TMPDIR/d,keep_hours=1d,keep_minutes=2d"
	[[ "$output" = *"keep_hours=1d is not valid"*"(keep_minutes is 2d)"* ]]
}

@test "a duration without a unit is refused, for every duration option" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	for o in dedup=10 keep_seconds=3600 keep_minutes=60 keep_hours=48 \
		keep_days=400 retain_interval=10; do
		run -1 timeout 20 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -f -o "data=$BATS_TEST_TMPDIR/d,$o"
		n=${o#*=}
		[ "$output" = "countfs: $o is not valid: give a unit, e.g. ${n}s, ${n}m or ${n}d" ]
	done
	[ ! -e "$BATS_TEST_TMPDIR/d" ]
	# global_cache is a number of milliseconds, as its name in --help says.
	mount_countfs dedup=10s,retain_interval=1m,global_cache=500
	content_is "$MNT/videos/a/views" $'0\n'
}

@test "the longest dedup window (365d) still deduplicates" {
	mount_countfs dedup=365d
	echo '#once' >>"$MNT/videos/d/views"
	echo '#once' >>"$MNT/videos/d/views"
	content_is "$MNT/videos/d/views" $'1\n'
}

@test "libfuse's high-level options that never changed anything still mount; a bad uid= is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 timeout 20 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -f -o "data=$BATS_TEST_TMPDIR/d,uid=abc"
	[[ "$output" = *"uid=abc"* ]]
	run -32 mountpoint -q "$BATS_TEST_TMPDIR/m"
	mount_countfs kernel_cache,auto_cache,noauto_cache,no_rofd_flush,entry_timeout=9,attr_timeout=9,ac_attr_timeout=9,negative_timeout=9,noforget,remember=5,uid=4242,gid=4343,umask=0027
	echo >>"$MNT/videos/k/views"
	content_is "$MNT/videos/k/views" $'1\n'
	run stat -c '%u %g %A' "$MNT/videos/k/views" "$MNT/videos"
	[ "$output" = $'4242 4343 -rwxr-x---\n4242 4343 drwxr-x---' ]
}
