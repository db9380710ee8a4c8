#!/usr/bin/env bats
# Every example in examples/ runs as it is and prints what its header says.

load helpers/common

setup() {
	mount_countfs
}

@test "examples/tour.sh prints what its header says, and again on a second run" {
	run -0 sh "$ROOT/examples/tour.sh" "$MNT"
	# The header's session, line for line.
	sed -n '/^#   \$ examples\/tour.sh mnt$/,/^#$/p' "$ROOT/examples/tour.sh" |
		sed -n 's/^#   \([^$].*\)/\1/p' >"$BATS_TEST_TMPDIR/header"
	[ "$(cat "$BATS_TEST_TMPDIR/header")" = "$output" ]
	[ "${lines[0]}" = "views of abc: 2 (was 0)" ]
	[ "${lines[3]}" = "views of xyz: 2 (was 0; a retried #id counts once)" ]
	grep -q '^countfs_events_total 7$' "$MNT/stats"
	# Again, as the header says: 2 more views of abc, 1 more of xyz.
	run -0 sh "$ROOT/examples/tour.sh" "$MNT"
	[ "${lines[0]}" = "views of abc: 4 (was 2)" ]
	[ "${lines[1]}" = "views of abc in the last hour: 4" ]
	[ "${lines[2]}" = "load_ms of abc: avg 200, max 250" ]
	[ "${lines[3]}" = "views of xyz: 3 (was 2; a retried #id counts once)" ]
	[ "${lines[4]}" = "videos: abc xyz" ]
}

@test "examples/client.py records and reads back" {
	run python3 "$ROOT/examples/client.py" "$MNT"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "views of v42: 4 (a retried event id counts once)" ]
	[ "${lines[1]}" = "views of v42 in the last minute: 4" ]
	[ "${lines[2]}" = "play_ms of v42: count 2, sum 1500, avg 750" ]
	[ "${lines[3]}" = "a bad value is refused with EINVAL; play_ms of v42 still counts 2" ]
	[ "${lines[4]}" = "seek_ms of v42, written through a buffered file: count 3, avg 100" ]
	[ "${lines[5]}" = "batch of 1000 events recorded; v7 now has 100 views" ]
}

@test "examples/client.c builds and counts exactly" {
	# Built where its header says, under another TMPDIR.
	cmd=$(sed -n 's/^ \*   \$ \(cc .*\)/\1/p' "$ROOT/examples/client.c")
	[ "$cmd" = "cc -O2 -o /tmp/countfs-client examples/client.c" ]
	(cd "$ROOT" && ${cmd/\/tmp/$BATS_TEST_TMPDIR})
	run "$BATS_TEST_TMPDIR/countfs-client" "$MNT" demo 3000
	[ "$status" = 0 ]
	[[ "$output" = *"count is now 3000" ]]
}

@test "examples/client.js (Node.js) records and reads back" {
	command -v node >/dev/null || skip "node is not installed"
	run node "$ROOT/examples/client.js" "$MNT"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "views of n1: 3 (a retried event id counts once)" ]
	[ "${lines[1]}" = "views of n1 in the last minute: 3" ]
	[ "${lines[2]}" = "watch_ms of n1: count 2, avg 450" ]
	[ "${lines[3]}" = "batch of 500 events recorded; n2 now has 250 views" ]
	# The bad value was refused whole: still two events.
	content_is "$MNT/videos/n1/events/watch_ms/count" $'2\n'
}

