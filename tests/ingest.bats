#!/usr/bin/env bats
# /ingest: "<video> <type> [value] [@ts] [#id]" lines, any mix.

load helpers/common

setup() {
	mount_countfs
}

@test "ingest lines land on their videos and types" {
	t=$(($(now) - 100))
	printf 'a views\na views\nb likes 5\nb likes 7 @%d\nc lat -2 #x\nc lat -2 #x\n' \
		$t >>"$MNT/ingest"
	content_is "$MNT/videos/a/views" $'2\n'
	content_is "$MNT/videos/b/events/likes/count" $'2\n'
	content_is "$MNT/videos/b/events/likes/sum" $'12\n'
	content_is "$MNT/videos/b/events/likes/range/$t-$((t + 1))/sum" $'7\n'
	content_is "$MNT/videos/c/events/lat/count" $'1\n'
	run ls "$MNT/videos"
	[ "$output" = $'a\nb\nc' ]
}

@test "reading /ingest gives an empty file" {
	reads_empty "$MNT/ingest"
}

@test "one bad ingest line refuses the whole write" {
	run $FSOP write "$MNT/ingest" 'a views\nb likes\nc\nd views\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$MNT/ingest" 'a views\nb/x views\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$MNT/ingest" 'a Views\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$MNT/ingest" 'a views x\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$MNT/ingest" 'a views 1 @99999999999\n'
	[ "$output" = EINVAL ]
	content_is "$MNT/videos/a/views" $'0\n'
	content_is "$MNT/videos/b/events/likes/count" $'0\n'
	run -0 ls "$MNT/videos"
	[ "$output" = "" ]
}

@test "a batch spread over many videos and shards is counted exactly" {
	python3 - "$MNT" <<'PY'
import os, sys
fd = os.open(sys.argv[1] + "/ingest", os.O_WRONLY | os.O_APPEND)
lines = []
for i in range(50000):
    lines.append("vid%d plays %d\n" % (i % 500, i % 7))
data = "".join(lines).encode()
for off in range(0, len(data), 65536):
    os.write(fd, data[off:off + 65536])
os.close(fd)
PY
	for i in 0 1 2 499; do
		c=$(cat "$MNT/videos/vid$i/events/plays/count")
		[ "$c" = 100 ]
	done
	run -0 ls "$MNT/videos"
	[ "${#lines[@]}" = 500 ]
	grep -q '^countfs_events_total 50000$' "$MNT/stats"
}

@test "ls of a large /videos gives every video exactly once" {
	python3 - "$MNT" <<'PY'
import os, sys
fd = os.open(sys.argv[1] + "/ingest", os.O_WRONLY | os.O_APPEND)
data = b"".join(b"big%d views\n" % i for i in range(20000))
n = 0
while n < len(data):
    n += os.write(fd, data[n:])
PY
	run -0 ls "$MNT/videos"
	[ "${#lines[@]}" = 20000 ]
	[ -z "$(printf '%s\n' "${lines[@]}" | sort | uniq -d)" ]
	run python3 -c 'import os, sys; print(len(set(os.listdir(sys.argv[1]))))' "$MNT/videos"
	[ "$output" = 20000 ]
}

# Videos a and b live in shards 0 and 1 (FNV-1a 64 mod 4).
@test "an /ingest write that overflows one shard records nothing in the others" {
	run $FSOP write "$MNT/ingest" 'b n 5\na n 9223372036854775807\na n 1\n'
	[ "$output" = EOVERFLOW ]
	content_is "$MNT/videos/b/events/n/count" $'0\n'
	content_is "$MNT/videos/a/events/n/count" $'0\n'
	# The same with ids (deduplicated writes take the same path).
	run $FSOP write "$MNT/ingest" 'b n 5 #i1\na n 9223372036854775807 #i2\na n 1 #i3\n'
	[ "$output" = EOVERFLOW ]
	content_is "$MNT/videos/b/events/n/count" $'0\n'
	run $FSOP write "$MNT/ingest" 'b n 5 #i1\na n 9223372036854775807 #i2\n'
	[ "$output" = "OK 38" ]
	content_is "$MNT/videos/b/events/n/sum" $'5\n'
	content_is "$MNT/videos/a/events/n/sum" $'9223372036854775807\n'
}

