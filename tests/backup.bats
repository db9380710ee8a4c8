#!/usr/bin/env bats
# countfs-backup: a consistent copy of a live data directory that a daemon
# starts from.
# shellcheck disable=SC2030,SC2031,SC2153 # DEST and output are per test, as meant; COUNTFS_BIN is common.bash's

load helpers/common

BACKUP=$ROOT/countfs-backup

# The lines of an acked_writer.py log: writes acknowledged so far.
acked() { wc -l <"$1"; }

# Stop the writers by PID, whatever state they are in.
stop_writers() {
	local p
	for p in "${writers[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${writers[@]}"; do wait "$p" 2>/dev/null || true; done
	writers=()
}

teardown() {
	stop_writers
	common_teardown
}

# Mount the copy in DEST (the same mountpoint, another data directory).
mount_copy() {
	DATA=$DEST mount_countfs
}

# Mount, start a writer on each of videos w1..w4 (one view a write, each
# acknowledged write logged), let them run a second.
start_writers() {
	writers=()
	mount_countfs
	for w in 1 2 3 4; do
		python3 "$ROOT/tests/helpers/acked_writer.py" \
			"$MNT/videos/w$w/views" "$BATS_TEST_TMPDIR/acked$w" &
		writers+=($!)
	done
	writers_started "$BATS_TEST_TMPDIR"/acked{1..4}
	sleep 1
}

# With the copy mounted: each writer's count lies between low[w] and
# high[w] + 1 (a writer stopped between its write and its log line).
copy_between() {
	local w got
	for w in 1 2 3 4; do
		got=$(cat "$MNT/videos/w$w/views")
		echo "w$w: at least ${low[w]}, at most ${high[w]} + 1; the copy has $got"
		[ "$got" -ge "${low[w]}" ]
		[ "$got" -le $((high[w] + 1)) ]
	done
}

@test "a backup taken under writers starts, and holds what was acknowledged before it" {
	start_writers
	for w in 1 2 3 4; do low[w]=$(acked "$BATS_TEST_TMPDIR/acked$w"); done
	DEST=$BATS_TEST_TMPDIR/copy
	run "$BACKUP" "$DATA" "$DEST"
	echo "$output"
	[ "$status" = 0 ]
	sleep 0.5
	stop_writers
	for w in 1 2 3 4; do high[w]=$(acked "$BATS_TEST_TMPDIR/acked$w"); done
	unmount_countfs
	cmp "$DATA/identity" "$DEST/identity"
	mount_copy
	copy_between
	# The writers went on after the backup: the copy is not the end.
	total_after=$((high[1] + high[2] + high[3] + high[4]))
	total_copy=0
	for w in 1 2 3 4; do total_copy=$((total_copy + $(cat "$MNT/videos/w$w/views"))); done
	[ "$total_copy" -lt "$total_after" ]
}

@test "a backup of a daemon stopped mid-batch (SIGSTOP) holds every acknowledged write" {
	start_writers
	# Frozen between two applies of its journals (every 100 ms): the
	# last writes are acknowledged, in the journals, not yet in LMDB.
	kill -STOP "$COUNTFS_PID"
	sleep 0.2
	for w in 1 2 3 4; do low[w]=$(acked "$BATS_TEST_TMPDIR/acked$w"); done
	for w in 1 2 3 4; do high[w]=${low[w]}; done
	DEST=$BATS_TEST_TMPDIR/copy
	run "$BACKUP" "$DATA" "$DEST"
	kill -CONT "$COUNTFS_PID"
	echo "$output"
	[ "$status" = 0 ]
	stop_writers
	unmount_countfs
	mount_copy
	copy_between
}