@test "examples/nginx-ingest.sh: an access log becomes views, bytes and errors" {
	# The sample log, and a live one with this hour's times in two zones.
	sh "$ROOT/examples/nginx-ingest.sh" "$MNT" "$ROOT/examples/access.log"
	content_is "$MNT/videos/abc/views" $'3\n'
	content_is "$MNT/videos/abc/events/bytes/sum" $'99234\n'
	content_is "$MNT/videos/abc/events/errors/count" $'1\n'
	content_is "$MNT/videos/xyz/views" $'1\n'
	run -0 ls "$MNT/videos"
	[ "$output" = $'abc\nxyz' ]
	now=$(date +%s)
	{
		TZ=UTC date -d "@$((now - 120))" '+1.2.3.4 - - [%d/%b/%Y:%H:%M:%S +0000] "GET /watch?v=live HTTP/1.1" 200 10 "-" "x"'
		TZ=Etc/GMT-2 date -d "@$((now - 60))" '+1.2.3.4 - - [%d/%b/%Y:%H:%M:%S +0200] "GET /videos/live/seg1.ts HTTP/1.1" 206 20 "-" "x"'
	} | sh "$ROOT/examples/nginx-ingest.sh" "$MNT"
	content_is "$MNT/videos/live/range/$((now - 121))-$((now - 119))" $'1\n'
	content_is "$MNT/videos/live/range/$((now - 61))-$((now - 59))" $'1\n'
	content_is "$MNT/videos/live/events/bytes/sum" $'30\n'
}

@test "examples/plot draws a PNG of a video's views" {
	command -v gnuplot >/dev/null || skip "gnuplot is not installed"
	now=$(date +%s)
	for _ in 1 2 3; do echo "@$((now - 600))"; done >>"$MNT/videos/p/views"
	echo >>"$MNT/videos/p/views"
	cd "$BATS_TEST_TMPDIR"
	run "$ROOT/examples/plot" "$MNT" p 3600 60 p.png
	[ "$status" = 0 ]
	[ "$output" = "p.png: views of p over the last 3600s, per 60s" ]
	[ "$(head -c 8 p.png | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
	[ "$(stat -c %s p.png)" -gt 2000 ]
	run "$ROOT/examples/plot" "$MNT" 'no/such' 60 60
	[ "$status" = 1 ]
	# One series read per plot: at most 100,000 steps.
	run "$ROOT/examples/plot" "$MNT" p 100001 1 p.png
	[ "$status" = 1 ]
	[ "$output" = "plot: at most 100000 steps (SECONDS / STEP)" ]
}

@test "examples/plot writes to TMPDIR by default, and dates a window over a day" {
	if ! command -v gnuplot >/dev/null; then
		[ "$(id -u)" != 0 ] || { echo "gnuplot is missing (CI installs it)"; false; }
		skip "gnuplot is not installed"
	fi
	now=$(date +%s)
	echo "@$((now - 100000))" >>"$MNT/videos/p/views"
	echo >>"$MNT/videos/p/views"
	mkdir "$BATS_TEST_TMPDIR/cwd" "$BATS_TEST_TMPDIR/tmp"
	cd "$BATS_TEST_TMPDIR/cwd"
	TMPDIR=$BATS_TEST_TMPDIR/tmp run -0 "$ROOT/examples/plot" "$MNT" p
	[ "$output" = "$BATS_TEST_TMPDIR/tmp/countfs-views-p.png: views of p over the last 3600s, per 60s" ]
	[ -s "$BATS_TEST_TMPDIR/tmp/countfs-views-p.png" ]
	run -0 ls -A # nothing left where it ran
	[ -z "$output" ]
	# Two days by hour, in text: the date under the times.
	"$ROOT/examples/plot" "$MNT" p 172800 3600 "$BATS_TEST_TMPDIR/p.txt"
	cat "$BATS_TEST_TMPDIR/p.txt"
	grep -q "$(date -u -d "@$now" '+%d %b')" "$BATS_TEST_TMPDIR/p.txt"
	grep -q "$(date -u -d "@$((now - 86400))" '+%d %b')" "$BATS_TEST_TMPDIR/p.txt"
	# An hour has the times alone.
	"$ROOT/examples/plot" "$MNT" p 3600 60 "$BATS_TEST_TMPDIR/h.txt"
	run -1 grep -q "$(date -u -d "@$now" '+%d %b')" "$BATS_TEST_TMPDIR/h.txt"
}
