#!/usr/bin/env bats
# /top/<type>/<start>-<end>: the videos with the most events of a type in a
# window, "<count> <video>\n", highest first, ties by video id.

load helpers/common

setup() {
	mount_countfs "${TOP_OPTS:-}"
	# A whole minute ten minutes ago, and a second inside it.
	T=$(($(now) / 60 * 60 - 600))
	W=$T-$((T + 60))
}

# The small dataset: b 3, a 2, c 2, ab 2, d 1 views at T+5; x 4 likes.
known_dataset() {
	local s=$((T + 5))
	{
		printf 'b views @%d\n' $s $s $s
		printf 'a views @%d\n' $s $s
		printf 'c views @%d\n' $s $s
		printf 'ab views @%d\n' $s $s
		printf 'd views @%d\n' $s
		printf 'x likes @%d\n' $s $s $s $s
	} >>"$MNT/ingest"
}

@test "exact bytes: highest first, ties by video id in byte order" {
	known_dataset
	content_is "$MNT/top/views/$W" $'3 b\n2 a\n2 ab\n2 c\n1 d\n'
	content_is "$MNT/top/likes/$W" $'4 x\n'
}

@test "each count equals the video's own range file" {
	known_dataset
	echo "@$((T + 70))" >>"$MNT/videos/d/views"
	echo "@$((T + 70))" >>"$MNT/videos/d/views"
	W2=$((T + 3))-$((T + 120))
	content_is "$MNT/top/views/$W2" $'3 b\n3 d\n2 a\n2 ab\n2 c\n'
	content_is "$MNT/videos/d/range/$W2" $'3\n'
	content_is "$MNT/videos/b/range/$W2" $'3\n'
	content_is "$MNT/videos/x/events/likes/range/$W2/count" $'4\n'
}

@test "a window without events is an empty file; seconds cut a minute" {
	known_dataset
	reads_empty "$MNT/top/views/$((T + 6))-$((T + 60))"
	reads_empty "$MNT/top/views/1-2"
	reads_empty "$MNT/top/nothing/$W"
	content_is "$MNT/top/views/$((T + 5))-$((T + 6))" $'3 b\n2 a\n2 ab\n2 c\n1 d\n'
}

@test "windows at the ends of time: 0 to 2^32 - 1" {
	known_dataset
	content_is "$MNT/top/views/0-4294967295" $'3 b\n2 a\n2 ab\n2 c\n1 d\n'
	content_is "$MNT/videos/b/range/0-4294967295" $'3\n'
	reads_empty "$MNT/top/views/4294967294-4294967295"
	reads_empty "$MNT/top/views/0-1"
	run $FSOP read "$MNT/top/views/0-4294967296"
	[ "$output" = ENOENT ]
}

@test "pre-counted events (*n) rank by their n, up to 2^32 at once" {
	known_dataset
	printf 'p views *1000 @%d\nq views *4294967296 @%d\n' $((T + 9)) $((T + 9)) >>"$MNT/ingest"
	content_is "$MNT/top/views/$W" $'4294967296 q\n1000 p\n3 b\n2 a\n2 ab\n2 c\n1 d\n'
	content_is "$MNT/videos/q/range/$W" $'4294967296\n'
}

@test "S- means until now" {
	echo >>"$MNT/videos/now1/views"
	echo >>"$MNT/videos/now1/views"
	echo >>"$MNT/videos/now2/views"
	content_is "$MNT/top/views/$(($(now) - 30))-" $'2 now1\n1 now2\n'
}

@test "bad names are ENOENT; the files are read-only" {
	known_dataset
	run $FSOP read "$MNT/top/Views/$W"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/top/views/20-10"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/top/views/$W/x"
	[ "$output" = ENOTDIR ]
	run $FSOP read "$MNT/top/views/0100-200"
	[ "$output" = ENOENT ]
	run $FSOP write "$MNT/top/views/$W" '\n'
	[ "$output" = EACCES ]
	run ls "$MNT/top"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run ls "$MNT/top/views"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run ls "$MNT"
	[ "$output" = $'ingest\nstats\ntop\nvideos' ]
	run stat -c '%a' "$MNT/top/views/$W"
	[ "$output" = 444 ]
	[ -f "$MNT/top/views/$W" ]
}