@test "small values to a shard whose sums are big: an overflow records nothing elsewhere" {
	echo 9223372036854775807 >>"$MNT/videos/a/events/n/count"
	run $FSOP write "$MNT/ingest" 'b n 1\nc n 1\nd n 1\na n 1\n'
	[ "$output" = EOVERFLOW ]
	content_is "$MNT/videos/b/events/n/count" $'0\n'
	content_is "$MNT/videos/c/events/n/count" $'0\n'
	content_is "$MNT/videos/d/events/n/count" $'0\n'
	run $FSOP write "$MNT/ingest" 'b n 1\nc n 1\nd n 1\na n -1\n'
	[ "$output" = "OK 25" ]
	content_is "$MNT/videos/a/events/n/sum" $'9223372036854775806\n'
	content_is "$MNT/videos/b/events/n/sum" $'1\n'
	grep -q 'write refused (EOVERFLOW)' "$LOG"
}

# ---- -o ingest=skip: bad lines dropped, the others recorded -----------

skip_mode() {
	unmount_countfs
	mount_countfs ingest=skip
}

# dropped REASON: the count of countfs_ingest_dropped_total{reason=REASON}.
dropped() {
	sed -n "s/^countfs_ingest_dropped_total{reason=\"$1\"} //p" "$MNT/stats"
}

@test "ingest=skip records the good lines of a write and drops the bad ones, by reason" {
	skip_mode
	t=$(now)
	run $FSOP write "$MNT/ingest" "a views\nb/x views\nb Views\nb views x\nb views 1 @x\nb views 1 #bad/id\nb views 1 2\nb views 1 @$((t + 900))\nc views\n"
	[ "$output" = "OK $((99 + ${#t}))" ]
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/c/views" $'1\n'
	run -0 ls "$MNT/videos"
	[ "$output" = $'a\nc' ]
	[ "$(dropped bad_video)" = 1 ]
	[ "$(dropped bad_type)" = 1 ]
	[ "$(dropped bad_value)" = 1 ]
	[ "$(dropped bad_timestamp)" = 1 ]
	[ "$(dropped bad_id)" = 1 ]
	[ "$(dropped bad_fields)" = 1 ]
	[ "$(dropped timestamp)" = 1 ]
	[ "$(dropped too_long)" = 0 ]
	grep -q '^countfs_events_total 2$' "$MNT/stats"
	grep -q '^countfs_lines_total 9$' "$MNT/stats"
	grep -Eq '/ingest: 7 of 9 lines dropped \(ingest=skip\); the first: video must be .*: "b/x views" \(pid [0-9]+\)$' "$LOG"
}

@test "ingest=skip: a write of bad lines only returns its full length, records nothing" {
	skip_mode
	run $FSOP write "$MNT/ingest" 'x\ny\n'
	[ "$output" = "OK 4" ]
	[ "$(dropped bad_type)" = 2 ]
	run -0 ls "$MNT/videos"
	[ "$output" = "" ]
	grep -q '^countfs_writes_refused_total{reason="line"} 0$' "$MNT/stats"
}

@test "ingest=skip: a line split across writes is recorded or dropped whole" {
	skip_mode
	# "b vi|ews" is one good line, "x|yz" one bad one, "c lik|es" one
	# good one finished by the last close.
	run $FSOP write "$MNT/ingest" 'a views\nb vi' 'ews\nx' 'yz\nc lik' 'es'
	[ "$output" = "OK 27" ]
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/b/views" $'1\n'
	content_is "$MNT/videos/c/events/likes/count" $'1\n'
	[ "$(dropped bad_type)" = 1 ]
	grep -q 'the first: ingest line needs <video> <type>: "xyz" (pid ' "$LOG"
	# An unfinished line that can never be valid is kept until it ends,
	# then dropped whole: its end is not taken for a line of its own.
	run $FSOP write "$MNT/ingest" 'd views 1 @12' 'x #' 'q\nd views\n'
	[ "$output" = "OK 26" ]
	content_is "$MNT/videos/d/views" $'1\n'
	[ "$(dropped bad_timestamp)" = 1 ]
	# A bad line left unfinished at the last close is dropped too.
	run $FSOP close-after "$MNT/ingest" 'e views\ne'
	[ "$output" = "OK 9" ]
	content_is "$MNT/videos/e/views" $'1\n'
	[ "$(dropped bad_type)" = 2 ]
}

