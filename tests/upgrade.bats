#!/usr/bin/env bats
# Data formats across releases: a directory made by the previous release
# (0.4.0, data format 1) is upgraded in place to format 3 with every count
# intact, its journal included; a crash in the middle of an upgrade still
# starts; 0.4.0 refuses the upgraded directory; a directory of a newer
# format is refused with one sentence, nothing in it changed.
#
# The 0.4.0 directory is tests/fixtures/data-0.4.0.tar.gz, so these run in
# any clone.  The tests that run 0.4.0 itself build it from git and skip,
# saying so, in a clone without its commit (a shallow one).
# shellcheck disable=SC2030,SC2031,SC2153 # COUNTFS_PID is per test, as meant; COUNTFS_BIN is common.bash's

load helpers/common
load helpers/old_data

setup_file() {
	local rc=0
	build_old_bin "$BATS_FILE_TMPDIR" || rc=$?
	# 2: the commit is not in this clone; need_old_bin skips.
	if [ "$rc" = 1 ]; then
		return 1
	fi
}

need_old_bin() {
	if [ ! -x "$OLD_BIN" ]; then
		skip "countfs 0.4.0 cannot be built: commit $OLD_COMMIT is not in this clone (git fetch --unshallow)"
	fi
}

# $DATA becomes the fixture: what 0.4.0 left after kill -9, journals
# holding records.
fixture_data() {
	DATA=${DATA:-$BATS_TEST_TMPDIR/data}
	mkdir -p "$DATA"
	tar -xzf "$OLD_FIXTURE.tar.gz" -C "$DATA" --no-same-owner
	journals_hold_records
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

# Every count of the fixture's list (old_fill's, as 0.4.0 read them),
# read through the mount.
counts_are_intact() {
	local f n
	[ "$(cut -d' ' -f1 "$OLD_FIXTURE.counts")" = "$(old_counted)" ]
	while read -r f n; do
		content_is "$MNT/$f" "$n"$'\n' || return 1
	done <"$OLD_FIXTURE.counts"
}

@test "a directory made by 0.4.0, left by kill -9, is upgraded in place with every count" {
	fixture_data
	identity=$(cat "$DATA/identity")
	[ ! -e "$DATA/format" ]
	[ "$(shard_format "$DATA" 0)" = 1 ]
	mount_countfs shards=2
	counts_are_intact
	grep -q "$DATA: upgraded from data format 1 to 3; a countfs older than 0.6.0 no longer starts on it" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 3" ]
	[ "$(cat "$DATA/identity")" = "$identity" ]
	echo >>"$MNT/videos/v0/views"
	content_is "$MNT/videos/v0/views" $'501\n'
	unmount_countfs
	[ "$(shard_format "$DATA" 0)" = 3 ]
	[ "$(shard_format "$DATA" 1)" = 3 ]
	# Started again: nothing more to upgrade, nothing logged about it.
	: >"$LOG"
	mount_countfs shards=2
	content_is "$MNT/videos/v0/views" $'501\n'
	run ! grep -q upgraded "$LOG"
}

@test "a directory 0.4.0 fills here is upgraded with the fixture's counts; 0.4.0 refuses it then" {
	need_old_bin
	old_fill
	[ "$(shard_format "$DATA" 0)" = 1 ]
	mount_countfs shards=2
	counts_are_intact
	unmount_countfs
	run -1 timeout 20 "$OLD_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"was made with format version 3, not 1"* ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a directory made by 0.3.0 (shards, no identity) is taken as countfs's and upgraded" {
	fixture_data
	rm "$DATA/identity" # 0.3.0 made none
	mount_countfs shards=2
	counts_are_intact
	grep -q "had no identity (made by an older countfs)" "$LOG"
	grep -q "upgraded from data format 1 to 3" "$LOG"
	[ -s "$DATA/identity" ]
}

@test "an upgrade cut short by a crash (one shard done, no DIR/format) starts and finishes" {
	# What a crash after shard 0's upgrade transaction leaves: shard 0
	# of a directory upgraded whole, beside the rest of the old one.
	DATA=$BATS_TEST_TMPDIR/done fixture_data
	DATA=$BATS_TEST_TMPDIR/done mount_countfs shards=2
	unmount_countfs
	fixture_data
	rm -r "$DATA/shard-0"
	cp -a "$BATS_TEST_TMPDIR/done/shard-0" "$DATA/"
	[ "$(shard_format "$DATA" 0)" = 3 ]
	[ "$(shard_format "$DATA" 1)" = 1 ]
	: >"$LOG"
	mount_countfs shards=2
	counts_are_intact
	grep -q "upgraded from data format 1 to 3" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 3" ]
	unmount_countfs
	[ "$(shard_format "$DATA" 1)" = 3 ]
}

@test "0.4.0 refuses a directory whose upgrade was cut short (one shard done)" {
	need_old_bin
	fixture_data
	set_shard_format "$DATA" 0 3
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir "$MNT"
	run -1 timeout 20 "$OLD_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"format version 3, not 1"* ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a directory of a newer data format is refused with one sentence, nothing changed" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	printf 'countfs data format 4\n' >"$DATA/format"
	sums=$(cd "$DATA" && md5sum format identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA was written by a newer countfs (data format 4); this countfs $(version) reads formats 1 to 3" ]]
	[ "$(cd "$DATA" && md5sum format identity shard-*/*)" = "$sums" ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a shard of a newer data format is refused before anything changes" {
	mount_countfs shards=2
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	# A newer release whose DIR/format is gone: its shard still says.
	rm "$DATA/format"
	set_shard_format "$DATA" 1 4
	sums=$(cd "$DATA" && md5sum identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA/shard-1 was written by a newer countfs (data format 4); this countfs $(version) reads formats 1 to 3" ]]
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
		[[ "$output" = *"$DATA/format is damaged: it must be one line \"countfs data format N\"; write the line back (countfs data format 3 if this countfs made the directory)" ]]
	done
	# The largest number is a newer format, told as such.
	printf 'countfs data format 4294967295\n' >"$DATA/format"
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	[[ "$output" = *"(data format 4294967295); this countfs $(version) reads formats 1 to 3" ]]
	printf 'countfs data format 3\n' >"$DATA/format"
	mount_countfs
}
