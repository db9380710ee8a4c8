#!/usr/bin/env bats
# Data formats across releases: a directory made by 0.4.0 (data format 1)
# is upgraded in place to format 4 with every count
# intact, its journal included; a crash in the middle of an upgrade still
# starts; 0.4.0 refuses the upgraded directory; a directory of a newer
# format is refused with one sentence, nothing in it changed.
#
# A directory made by 0.5.0 (data format 2, tests/fixtures/data-0.5.0.tar.gz:
# ~6,700 events over ~3,900 series in 4 shards, #ids, journals holding
# records) reads the same after this countfs upgrades it to its format:
# ~20,000 totals, ranges of every level, listings and mtimes, compared
# with what 0.5.0 read (data-0.5.0.expected.gz); its ids are still known;
# new writes add to its counts; a second start upgrades nothing; a damaged
# one is refused, not upgraded; 0.5.0 refuses it once its format is newer.
#
# The 0.4.0 directory is tests/fixtures/data-0.4.0.tar.gz, so these run in
# any clone.  The tests that run 0.4.0 or 0.5.0 itself build it from git
# and skip, saying so, in a clone without its commit (a shallow one).
# shellcheck disable=SC2030,SC2031,SC2153 # COUNTFS_PID is per test, as meant; COUNTFS_BIN is common.bash's

load helpers/common
load helpers/old_data
load helpers/data_050

# The journal format before lines of *n: what 0.6.0 writes, its records
# of one event per entry (store/jscan.h).
V060_COMMIT=f5801f0
V060_BIN=$ROOT/build/old-$V060_COMMIT/countfs

