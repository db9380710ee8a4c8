#!/usr/bin/env bats
# Data formats across releases: a directory made by the previous release
# (0.4.0, data format 1, built here from git) is upgraded in place to
# format 2 with every count intact, its journal included; a crash in the
# middle of an upgrade still starts; 0.4.0 refuses the upgraded
# directory; a directory of a newer format is refused with one sentence,
# nothing in it changed.
# shellcheck disable=SC2030,SC2031,SC2153 # COUNTFS_PID is per test, as meant; COUNTFS_BIN is common.bash's

load helpers/common

OLD_COMMIT=a12c799 # version 0.4.0
OLD_BIN=$ROOT/build/old-$OLD_COMMIT/countfs

# Build 0.4.0's daemon from git once (about 30 s), kept in build/ for the
# next run (make clean removes it).
setup_file() {
	[ -x "$OLD_BIN" ] && return 0
	if ! git -C "$ROOT" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null; then
		echo "commit $OLD_COMMIT (0.4.0) is not in this clone: git fetch --unshallow" >&2
		return 1
	fi
	local src=$BATS_FILE_TMPDIR/countfs-0.4.0
	mkdir -p "$src" "$(dirname "$OLD_BIN")"
	git -C "$ROOT" archive "$OLD_COMMIT" | tar -x -C "$src"
	make -s -C "$src" countfs >"$BATS_FILE_TMPDIR/build.log" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/build.log" >&2; return 1; }
	cp "$src/countfs" "$OLD_BIN.tmp"
	mv "$OLD_BIN.tmp" "$OLD_BIN"
}

# This countfs's version, as --version prints it.
version() {
	"$COUNTFS_BIN" --version | cut -d' ' -f2
}

# Set the meta "format" of shard $2 of data directory $1 to $3, as a
# release of that format (or an upgrade cut short) would have left it.
set_shard_format() {
	printf 'VERSION=3\nformat=bytevalue\ndatabase=meta\ntype=btree\nHEADER=END\n 666f726d6174\n %02x000000\nDATA=END\n' "$3" |
		mdb_load -s meta "$1/shard-$2"
}

# The meta "format" of shard $2 of $1, as a number.
shard_format() {
	mdb_dump -s meta "$1/shard-$2" | grep -A1 '^ 666f726d6174$' | tail -n1 |
		python3 -c 'import sys; print(int.from_bytes(bytes.fromhex(sys.stdin.read().strip()), "little"))'
}

# With 0.4.0 on $DATA (2 shards): 1000 views over 4 videos, typed events
# and retried #ids, unmounted cleanly; then 2000 more views over 8 videos
# and kill -9 right after the last write, so that the journals still hold
# records.  The counts are in $BATS_TEST_TMPDIR/want.
old_fill() {
	COUNTFS_BIN=$OLD_BIN mount_countfs shards=2
	python3 - "$MNT" <<'EOF'
import os, sys
m = sys.argv[1]
fds = [os.open(f"{m}/videos/v{i}/views", os.O_WRONLY | os.O_APPEND) for i in range(4)]
for k in range(1000):
    os.write(fds[k % 4], b"\n")
fd = os.open(f"{m}/ingest", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"t load_ms 250\nt load_ms 150\nr views 1 #x\nr views 1 #x\n")
EOF
	unmount_countfs
	COUNTFS_BIN=$OLD_BIN mount_countfs shards=2
	views_then_kill 2000 8
	# The crash left records in a journal (else this tests no replay).
	local j
	j=$(find "$DATA" -name 'journal-*' -size +1k | wc -l)
	echo "journal files holding records: $j"
	[ "$j" -gt 0 ]
	printf '%s\n' 500 500 500 500 250 250 250 250 >"$BATS_TEST_TMPDIR/want"
}