@test "top=N keeps the first N lines" {
	unmount_countfs
	mount_countfs top=2
	known_dataset
	content_is "$MNT/top/views/$W" $'3 b\n2 a\n'
}

@test "top= out of range or not a number exits 1" {
	for v in 0 1001 x -1 ''; do
		run -1 "${COUNTFS_BIN:?}" "$BATS_TEST_TMPDIR/m" -f -o "data=$BATS_TEST_TMPDIR/d,top=$v"
		[[ "$output" = *"top=$v is not valid: give a number from 1 to 1000"* ]]
	done
	run -0 "$COUNTFS_BIN" --help
	[[ "$output" = *"-o top=N"* ]]
}

@test "a restart keeps the lists, also after kill -9" {
	known_dataset
	unmount_countfs
	mount_countfs
	content_is "$MNT/top/views/$W" $'3 b\n2 a\n2 ab\n2 c\n1 d\n'
	echo "@$((T + 7))" >>"$MNT/videos/d/views"
	kill -9 "$COUNTFS_PID"
	wait_pid "$COUNTFS_PID" 10
	fusermount3 -uz "$MNT" 2>/dev/null || true
	COUNTFS_PID=
	mount_countfs
	content_is "$MNT/top/views/$W" $'3 b\n2 a\n2 ab\n2 c\n2 d\n'
}

@test "retention: a window past keep_minutes counts only hours and days" {
	unmount_countfs
	mount_countfs keep_seconds=60s,keep_minutes=1h,retain_interval=1s
	# Two hours ago: minutes gone, the hour still kept.
	H=$(($(now) / 3600 * 3600 - 7200))
	printf 'old views @%d\n' $((H + 5)) $((H + 5)) >>"$MNT/ingest"
	printf 'new views @%d\n' $((H + 5)) >>"$MNT/ingest"
	sleep 2.5
	content_is "$MNT/top/views/$H-$((H + 3600))" $'2 old\n1 new\n'
	content_is "$MNT/videos/old/range/$H-$((H + 3600))" $'2\n'
	# A minute of that hour: the leaf is the whole hour, as for range/.
	content_is "$MNT/top/views/$((H + 60))-$((H + 120))" ''
	content_is "$MNT/videos/old/range/$((H + 60))-$((H + 120))" $'0\n'
}

@test "/stats counts /top reads and the unsure ones" {
	known_dataset
	cat "$MNT/top/views/$W" >/dev/null
	cat "$MNT/top/views/$W" >/dev/null
	run cat "$MNT/stats"
	[ "$status" -eq 0 ]
	[[ "$output" = *$'\ncountfs_top_reads_total 2\n'* ]]
	[[ "$output" = *$'\ncountfs_top_unsure_total 0\n'* ]]
}

@test "many equal counts: every printed count is still exact" {
	unmount_countfs
	# shellcheck disable=SC2034 # read by mount_countfs
	DATA=$BATS_TEST_TMPDIR/one
	mount_countfs shards=1,top=5
	s=$((T + 5))
	for i in $(seq 1000 1199); do printf 'v%d views @%d\n' "$i" $s; done >>"$MNT/ingest"
	run cat "$MNT/top/views/$W"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | wc -l)" = 5 ]
	[ "$(printf '%s\n' "$output" | cut -d' ' -f1 | sort -u)" = 1 ]
	run cat "$MNT/stats"
	[[ "$output" = *$'\ncountfs_top_unsure_total 1\n'* ]]
	# Two more for one of them: above every list's bound, so first.
	printf 'v1199 views @%d\n' $s $s >>"$MNT/ingest"
	run cat "$MNT/top/views/$W"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "3 v1199" ]
}

@test "a video whose window sum passes 64 bits is still ranked by its count" {
	a=$(($(date +%s) - 20))
	# Each write's running sum fits; the window's sum (1.2e19) does not.
	printf '6000000000000000000 @%d\n-6000000000000000000 @%d\n6000000000000000000 @%d\n' \
		"$a" $((a + 2)) $((a + 1)) >>"$MNT/videos/evil/views"
	echo "@$a" >>"$MNT/videos/good/views"
	content_is "$MNT/top/views/$a-$((a + 2))" $'2 evil\n1 good\n'
	run -1 cat "$MNT/videos/evil/events/views/range/$a-$((a + 2))/sum"
	[[ "$output" = *"Value too large"* ]]
}
