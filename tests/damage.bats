#!/usr/bin/env bats
# A damaged data directory is refused (exit 1, the file named, nothing
# changed); -o recover starts it with what is left and keeps a copy of
# what it set aside.  A torn tail, the one damage a crash leaves, is not
# refused.

load helpers/common

# Mount with 2 shards, append 3000 views over 8 videos (one write() each)
# and kill -9 right after the last: the journals still hold the records
# (they are emptied a second after they were applied).
fill_and_crash() {
	mount_countfs shards=2
	views_then_kill 3000 8
	J=$DATA/shard-0/journal-0
	if [ "$(stat -c %s "$DATA/shard-0/journal-1")" -gt "$(stat -c %s "$J")" ]; then
		J=$DATA/shard-0/journal-1
	fi
	echo "journal $J: $(stat -c %s "$J") bytes"
	[ "$(stat -c %s "$J")" -gt 2000 ]
}

# Every file of the data directory with its digest.
snapshot() {
	(cd "$DATA" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# Start countfs on $DATA expecting the refusal; its output in $refusal.
refused() {
	snapshot >"$BATS_TEST_TMPDIR/before"
	# COUNTFS_WRAP is a command line (valgrind ...): split on purpose.
	# shellcheck disable=SC2086,SC2153
	run -1 timeout 60 $COUNTFS_WRAP "$COUNTFS_BIN" "$MNT" -f \
		-o "data=$DATA,shards=2"
	refusal=$output
	echo "$refusal" >>"$LOG"
	echo "$refusal"
	[[ "$refusal" == *"refusing to start, nothing was changed"* ]]
	snapshot >"$BATS_TEST_TMPDIR/after"
	cmp "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	run ! mountpoint -q "$MNT"
}

flip_byte() {
	python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x20]))
' "$1" "$2"
}

# The sum of the views of every video still listed.
views_sum() {
	local sum=0 v n
	for v in "$MNT"/videos/*/; do
		n=$(cat "$v/views")
		sum=$((sum + n))
	done
	echo "$sum"
}

@test "a flipped byte mid-journal is refused; recover keeps the journal and starts" {
	fill_and_crash
	size=$(stat -c %s "$J")
	flip_byte "$J" $((size / 2))
	cp "$J" "$BATS_TEST_TMPDIR/damaged"
	refused
	[[ "$refusal" == *"$J is damaged at byte "* ]]

	mount_countfs "shards=2,recover=$BATS_TEST_TMPDIR/kept"
	grep -q "kept in $BATS_TEST_TMPDIR/kept" "$LOG"
	grep -q "$J: [0-9]* damaged bytes dropped" "$LOG"
	counted=$(views_sum)
	echo "counted $counted of 3000"
	# Only the damaged record (one view) can be lost.
	[ "$counted" -ge 2999 ]
	[ "$counted" -le 3000 ]
	cmp "$BATS_TEST_TMPDIR/damaged" "$BATS_TEST_TMPDIR/kept/${J#"$DATA"/}"
	grep -q "is damaged at byte" "$BATS_TEST_TMPDIR/kept/DAMAGE"
}

# What a cut can be told from: a tear ends the newest record; a journal
# cut where the other file holds later records was not cut by a crash.
@test "a journal cut inside its records is refused; cut at its end it is a torn tail" {
	fill_and_crash
	other=${J%-*}-$((1 - ${J##*-}))
	# Move the second half of the records to the other file, as a crash
	# between switching files and emptying the old one leaves them; then
	# cut the older file 5 bytes short.
	python3 - "$J" "$other" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 0
while off < len(b) // 2:
    off += struct.unpack_from("<I", b, off)[0]
open(sys.argv[1], "wb").write(b[off:])
open(sys.argv[2], "wb").write(b[:off - 5])
EOF
	refused
	[[ "$refusal" == *"$other ends at byte "*"holds later records"* ]]

	mount_countfs "shards=2,recover=$BATS_TEST_TMPDIR/kept"
	counted=$(views_sum)
	echo "counted $counted of 3000"
	[ "$counted" -gt 0 ]
	[ "$counted" -le 3000 ]
	[ -s "$BATS_TEST_TMPDIR/kept/${other#"$DATA"/}" ]
	unmount_countfs

	# A cut at the end of the newest file is what power loss leaves.
	fill_and_crash
	size=$(stat -c %s "$J")
	truncate -s $((size - 7)) "$J"
	mount_countfs shards=2
	grep -q "$J: a last record cut short at byte [0-9]*: [0-9]* bytes dropped" "$LOG"
	[ "$(views_sum)" -le 6000 ]
}

@test "a deleted shard directory is refused, never made again empty; recover does" {
	fill_and_crash
	rm -rf "$DATA/shard-1"
	refused
	[[ "$refusal" == *"$DATA/shard-1 is missing, but the directory was made already"* ]]
	[ ! -e "$DATA/shard-1" ]

	mount_countfs "shards=2,recover=$BATS_TEST_TMPDIR/kept"
	[ -d "$DATA/shard-1" ]
	counted=$(views_sum)
	echo "counted $counted of 3000"
	[ "$counted" -gt 0 ]
	[ "$counted" -lt 3000 ]
}

@test "every shard directory deleted, the identity left: refused, not made again empty" {
	fill_and_crash
	rm -rf "$DATA/shard-0" "$DATA/shard-1"
	refused
	[[ "$refusal" == *"$DATA/shard-0 is missing, but the directory was made already"* ]]
	[[ "$refusal" == *"$DATA/shard-1 is missing, but the directory was made already"* ]]
	[ ! -e "$DATA/shard-0" ]
	[ ! -e "$DATA/shard-1" ]
}

@test "a zero-length data.mdb is refused; recover moves it aside and starts" {
	fill_and_crash
	: >"$DATA/shard-1/data.mdb"
	refused
	[[ "$refusal" == *"$DATA/shard-1/data.mdb is empty"* ]]

	mount_countfs shards=2,recover
	kept=$(ls -d "$DATA"/recovered-*)
	[ -f "$kept/shard-1/data.mdb" ]
	[ ! -s "$kept/shard-1/data.mdb" ]
	counted=$(views_sum)
	echo "counted $counted of 3000"
	[ "$counted" -gt 0 ]
	[ "$counted" -le 3000 ]
	echo >>"$MNT/videos/new/views"
	content_is "$MNT/videos/new/views" $'1\n'
}

@test "a deleted journal file is refused once LMDB has applied records" {
	fill_and_crash
	mount_countfs shards=2 # applies and empties the journals
	unmount_countfs
	rm "$DATA/shard-0/journal-1"
	refused
	[[ "$refusal" == *"$DATA/shard-0/journal-1 is missing"* ]]
}

@test "recover= wants a directory" {
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR" -o "data=$BATS_TEST_TMPDIR/d,recover="
	[[ "$output" == *"recover= is not valid"* ]]
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR" -o "data=$BATS_TEST_TMPDIR/d,recover=/nonexistent/x"
	[[ "$output" == *"give a directory whose parent exists"* ]]
}
