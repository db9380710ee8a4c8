#!/usr/bin/env bats
# countfs-top as a user meets it: in a small terminal (tmux), in -b mode
# for scripts, and asked for --help or --version.
# Each test runs in a process of its own: $screen is its own.
# shellcheck disable=SC2030,SC2031

load helpers/common

teardown() {
	[ -z "${TOP_SESSION:-}" ] || tmux kill-session -t "$TOP_SESSION" 2>/dev/null || true
	common_teardown
}

# Skip without tmux only when not root: CI (root) installs it.
needs_tmux() {
	command -v tmux >/dev/null && return 0
	if [ "$(id -u)" = 0 ]; then
		echo "tmux is missing (apt-get install tmux)"
		return 1
	fi
	skip "tmux is not installed"
}

# Seven event types, one view with a bad line refused.
seven_types() {
	for t in views likes shares plays skips buys stars; do
		echo "v $t"
	done >>"$MNT/ingest"
	run $FSOP write "$MNT/videos/v/views" 'bad\n'
	[ "$output" = EINVAL ]
}

# top_in_tmux COLS ROWS: countfs-top in a detached tmux of that size;
# wait (at most 10 s) for its type table, the screen in $screen.
top_in_tmux() {
	TOP_SESSION=countfs-top-$$
	tmux new-session -d -s "$TOP_SESSION" -x "$1" -y "$2" \
		"$ROOT/countfs-top -d 0.2 $MNT; echo countfs-top exited \$?; sleep 30"
	local deadline=$((SECONDS + 10))
	until tmux capture-pane -p -t "$TOP_SESSION" | grep -q '^replication: '; do
		((SECONDS < deadline)) || false
		sleep 0.1
	done
	sleep 0.5 # a few frames more
	screen=$(tmux capture-pane -p -t "$TOP_SESSION")
	echo "$screen"
}

# q quits, with status 0 (at most 5 s).
quit_top() {
	tmux send-keys -t "$TOP_SESSION" q
	for _ in $(seq 50); do
		tmux capture-pane -p -t "$TOP_SESSION" | grep -q 'countfs-top exited 0' && return 0
		sleep 0.1
	done
	tmux capture-pane -p -t "$TOP_SESSION"
	false
}

# Nothing wrapped: joining wrapped lines (-J) gives as many lines.
no_line_wrapped() {
	[ "$(tmux capture-pane -p -t "$TOP_SESSION" | wc -l)" = \
		"$(tmux capture-pane -pJ -t "$TOP_SESSION" | wc -l)" ]
	run -0 tmux capture-pane -p -t "$TOP_SESSION"
	for l in "${lines[@]}"; do
		[ "${#l}" -le "$1" ]
	done
}

@test "countfs-top shows events/s, types and refusals, live, under tmux" {
	needs_tmux
	mount_countfs
	echo >>"$MNT/videos/a/views"
	TOP_SESSION=countfs-top-$$
	tmux new-session -d -s "$TOP_SESSION" -x 100 -y 30 \
		"$ROOT/countfs-top -d 0.5 $MNT; echo countfs-top exited \$?; sleep 30"
	"$ROOT/bench/load" steady 4 2000 "$MNT" 100 >/dev/null &
	load=$!
	for i in 1 2 3 4 5 6; do
		printf 'v%d likes\nv%d shares\n' "$i" "$i" >>"$MNT/ingest"
		printf 'x\n' >>"$MNT/videos/a/views" 2>/dev/null || true
		sleep 0.4
	done
	sleep 1 # a frame or two to catch up
	screen=$(tmux capture-pane -p -t "$TOP_SESSION")
	wait "$load"
	echo "$screen"
	[[ "$screen" = *"countfs-top  $MNT"* ]]
	# A live rate in the thousands, with its sparkline.
	echo "$screen" | grep -Eq '^events/s +[0-9.]+k? +[▁▂▃▄▅▆▇█]'
	rate=$(echo "$screen" | awk '/^events\/s/ { print $2 }')
	[[ "$rate" = *k ]] || [ "${rate%.*}" -ge 500 ]
	echo "$screen" | grep -Eq '^views +[0-9.]+k? +[0-9.]+k?'
	echo "$screen" | grep -Eq '^likes +[0-9]+ +6 '
	echo "$screen" | grep -Eq '^shares +[0-9]+ +6 '
	echo "$screen" | grep -Eq '^refused/s +[0-9]+  total 6 \(bad line 6\)$'
	[[ "$screen" = *"replication: off"* ]]
	quit_top
}