# Every count of the tree under $1, one "path value mtime" line each; a
# series never written (reads 0 or nothing, its mtime the mount's) left out.
counts() {
	local f v
	for f in "$1"/videos/*/views "$1"/videos/*/events/*/{count,sum,min,max}; do
		v=$(cat "$f")
		case $v in "" | 0) continue ;; esac
		printf '%s %s %s\n' "${f#"$1"}" "$v" "$(stat -c %Y "$f")"
	done
}

# Writes of every kind: journal (counter files, /ingest), direct (#id, a
# value beyond 2^32), across shards.
write_all_kinds() {
	local i
	for i in $(seq 1 40); do echo >>"$MNT/videos/v$((i % 7))/views"; done
	printf 'a views 3\nb likes -2\nc views\nd plays 7\n' >>"$MNT/ingest"
	printf '#e1\n#e2\n#e1\n' >>"$MNT/videos/a/events/clicks/count"
	echo 8589934592 >>"$MNT/videos/b/events/bytes/sum"
}

@test "a backup of an idle live directory is exact, mtimes included" {
	mount_countfs
	write_all_kinds
	DEST=$BATS_TEST_TMPDIR/copy
	"$BACKUP" -q "$DATA" "$DEST"
	counts "$MNT" >"$BATS_TEST_TMPDIR/orig"
	unmount_countfs
	mount_copy
	counts "$MNT" >"$BATS_TEST_TMPDIR/copied"
	diff "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/copied"
	grep -q '^/videos/v1/views 6 ' "$BATS_TEST_TMPDIR/copied"
	grep -q '^/videos/a/events/clicks/count 2 ' "$BATS_TEST_TMPDIR/copied"
}

@test "a backup of a directory left by kill -9 holds its unapplied journal" {
	mount_countfs
	write_all_kinds
	counts "$MNT" >"$BATS_TEST_TMPDIR/orig"
	for i in $(seq 1 200); do echo >>"$MNT/videos/last/views"; done
	crash_countfs
	DEST=$BATS_TEST_TMPDIR/copy
	"$BACKUP" "$DATA" "$DEST"
	mount_copy
	counts "$MNT" | grep -v '^/videos/last/' >"$BATS_TEST_TMPDIR/copied"
	diff "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/copied"
	content_is "$MNT/videos/last/views" $'200\n'
}

@test "a backup refuses a non-empty destination and a directory that is not countfs's" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	mkdir "$BATS_TEST_TMPDIR/full"
	touch "$BATS_TEST_TMPDIR/full/x"
	run "$BACKUP" "$DATA" "$BATS_TEST_TMPDIR/full"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"is not empty"* ]]
	[ "$(ls "$BATS_TEST_TMPDIR/full")" = x ]
	mkdir "$BATS_TEST_TMPDIR/other"
	run "$BACKUP" "$BATS_TEST_TMPDIR/other" "$BATS_TEST_TMPDIR/c2"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"not a countfs data directory"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/c2" ]
	run "$BACKUP" "$DATA"
	[ "$status" = 2 ]
	# An empty directory is a fine destination.
	mkdir "$BATS_TEST_TMPDIR/empty"
	"$BACKUP" -q "$DATA" "$BATS_TEST_TMPDIR/empty"
	[ -f "$BATS_TEST_TMPDIR/empty/identity" ]
}

@test "a backup refuses a destination inside the data directory or around it, and a missing one" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	ls -A "$DATA" >"$BATS_TEST_TMPDIR/before"
	# DATA/shard-4 would be taken for a shard too many at the next start.
	for dest in "$DATA/shard-4" "$DATA/copy/" "$DATA/." "$DATA" "$BATS_TEST_TMPDIR"; do
		run "$BACKUP" "$DATA" "$dest"
		echo "$dest: $output"
		[ "$status" = 1 ]
		[[ "$output" == *"a backup goes outside the data directory, and not around it"* ]]
	done
	run diff <(ls -A "$DATA") "$BATS_TEST_TMPDIR/before"
	[ "$status" = 0 ]
	run "$BACKUP" "$BATS_TEST_TMPDIR/none" "$BATS_TEST_TMPDIR/c3"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"none: No such file or directory"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/c3" ]
	# The mount still serves, and a backup beside DATA works.
	content_is "$MNT/videos/a/views" $'1\n'
	"$BACKUP" -q "$DATA" "$BATS_TEST_TMPDIR/beside"
	[ -f "$BATS_TEST_TMPDIR/beside/identity" ]
}

@test "a damaged directory is not backed up, and nothing is left in the destination" {
	mount_countfs
	python3 - "$MNT" "$COUNTFS_PID" <<'EOF'
import os, signal, sys
fd = os.open(f"{sys.argv[1]}/videos/a/views", os.O_WRONLY | os.O_APPEND)
for k in range(2000):
    os.write(fd, b"\n")
os.kill(int(sys.argv[2]), signal.SIGKILL)
EOF
	wait_pid "$COUNTFS_PID" 10
	fusermount3 -uz "$MNT" 2>/dev/null || true
	COUNTFS_PID=
	# The journal still holds the records (emptied a second after they
	# were applied): flip a byte in its middle.
	J=$(find "$DATA" -name 'journal-*' -size +2k | head -1)
	echo "journal $J"
	[ -n "$J" ]
	size=$(stat -c %s "$J")
	python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x20]))
' "$J" $((size / 2))
	run "$BACKUP" "$DATA" "$BATS_TEST_TMPDIR/copy"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"journal is damaged or misses records"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/copy" ]
}

@test "a copy with its identity removed starts as a clone with a new identity" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	DEST=$BATS_TEST_TMPDIR/copy
	"$BACKUP" -q "$DATA" "$DEST"
	unmount_countfs
	rm "$DEST/identity"
	mount_copy
	content_is "$MNT/videos/a/views" $'1\n'
	[ -f "$DEST/identity" ]
	run cmp -s "$DATA/identity" "$DEST/identity"
	[ "$status" = 1 ]
}

# Start a backup of $DATA (its $2 shards on disk, not mounted) into $DEST
# whose shard $1 has a FIFO for journal-0: the backup blocks there, on
# reading it.  Once it copied the shards before, kill -9 it.
backup_killed_at_shard() {
	local k=$1 last bpid deadline=$((SECONDS + 30))
	mv "$DATA/shard-$k/journal-0" "$BATS_TEST_TMPDIR/journal-0"
	mkfifo "$DATA/shard-$k/journal-0"
	last=$DEST/backup-unfinished
	[ "$k" = 0 ] || last=$DEST/shard-$((k - 1))/journal-1
	"$BACKUP" -q "$DATA" "$DEST" &
	bpid=$!
	until [ -e "$last" ]; do
		if ((SECONDS > deadline)); then
			kill -9 "$bpid"
			echo "no $last after 30 s" >&2
			return 1
		fi
		sleep 0.05
	done
	sleep 0.2 # blocked in open() of the FIFO by now
	kill -9 "$bpid"
	wait "$bpid" || true
	rm "$DATA/shard-$k/journal-0"
	mv "$BATS_TEST_TMPDIR/journal-0" "$DATA/shard-$k/journal-0"
}

# countfs and countfs-backup refuse the copy in $DEST, changing nothing
# in it.
copy_refused() {
	local before
	before=$(ls -AR "$DEST")
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DEST"
	echo "$output"
	[[ "$output" = *"$DEST is a copy that countfs-backup did not finish (it holds backup-unfinished): part of the counts at most; remove it and take the backup again" ]]
	run -1 "$BACKUP" "$DEST" "$BATS_TEST_TMPDIR/again"
	echo "$output"
	[[ "$output" = *"$DEST is a copy that countfs-backup did not finish"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/again" ]
	[ "$(ls -AR "$DEST")" = "$before" ]
}

@test "a backup killed midway leaves a copy that countfs refuses, not a clone of part of the counts" {
	mount_countfs shards=2
	for i in $(seq 1 20); do echo >>"$MNT/videos/v$i/views"; done
	unmount_countfs
	DEST=$BATS_TEST_TMPDIR/copy
	backup_killed_at_shard 1 # shard 0 copied, no identity yet
	[ -s "$DEST/shard-0/data.mdb" ]
	[ ! -e "$DEST/identity" ]
	copy_refused
	# Taken again into a new directory, it is whole and starts.
	DEST=$BATS_TEST_TMPDIR/copy2
	"$BACKUP" -q "$DATA" "$DEST"
	[ ! -e "$DEST/backup-unfinished" ]
	DATA=$DEST mount_countfs shards=2
	content_is "$MNT/videos/v7/views" $'1\n'
}

@test "a backup killed before its first shard leaves a copy that countfs refuses, not a new directory" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	DEST=$BATS_TEST_TMPDIR/copy
	backup_killed_at_shard 0
	[ "$(ls -A "$DEST")" = backup-unfinished ]
	copy_refused
}

@test "a map grown by the daemon under the copy (MDB_MAP_RESIZED) is copied again" {
	cc -shared -fPIC -O2 -o "$BATS_TEST_TMPDIR/mapresized.so" \
		"$ROOT/tests/helpers/mapresized.c" -ldl
	mount_countfs shards=2
	for i in $(seq 1 20); do echo >>"$MNT/videos/v$i/views"; done
	DEST=$BATS_TEST_TMPDIR/copy
	run -0 env LD_PRELOAD="$BATS_TEST_TMPDIR/mapresized.so" "$BACKUP" "$DATA" "$DEST"
	echo "$output"
	[[ "$output" = *"shard-0: the daemon grew its map meanwhile; copying again"* ]]
	unmount_countfs
	DATA=$DEST mount_countfs shards=2
	for i in $(seq 1 20); do content_is "$MNT/videos/v$i/views" $'1\n'; done
}
