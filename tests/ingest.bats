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