@test "countfs-top refuses bad arguments and a path without /stats" {
	run "$ROOT/countfs-top"
	[ "$status" = 2 ]
	run "$ROOT/countfs-top" -d 0 /tmp
	[ "$status" = 2 ]
	[[ "$output" = *"give seconds from 0.1 to 3600"* ]]
	run "$ROOT/countfs-top" -b -n 1 "$BATS_TEST_TMPDIR"
	[ "$status" = 1 ]
	[[ "$output" = *"cannot read $BATS_TEST_TMPDIR/stats"* ]]
}

@test "countfs-top at 60x14: no wrap, no scroll, the hidden types counted right" {
	needs_tmux
	mount_countfs
	seven_types
	top_in_tmux 60 14
	# The first line is the header: nothing scrolled it away.
	[[ "${screen%%$'\n'*}" = "countfs-top  "*"/mnt  "*"  (q quits)" ]]
	no_line_wrapped 60
	# Shown rows plus the "N more types" line account for all seven.
	shown=$(echo "$screen" | grep -cE '^(views|likes|shares|plays|skips|buys|stars) ')
	more=$(echo "$screen" | sed -n 's/^\.\.\. \([0-9]*\) more types.*/\1/p')
	echo "shown $shown, more $more"
	[ "$shown" -ge 1 ]
	[ $((shown + more)) = 7 ]
	echo "$screen" | grep -q '^LMDB .* journal '
	echo "$screen" | grep -qx 'replication: off (no mysql= option)'
	echo "$screen" | grep -Eq '^refused/s +[0-9]+  total 1 \(bad line 1\)$'
	quit_top
}

@test "countfs-top in a tall terminal lists every type and no 'more' line" {
	needs_tmux
	mount_countfs
	seven_types
	top_in_tmux 60 30
	no_line_wrapped 60
	[ "$(echo "$screen" | grep -cE '^(views|likes|shares|plays|skips|buys|stars) ')" = 7 ]
	run -1 grep -q 'more type' <<<"$screen"
}

@test "countfs-top at 40x10 cuts lines rather than wrap them" {
	needs_tmux
	mount_countfs
	seven_types
	TOP_SESSION=countfs-top-$$
	tmux new-session -d -s "$TOP_SESSION" -x 40 -y 10 \
		"$ROOT/countfs-top -d 0.2 $MNT; sleep 30"
	sleep 1.5
	tmux capture-pane -p -t "$TOP_SESSION"
	no_line_wrapped 40
	tmux capture-pane -p -t "$TOP_SESSION" | head -1 | grep -q '^countfs-top  '
}

@test "countfs-top -b: every type, no key hint, readable refusals" {
	mount_countfs
	seven_types
	run -0 "$ROOT/countfs-top" -b -n 1 -d 0.1 "$MNT"
	echo "$output"
	[[ "${lines[0]}" = "countfs-top  $MNT  "* ]]
	[[ "${lines[0]}" != *"q quits"* ]]
	[ "$(grep -cE '^(views|likes|shares|plays|skips|buys|stars) ' <<<"$output")" = 7 ]
	grep -Eq '^refused/s +[0-9]+  total 1 \(bad line 1\)$' <<<"$output"
}

@test "countfs-top --help and --version answer on stdout and exit 0" {
	run -0 "$ROOT/countfs-top" --help
	[[ "${lines[0]}" = "usage: countfs-top "* ]]
	[[ "$output" = *"--version"* ]]
	run -0 "$ROOT/countfs-top" -h
	[[ "${lines[0]}" = "usage: countfs-top "* ]]
	run -0 "$ROOT/countfs-top" --version
	[ "$output" = "countfs-top $("$COUNTFS_BIN" --version | awk '{print $2}')" ]
	run -2 "$ROOT/countfs-top" --no-such-option
	[[ "$output" = *"usage: countfs-top "* ]]
}

@test "countfs-top -b: the panel lists the last minute's top videos, -t picks the type" {
	mount_countfs
	printf 'va views *5\nvb views *3\nvc views\nvc likes *9\n' >>"$MNT/ingest"
	run -0 "$ROOT/countfs-top" -b -n 1 -d 0.1 "$MNT"
	echo "$output"
	panel=$(sed -n '/^top views, last minute$/,/^$/p' <<<"$output")
	[ "$panel" = "top views, last minute
           5  va
           3  vb
           1  vc" ]
	run -0 "$ROOT/countfs-top" -b -n 1 -d 0.1 -t likes "$MNT"
	panel=$(sed -n '/^top likes, last minute$/,/^$/p' <<<"$output")
	[ "$panel" = "top likes, last minute
           9  vc" ]
	run -0 "$ROOT/countfs-top" -b -n 1 -d 0.1 -t shares "$MNT"
	grep -qx '  (no events)' <<<"$output"
	run -2 "$ROOT/countfs-top" -t 'Bad' "$MNT"
	[ "$output" = "countfs-top: -t Bad: give an event type, 1-32 of [a-z0-9_]" ]
}