# Every count old_fill recorded, read through the mount.
counts_are_intact() {
	local got
	got=$(for i in 0 1 2 3 4 5 6 7; do cat "$MNT/videos/v$i/views"; done)
	[ "$got" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
	content_is "$MNT/videos/t/events/load_ms/count" $'2\n'
	content_is "$MNT/videos/t/events/load_ms/avg" $'200\n'
	content_is "$MNT/videos/r/views" $'1\n'
}

@test "a directory made by 0.4.0, left by kill -9, is upgraded in place with every count" {
	old_fill
	identity=$(cat "$DATA/identity")
	[ ! -e "$DATA/format" ]
	[ "$(shard_format "$DATA" 0)" = 1 ]
	mount_countfs shards=2
	counts_are_intact
	grep -q "$DATA: upgraded from data format 1 to 2; a countfs older than 0.5.0 no longer starts on it" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 2" ]
	[ "$(cat "$DATA/identity")" = "$identity" ]
	echo >>"$MNT/videos/v0/views"
	content_is "$MNT/videos/v0/views" $'501\n'
	unmount_countfs
	[ "$(shard_format "$DATA" 0)" = 2 ]
	[ "$(shard_format "$DATA" 1)" = 2 ]
	# Started again: nothing more to upgrade, nothing logged about it.
	: >"$LOG"
	mount_countfs shards=2
	content_is "$MNT/videos/v0/views" $'501\n'
	run ! grep -q upgraded "$LOG"
}

@test "0.4.0 refuses a directory this countfs upgraded" {
	old_fill
	mount_countfs shards=2
	unmount_countfs
	run -1 timeout 20 "$OLD_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"was made with format version 2, not 1"* ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a directory made by 0.3.0 (shards, no identity) is taken as countfs's and upgraded" {
	old_fill
	rm "$DATA/identity" # 0.3.0 made none
	mount_countfs shards=2
	counts_are_intact
	grep -q "had no identity (made by an older countfs)" "$LOG"
	grep -q "upgraded from data format 1 to 2" "$LOG"
	[ -s "$DATA/identity" ]
}

@test "an upgrade cut short by a crash (one shard done, no DIR/format) starts and finishes" {
	old_fill
	# What a crash after shard 0's upgrade transaction leaves.
	set_shard_format "$DATA" 0 2
	[ "$(shard_format "$DATA" 0)" = 2 ]
	[ "$(shard_format "$DATA" 1)" = 1 ]
	# 0.4.0 refuses it already...
	run -1 timeout 20 "$OLD_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"format version 2, not 1"* ]]
	# ...and this countfs finishes the upgrade.
	mount_countfs shards=2
	counts_are_intact
	grep -q "upgraded from data format 1 to 2" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 2" ]
	unmount_countfs
	[ "$(shard_format "$DATA" 1)" = 2 ]
}

@test "a directory of a newer data format is refused with one sentence, nothing changed" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	printf 'countfs data format 3\n' >"$DATA/format"
	sums=$(cd "$DATA" && md5sum format identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA was written by a newer countfs (data format 3); this countfs $(version) reads formats 1 to 2" ]]
	[ "$(cd "$DATA" && md5sum format identity shard-*/*)" = "$sums" ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a shard of a newer data format is refused before anything changes" {
	mount_countfs shards=2
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	# A newer release whose DIR/format is gone: its shard still says.
	rm "$DATA/format"
	set_shard_format "$DATA" 1 3
	sums=$(cd "$DATA" && md5sum identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA/shard-1 was written by a newer countfs (data format 3); this countfs $(version) reads formats 1 to 2" ]]
	[ "$(cd "$DATA" && md5sum identity shard-*/*)" = "$sums" ]
	[ ! -e "$DATA/format" ]
}

@test "a damaged DIR/format is refused, naming the line it must hold" {
	mount_countfs
	unmount_countfs
	# Garbage; a sign, a space or a number beyond 32 bits (which sscanf's
	# %u took as 4294967295, "newer"); something after the number or
	# after the line.
	for bad in 'hello\n' 'countfs data format -1\n' \
		'countfs data format 99999999999999999999\n' \
		'countfs data format 4294967296\n' 'countfs data format +2\n' \
		'countfs data format  2\n' 'countfs data format 2x\n' \
		'countfs data format 2' 'countfs data format 2\nmore\n' \
		'countfs data format 0\n'; do
		# shellcheck disable=SC2059 # $bad is the format: its \n
		printf "$bad" >"$DATA/format"
		run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
		echo "$bad: $output"
		[ "${#lines[@]}" = 1 ]
		[[ "$output" = *"$DATA/format is damaged: it must be one line \"countfs data format N\"; write the line back (countfs data format 2 if this countfs made the directory)" ]]
	done
	# The largest number is a newer format, told as such.
	printf 'countfs data format 4294967295\n' >"$DATA/format"
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	[[ "$output" = *"(data format 4294967295); this countfs $(version) reads formats 1 to 2" ]]
	printf 'countfs data format 2\n' >"$DATA/format"
	mount_countfs
}