setup_file() {
	local rc=0
	build_old_bin "$BATS_FILE_TMPDIR" || rc=$?
	# 2: the commit is not in this clone; need_old_bin skips.
	if [ "$rc" = 1 ]; then
		return 1
	fi
	rc=0
	build_release_bin "$V050_COMMIT" "$V050_BIN" "$BATS_FILE_TMPDIR" || rc=$?
	if [ "$rc" = 1 ]; then
		return 1
	fi
	rc=0
	build_release_bin "$V060_COMMIT" "$V060_BIN" "$BATS_FILE_TMPDIR" || rc=$?
	if [ "$rc" = 1 ]; then
		return 1
	fi
	fake_clock_build "$BATS_FILE_TMPDIR"
	export FAKECLOCK_SO
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
	grep -q "$DATA: upgraded from data format 1 to 4; a countfs older than 0.7.0 no longer starts on it" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 4" ]
	[ "$(cat "$DATA/identity")" = "$identity" ]
	echo >>"$MNT/videos/v0/views"
	content_is "$MNT/videos/v0/views" $'501\n'
	unmount_countfs
	[ "$(shard_format "$DATA" 0)" = 4 ]
	[ "$(shard_format "$DATA" 1)" = 4 ]
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
	[[ "$output" = *"was made with format version 4, not 1"* ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a directory made by 0.3.0 (shards, no identity) is taken as countfs's and upgraded" {
	fixture_data
	rm "$DATA/identity" # 0.3.0 made none
	mount_countfs shards=2
	counts_are_intact
	grep -q "had no identity (made by an older countfs)" "$LOG"
	grep -q "upgraded from data format 1 to 4" "$LOG"
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
	[ "$(shard_format "$DATA" 0)" = 4 ]
	[ "$(shard_format "$DATA" 1)" = 1 ]
	: >"$LOG"
	mount_countfs shards=2
	counts_are_intact
	grep -q "upgraded from data format 1 to 4" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format 4" ]
	unmount_countfs
	[ "$(shard_format "$DATA" 1)" = 4 ]
}

@test "0.4.0 refuses a directory whose upgrade was cut short (one shard done)" {
	need_old_bin
	fixture_data
	set_shard_format "$DATA" 0 4
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir "$MNT"
	run -1 timeout 20 "$OLD_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	[[ "$output" = *"format version 4, not 1"* ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a directory of a newer data format is refused with one sentence, nothing changed" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	printf 'countfs data format 5\n' >"$DATA/format"
	sums=$(cd "$DATA" && md5sum format identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA was written by a newer countfs (data format 5); this countfs $(version) reads formats 1 to 4" ]]
	[ "$(cd "$DATA" && md5sum format identity shard-*/*)" = "$sums" ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a shard of a newer data format is refused before anything changes" {
	mount_countfs shards=2
	echo >>"$MNT/videos/a/views"
	unmount_countfs
	# A newer release whose DIR/format is gone: its shard still says.
	rm "$DATA/format"
	set_shard_format "$DATA" 1 5
	sums=$(cd "$DATA" && md5sum identity shard-*/*)
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,shards=2"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA/shard-1 was written by a newer countfs (data format 5); this countfs $(version) reads formats 1 to 4" ]]
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
		[[ "$output" = *"$DATA/format is damaged: it must be one line \"countfs data format N\"; write the line back (countfs data format 4 if this countfs made the directory)" ]]
	done
	# The largest number is a newer format, told as such.
	printf 'countfs data format 4294967295\n' >"$DATA/format"
	run -1 timeout 20 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA"
	[[ "$output" = *"(data format 4294967295); this countfs $(version) reads formats 1 to 4" ]]
	printf 'countfs data format 4\n' >"$DATA/format"
	mount_countfs
}

# ---- a directory made by 0.5.0 (data format 2) ------------------------

D0=1709251200 # 2024-03-01, the first day of the fixture's events

need_v050_bin() {
	if [ ! -x "$V050_BIN" ]; then
		skip "countfs 0.5.0 cannot be built: commit $V050_COMMIT is not in this clone (git fetch --unshallow)"
	fi
}

# The data format this countfs writes, read from its source: what the
# 0.5.0 directory is upgraded to (2 until the format changes).
format_version() {
	sed -n 's/^#define FORMAT_VERSION \([0-9][0-9]*\)$/\1/p' "$ROOT/store/internal.h"
}

# $DATA becomes the 0.5.0 fixture, $EXPECTED what 0.5.0 read from it.
v050_data() {
	DATA=${DATA:-$BATS_TEST_TMPDIR/data}
	mkdir -p "$DATA"
	tar -xzf "$V050_FIXTURE.tar.gz" -C "$DATA" --no-same-owner
	EXPECTED=$BATS_TEST_TMPDIR/expected
	gzip -dc "$V050_FIXTURE.expected.gz" >"$EXPECTED"
}

# What 0.5.0 read for the query $1.
expected() {
	awk -v q="$1" '$1 == q { print substr($0, length(q) + 2); exit }' "$EXPECTED"
}

# The reads of $EXPECTED, made again on $MNT, answer as they did for
# 0.5.0: all of them; those matching the extended regex $1; or with -v,
# all but those matching $2.
reads_as_050() {
	local want=$BATS_TEST_TMPDIR/want got=$BATS_TEST_TMPDIR/got
	case ${1:-} in
	'') cp "$EXPECTED" "$want" ;;
	-v) grep -Ev "$2" "$EXPECTED" >"$want" ;;
	*) grep -E "$1" "$EXPECTED" >"$want" ;;
	esac
	v050_reads "$want" >"$got"
	if ! diff -u "$want" "$got" >"$BATS_TEST_TMPDIR/diff"; then
		head -n 40 "$BATS_TEST_TMPDIR/diff" >&2
		echo "$(grep -c '^-[^-]' "$BATS_TEST_TMPDIR/diff") of $(wc -l <"$want") answers differ from 0.5.0's" >&2
		return 1
	fi
}

# Writes after the upgrade, each to a series 0.5.0 wrote, or a new one.
write_after_upgrade() {
	echo "@$((D0 + 3600))" >>"$MNT/videos/rich0/views"
	echo "-5000 @$((D0 + 60))" >>"$MNT/videos/t0000/events/delta/count"
	echo "1 @$((D0 + 7)) #fresh" >>"$MNT/videos/dup0/events/likes/count"
	printf 't0001 views\nrich4 load_ms 7 @%d\n' $((D0 + 120)) >>"$MNT/ingest"
	echo >>"$MNT/videos/zz-new/views"
}

# content_is "$MNT/$1" with what 0.5.0 read for $1, plus $2.
added() {
	local was
	was=$(expected "$1")
	if [ -z "$was" ]; then
		echo "$1 is not among the reads of the 0.5.0 fixture" >&2
		return 1
	fi
	content_is "$MNT/$1" "$((was + $2))"$'\n'
}

# What write_after_upgrade wrote counts, on top of 0.5.0's counts.
added_to_050() {
	local day0=$D0-$((D0 + 86400)) t=videos/t0000/events/delta
	added videos/rich0/views 1
	added "videos/rich0/range/$day0" 1
	added "videos/rich0/range/$((D0 + 3600))-$((D0 + 7200))" 1
	added "videos/rich0/range/$((D0 + 3600))-$((D0 + 3660))" 1
	added "videos/rich0/range/$((D0 + 3600))-$((D0 + 3601))" 1
	added $t/count 1
	added $t/sum -5000
	content_is "$MNT/$t/min" $'-5000\n'
	added $t/max 0
	added "$t/range/$day0/count" 1
	added videos/dup0/events/likes/count 1
	added videos/t0001/views 1
	added videos/rich4/events/load_ms/count 1
	added videos/rich4/events/load_ms/sum 7
	content_is "$MNT/videos/zz-new/views" $'1\n'
	content_is "$MNT/videos/zz-new/events/views/sum" $'1\n'
}

# tops_are_brute WINDOW [TYPES]: for every event type, /top/T/WINDOW (100
# lines) equals the ranking of every series' own range file for that
# window; at least TYPES types (1) have events in it.
tops_are_brute() {
	python3 - "$MNT" "$1" "${2:-1}" <<'PY'
import os, sys
mnt, w = sys.argv[1], sys.argv[2]
by_type = {}
for v in os.listdir(f"{mnt}/videos"):
    for t in os.listdir(f"{mnt}/videos/{v}/events"):
        with open(f"{mnt}/videos/{v}/events/{t}/range/{w}/count") as f:
            n = int(f.read())
        if n:
            by_type.setdefault(t, []).append((-n, v.encode(), v))
bad = 0
for t, rows in by_type.items():
    rows.sort()
    want = "".join(f"{-n} {v}\n" for n, _, v in rows[:100])
    with open(f"{mnt}/top/{t}/{w}") as f:
        got = f.read()
    if got != want:
        bad += 1
        print(f"/top/{t}/{w}: got {got[:200]!r}, want {want[:200]!r}")
print(f"{len(by_type)} types compared")
sys.exit(1 if bad or len(by_type) < int(sys.argv[3]) else 0)
PY
}

@test "a directory made by 0.5.0 is upgraded in place: every count, range, listing, mtime and id as 0.5.0 read them" {
	v050_data
	new=$(format_version)
	[ -n "$new" ]
	identity=$(cat "$DATA/identity")
	[ "$(cat "$DATA/format")" = "countfs data format 2" ]
	for k in 0 1 2 3; do
		[ "$(shard_format "$DATA" $k)" = 2 ]
	done
	journals_hold_records
	fake_clock "$V050_NOW" "$BATS_TEST_TMPDIR"
	mount_countfs "$V050_OPTS"
	reads_as_050
	[ "$(cat "$DATA/format")" = "countfs data format $new" ]
	[ "$(cat "$DATA/identity")" = "$identity" ]
	# The top lists were built from the packs (format 4).
	tops_are_brute "1-$((V050_NOW + 1))"
	tops_are_brute "$((V050_NOW - 86400))-$((V050_NOW - 3600))" 0
	if [ "$new" -gt 2 ]; then
		grep -q "$DATA: upgraded from data format 2 to $new" "$LOG"
	else
		run ! grep -q "upgraded from" "$LOG"
	fi

	# Every id 0.5.0 recorded is still known (dedup=365d; the clock is a
	# day later): sent again, each is acknowledged and counted nowhere,
	# and nothing changes, mtimes included.
	cat "$V050_FIXTURE.ids" >>"$MNT/ingest"
	grep -qx "countfs_events_deduplicated_total $(wc -l <"$V050_FIXTURE.ids")" "$MNT/stats"
	reads_as_050 '^(mtime:)?videos/dup'

	# New writes add to the old counts; a sum 0.5.0 left near the limit
	# still refuses what would pass 64 bits.
	write_after_upgrade
	added_to_050
	run $FSOP write "$MNT/videos/rich0/events/huge/count" '4000000000000000000\n'
	[ "$output" = EOVERFLOW ]
	added videos/rich0/events/huge/sum 0
	unmount_countfs

	# Started again: nothing more to upgrade, nothing logged about it,
	# and everything as it was.
	: >"$LOG"
	mount_countfs "$V050_OPTS"
	run ! grep -q "upgraded from" "$LOG"
	[ "$(cat "$DATA/format")" = "countfs data format $new" ]
	added_to_050
	reads_as_050 -v '^(mtime:)?videos/(rich0|rich4|t0000|t0001|dup0)(/| |$)|^videos/ '
	# The videos listed: 0.5.0's and the new one.
	echo videos/ | python3 "$ROOT/tests/helpers/read_tree.py" "$MNT" >"$BATS_TEST_TMPDIR/got"
	grep '^videos/ ' "$EXPECTED" >"$BATS_TEST_TMPDIR/want"
	echo 'videos/ zz-new' >>"$BATS_TEST_TMPDIR/want"
	diff -u "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

# Start on $DATA, a damaged directory of 0.5.0: refused with the damage
# named ($1, a pattern), nothing in it changed or upgraded, nothing mounted.
refused_as_damaged() {
	local sums
	sums=$(cd "$DATA" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir "$MNT"
	run -1 timeout 60 "$COUNTFS_BIN" "$MNT" -f -o "data=$DATA,$V050_OPTS"
	echo "$output"
	# shellcheck disable=SC2053 # $1 is a pattern
	[[ "$output" = *$1* ]]
	[[ "$output" = *"$DATA is damaged (1 problem above): refusing to start, nothing was changed; to start with what is left, keeping a copy of what is dropped, use -o recover (see countfs(8))" ]]
	[[ "$output" != *"upgraded from"* ]]
	[[ "$output" != *"rewritten"* ]]
	[ "$(cd "$DATA" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" = "$sums" ]
	[ "$(cat "$DATA/format")" = "countfs data format 2" ]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a damaged directory made by 0.5.0 (a data.mdb cut short) is refused, not upgraded, nothing changed" {
	v050_data
	truncate -s 16384 "$DATA/shard-2/data.mdb"
	refused_as_damaged "$DATA/shard-2/data.mdb is 16384 bytes, shorter than the "*" bytes its pages need: it was cut"
}

@test "a 0.5.0 directory with a damaged page in its last shard is refused before any shard is upgraded" {
	v050_data
	# Compacted, every page of a shard is in use: a flipped bit in the
	# middle one lands in a live page of its B-trees.
	for s in 0 1 2 3; do
		mkdir "$BATS_TEST_TMPDIR/c$s"
		mdb_copy -c "$DATA/shard-$s" "$BATS_TEST_TMPDIR/c$s"
		cp "$BATS_TEST_TMPDIR/c$s/data.mdb" "$DATA/shard-$s/data.mdb"
	done
	python3 - "$DATA/shard-3/data.mdb" <<'EOF'
import os, sys
p = sys.argv[1]
off = os.path.getsize(p) // 4096 // 2 * 4096 + 17
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x08]))
EOF
	refused_as_damaged "$DATA/shard-3/data.mdb: a record of data format 2 cannot be read, so it cannot be upgraded: "
}

@test "0.5.0 starts on what this countfs left of its directory while the format is 2, and refuses it once newer" {
	need_v050_bin
	v050_data
	new=$(format_version)
	[ -n "$new" ]
	fake_clock "$V050_NOW" "$BATS_TEST_TMPDIR"
	mount_countfs "$V050_OPTS"
	write_after_upgrade
	unmount_countfs
	if [ "$new" = 2 ]; then
		COUNTFS_BIN=$V050_BIN mount_countfs "$V050_OPTS"
		added_to_050
		return 0
	fi
	run -1 timeout 20 "$V050_BIN" "$MNT" -f -o "data=$DATA,$V050_OPTS"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA was written by a newer countfs (data format $new); this countfs 0.5.0 reads formats 1 to 2" ]]
	run -32 mountpoint -q "$MNT" # 32: not a mountpoint
}

@test "a journal 0.6.0 left at kill -9 is replayed by this countfs, and lines of *n add to it" {
	if [ ! -x "$V060_BIN" ]; then
		skip "countfs 0.6.0 cannot be built: commit $V060_COMMIT is not in this clone (git fetch --unshallow)"
	fi
	COUNTFS_BIN=$V060_BIN mount_countfs
	views_then_kill 3000 7
	journals_hold_records
	mount_countfs
	grep -q 'events from the journal' "$LOG"
	for i in 0 1 2 3; do
		content_is "$MNT/videos/v$i/views" $'429\n'
	done
	for i in 4 5 6; do
		content_is "$MNT/videos/v$i/views" $'428\n'
	done
	echo '*1000' >>"$MNT/videos/v0/views"
	content_is "$MNT/videos/v0/views" $'1429\n'
}
