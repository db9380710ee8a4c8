#!/usr/bin/env bats
# Every example in examples/ runs as it is and prints what its header says.

load helpers/common

setup() {
	mount_countfs
}

@test "examples/tour.sh runs the README tour" {
	run sh "$ROOT/examples/tour.sh" "$MNT"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "views of abc: 2" ]
	[ "${lines[1]}" = "views of abc in the last hour: 2" ]
	[ "${lines[2]}" = "load_ms of abc: avg 200, max 250" ]
	[ "${lines[3]}" = "views of xyz: 2 (a retried #id counts once)" ]
	[ "${lines[4]}" = "videos: abc xyz" ]
	grep -q '^countfs_events_total 7$' "$MNT/stats"
}

@test "examples/client.py records and reads back" {
	run python3 "$ROOT/examples/client.py" "$MNT"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "views of v42: 4 (a retried event id counts once)" ]
	[ "${lines[1]}" = "views of v42 in the last minute: 4" ]
	[ "${lines[2]}" = "play_ms of v42: count 2, sum 1500, avg 750" ]
	[ "${lines[3]}" = "batch of 1000 events recorded; v7 now has 100 views" ]
}

@test "examples/client.c builds and counts exactly" {
	cc -O2 -o "$BATS_TEST_TMPDIR/client" "$ROOT/examples/client.c"
	run "$BATS_TEST_TMPDIR/client" "$MNT" demo 3000
	[ "$status" = 0 ]
	[[ "$output" = *"count is now 3000" ]]
}