@test "ingest=skip: a line over 4 KiB is dropped with its rest; the lines around it count" {
	skip_mode
	long=$(printf 'x%.0s' {1..4100})
	# Complete in one write...
	run $FSOP write "$MNT/ingest" "a views\n$long views\nb views\n"
	[ "$output" = "OK $((4100 + 23))" ]
	[ "$(dropped too_long)" = 1 ]
	# ...and growing past 4 KiB unfinished: dropped at once, and the rest
	# of it (" views 5" here) up to its newline is not a line.
	run $FSOP write "$MNT/ingest" "a views\n$long" ' views 5\nb views\n'
	[ "$output" = "OK $((4100 + 25))" ]
	[ "$(dropped too_long)" = 2 ]
	content_is "$MNT/videos/a/views" $'2\n'
	content_is "$MNT/videos/b/views" $'2\n'
	run -0 ls "$MNT/videos"
	[ "$output" = $'a\nb' ]
	grep -q '^countfs_writes_refused_total{reason="too_long"} 0$' "$MNT/stats"
}

@test "ingest=skip: a failed write inside a dropped long line leaves its rest dropped" {
	skip_mode
	# One fd: a line that grows past 4 KiB (dropped), then the write that
	# brings its rest fails (an overflow) and changes nothing, so that
	# its retry still drops the rest up to the newline.
	run python3 - "$MNT/ingest" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"x" * 4100)
try:
    os.write(fd, b"rest views\na n 9223372036854775807\na n 1\n")
    print("accepted")
except OSError as e:
    print(errno.errorcode[e.errno])
print(os.write(fd, b"rest views\nb views\n"))
os.close(fd)
PY
	[ "$output" = $'EOVERFLOW\n19' ]
	content_is "$MNT/videos/b/views" $'1\n'
	run -0 ls "$MNT/videos"
	[ "$output" = b ]
	[ "$(dropped too_long)" = 1 ]
	[ "$(dropped bad_type)" = 0 ]
}

@test "ingest=skip: a malformed #id drops its line; a repeated #id counts once" {
	skip_mode
	run $FSOP write "$MNT/ingest" 'a views 1 #r1\na views 1 #r1\na views 1 #r/2\na views 1 #r2\n'
	[ "$output" = "OK 57" ]
	content_is "$MNT/videos/a/views" $'2\n'
	[ "$(dropped bad_id)" = 1 ]
	grep -q '^countfs_events_deduplicated_total 1$' "$MNT/stats"
}

@test "ingest=skip: an overflow still fails the whole write, and counts no drop" {
	skip_mode
	run $FSOP write "$MNT/ingest" 'b n 5\nbad\na n 9223372036854775807\na n 1\n'
	[ "$output" = EOVERFLOW ]
	content_is "$MNT/videos/b/events/n/count" $'0\n'
	content_is "$MNT/videos/a/events/n/count" $'0\n'
	[ "$(dropped bad_type)" = 0 ]
	grep -q '^countfs_writes_refused_total{reason="overflow"} 1$' "$MNT/stats"
	grep -Eq 'write refused \(EOVERFLOW\): a sum would exceed 64 bits \(pid [0-9]+\)$' "$LOG"
	# The same write without the overflow: the good lines count.
	run $FSOP write "$MNT/ingest" 'b n 5\nbad\na n 9223372036854775807\n'
	[ "$output" = "OK 34" ]
	content_is "$MNT/videos/b/events/n/count" $'1\n'
	[ "$(dropped bad_type)" = 1 ]
}

@test "ingest=skip leaves the counter files all or nothing" {
	skip_mode
	run $FSOP write "$MNT/videos/a/views" '1\nx\n1\n'
	[ "$output" = EINVAL ]
	content_is "$MNT/videos/a/views" $'0\n'
	[ "$(dropped bad_value)" = 0 ]
	grep -q '^countfs_writes_refused_total{reason="line"} 1$' "$MNT/stats"
}

@test "ingest= other than strict or skip is refused before mounting" {
	unmount_countfs
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/mnt" -o "data=$DATA,ingest=lenient"
	[ "$output" = "countfs: ingest=lenient is not valid: use strict or skip" ]
	mount_countfs ingest=strict
	run $FSOP write "$MNT/ingest" 'a views\nx\n'
	[ "$output" = EINVAL ]
}
