#!/usr/bin/env bats
# /videos/<video>/range/<start>-<end> and events/<type>/range/...

load helpers/common

setup() {
	mount_countfs
	V=$MNT/videos/r
}

@test "a range counts the views with start <= t < end" {
	t=$(($(now) - 1000))
	for d in 0 1 2 10 100; do echo "@$((t + d))" >>"$V/views"; done
	content_is "$V/range/$t-$((t + 1))" $'1\n'
	content_is "$V/range/$t-$((t + 3))" $'3\n'
	content_is "$V/range/$((t + 1))-$((t + 100))" $'3\n'
	content_is "$V/range/$((t + 1))-$((t + 101))" $'4\n'
	content_is "$V/range/$((t - 5000))-$((t + 5000))" $'5\n'
	content_is "$V/range/$((t + 101))-$((t + 500))" $'0\n'
}

@test "<start>- means until now" {
	t=$(now)
	echo "@$((t - 30))" >>"$V/views"
	echo >>"$V/views"
	content_is "$V/range/$((t - 60))-" $'2\n'
	content_is "$V/range/$((t - 10))-" $'1\n'
}

@test "the views range equals events/views/range/S-E/count" {
	t=$(($(now) - 300))
	for d in 0 5 7 9; do echo "@$((t + d))" >>"$V/views"; done
	content_is "$V/range/$t-$((t + 8))" $'3\n'
	content_is "$V/events/views/range/$t-$((t + 8))/count" $'3\n'
}

@test "typed ranges give count, sum, min, max and avg of the window" {
	E=$V/events/lat
	t=$(($(now) - 120))
	printf '10 @%d\n20 @%d\n30 @%d\n' $t $((t + 1)) $((t + 2)) >>"$E/count"
	W=$E/range/$t-$((t + 2))
	content_is "$W/count" $'2\n'
	content_is "$W/sum" $'30\n'
	content_is "$W/min" $'10\n'
	content_is "$W/max" $'20\n'
	content_is "$W/avg" $'15\n'
	W=$E/range/$((t + 10))-$((t + 20))
	content_is "$W/count" $'0\n'
	reads_empty "$W/avg"
	run ls "$E/range/$t-$((t + 2))"
	[ "$output" = $'avg\ncount\nmax\nmin\nsum' ]
}

@test "ranges are read-only: EACCES" {
	run $FSOP write "$V/range/1-2" '\n'
	[ "$output" = EACCES ]
	run $FSOP write "$V/events/lat/range/1-2/count" '\n'
	[ "$output" = EACCES ]
	run $FSOP open "$V/range/1-" w
	[ "$output" = EACCES ]
}

@test "malformed ranges are ENOENT" {
	for bad in 2-1 5-5 -5 x-5 5-x 1-2-3 99999999999-5 ' 1-2' 1-2x; do
		run $FSOP read "$V/range/$bad"
		[ "$output" = ENOENT ] || { echo "accepted: $bad"; false; }
	done
	run $FSOP read "$V/events/lat/range/2-1/count"
	[ "$output" = ENOENT ]
	run $FSOP read "$V/events/lat/range/1-2/median"
	[ "$output" = ENOENT ]
}

@test "old events: a minute counts when its start lies in the range" {
	# Three days ago: seconds are gone, minutes are kept.
	m=$(( ($(now) - 3 * 86400) / 60 * 60 ))
	echo "@$((m + 30))" >>"$V/views"
	content_is "$V/range/$((m + 29))-$((m + 31))" $'0\n'
	content_is "$V/range/$m-$((m + 1))" $'1\n'
	content_is "$V/range/$((m - 60))-$((m + 1))" $'1\n'
}

@test "old events: whole days are exact however old" {
	d=$(( ($(now) - 400 * 86400) / 86400 * 86400 ))
	printf '@%d\n@%d\n' $((d + 100)) $((d + 80000)) >>"$V/views"
	content_is "$V/range/$d-$((d + 86400))" $'2\n'
	content_is "$V/range/$((d + 86400))-$((d + 2 * 86400))" $'0\n'
	content_is "$V/views" $'2\n'
}

@test "a year-long range adds every level once" {
	t=$(now)
	for back in 10 4000 90000 864000 8640000 30000000; do
		echo "@$((t - back))" >>"$V/views"
	done
	content_is "$V/range/$((t - 31536000))-" $'6\n'
}

@test "per-second buckets expire after keep_seconds; minutes remain" {
	unmount_countfs
	mount_countfs keep_seconds=60s,retain_interval=1s
	t=$(now)
	e=$((t - 50))
	# The window around e must not hold the start of e's minute, or the
	# minute bucket would still count it once the second is gone.
	if ((e % 60 < 2)); then e=$((t - 45)); fi
	echo "@$e" >>"$V/views"
	w="$((e - 1))-$((e + 1))"
	content_is "$V/range/$w" $'1\n'
	# Once the event is older than 60 s its second bucket is dropped.
	deadline=$((SECONDS + 30))
	until [ "$(cat "$V/range/$w")" = 0 ]; do
		((SECONDS < deadline)) || { echo "not expired"; false; }
		sleep 1
	done
	until grep -Eq '^countfs_buckets_expired_total [1-9]' "$MNT/stats"; do
		((SECONDS < deadline)) || { echo "retention did not run"; false; }
		sleep 0.2
	done
	mm=$((e / 60 * 60))
	content_is "$V/range/$mm-$((mm + 60))" $'1\n'
	content_is "$V/views" $'1\n'
}
