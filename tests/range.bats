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

@test "per-second buckets answer while their minute is whole; then it counts whole" {
	unmount_countfs
	mount_countfs keep_seconds=60s,retain_interval=1s
	# With keep_seconds=60s only the current minute has all its seconds:
	# start 3 to 45 s into one, so that the event and the first read are
	# in it and the window around the event does not hold its start.
	deadline=$((SECONDS + 70))
	until (($(now) % 60 >= 3 && $(now) % 60 <= 45)); do
		((SECONDS < deadline)) || { echo "no usable second"; false; }
		sleep 0.5
	done
	e=$(($(now) - 1))
	m=$((e / 60 * 60))
	echo "@$e" >>"$V/views"
	w="$((e - 1))-$((e + 1))"
	content_is "$V/range/$w" $'1\n'
	# Once part of the minute is older than 60 s, the minute answers:
	# only a window holding its start counts the event.
	deadline=$((SECONDS + 90))
	until [ "$(cat "$V/range/$w")" = 0 ]; do
		((SECONDS < deadline)) || { echo "still exact"; false; }
		sleep 1
	done
	content_is "$V/range/$m-$((m + 1))" $'1\n'
	content_is "$V/range/$((m + 1))-$((m + 60))" $'0\n'
	# An event of a later minute pushes minute m's seconds out of the
	# series' head, to where retention deletes them once all 60 are
	# older than 60 s: up to a minute from now.
	echo >>"$V/views"
	deadline=$((SECONDS + 90))
	until grep -Eq '^countfs_buckets_expired_total [1-9]' "$MNT/stats"; do
		((SECONDS < deadline)) || { echo "retention did not run"; false; }
		sleep 0.2
	done
	content_is "$V/range/$m-$((m + 60))" $'1\n'
	content_is "$V/views" $'2\n'
}

@test "a window has one name: leading zeros are ENOENT" {
	echo "@100" >>"$MNT/videos/z/views"
	run cat "$MNT/videos/z/range/0100-0200"
	[ "$status" = 1 ]
	[[ "$output" == *"No such file or directory"* ]]
	run cat "$MNT/videos/z/range/100-0200"
	[ "$status" = 1 ]
	run cat "$MNT/videos/z/range/00-200"
	[ "$status" = 1 ]
	content_is "$MNT/videos/z/range/0-200" $'1\n'
}

@test "an event at @now written just after a second began is in the S- read that follows" {
	run python3 -c '
import os, sys, time
d = sys.argv[1]
missed = 0
for i in range(20):
    t = int(time.time()) + 1
    while time.time() < t:
        pass
    fd = os.open(d + "/views", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"@%d\n" % t)
    os.close(fd)
    with open("%s/range/%d-" % (d, t)) as f:
        got = int(f.read())
    missed += got == 0
print("missed", missed)
' "$MNT/videos/tick"
	[ "$status" = 0 ]
	[ "$output" = "missed 0" ]
}

# Read $V/range/$1-$2, $2-$3 and $1-$3 into R1 R2 R3 while the zone start
# computed by $4 (a shell function of now) stays the same; fail after 3
# tries.
read_three() {
	local z
	for _ in 1 2 3; do
		z=$($4)
		R1=$(cat "$V/range/$1-$2")
		R2=$(cat "$V/range/$2-$3")
		R3=$(cat "$V/range/$1-$3")
		[ "$z" = "$($4)" ] && return 0
	done
	echo "the zone moved during every try" >&2
	return 1
}

# Where per-second answers begin with the defaults: the first whole
# minute of the last hour; minutes begin at the first whole hour of the
# last 7 days.
zone_sec() { echo $(((($(now) - 3600 + 59) / 60) * 60)); }
zone_min() { echo $(((($(now) - 7 * 86400 + 3599) / 3600) * 3600)); }

@test "a window across the edge of the per-second window: no event after its end" {
	z=$(zone_sec)
	# [a, b) holds no whole minute: 59 s of a minute whose seconds are
	# partly gone (its start is before a: it counts nowhere in [a, b)),
	# then 20 s of seconds.  The event 15 s after b must not count.
	a=$((z - 59)) b=$((z + 20)) c=$((z + 50))
	printf '@%d\n' $((z - 30)) $((z + 5)) $((b + 15)) >>"$V/views"
	read_three $a $b $c zone_sec
	[ "$R1" = 1 ]
	[ "$R2" = 1 ]
	[ "$R3" = 2 ]
}

@test "a window across the 7-day edge: no event after its end" {
	z=$(zone_min)
	# The same at the edge of the minutes: hours before z, minutes after.
	a=$((z - 3599)) b=$((z + 1200)) c=$((z + 2400))
	printf '@%d\n' $((z - 1800)) $((z + 300)) $((b + 300)) >>"$V/views"
	read_three $a $b $c zone_min
	[ "$R1" = 1 ]
	[ "$R2" = 1 ]
	[ "$R3" = 2 ]
}

@test "a range whose sum fits is read even when a partial sum does not" {
	E=$V/events/big
	p=4611686018427387904 # 2^62
	m=$((($(now) - 600) / 60 * 60))
	# Keep m - 20 .. m + 80 inside one hour: two of the +2^62 in one hour
	# bucket would not fit, and the write would rightly be refused.
	if ((m % 3600 < 120)); then m=$((m - 240)); fi
	if ((m % 3600 >= 3600 - 120)); then m=$((m - 180)); fi
	# In an order whose running totals fit: -2^62, then +2^62 twice.
	printf -- '-%d @%d\n%d @%d\n%d @%d\n' $p $((m + 70)) $p $((m + 5)) \
		$p $((m - 10)) >>"$E/count"
	# The whole minute m is added first, then the seconds at each edge.
	run -0 cat "$E/range/$((m - 20))-$((m + 80))/sum"
	[ "$output" = $p ]
	run -0 cat "$E/range/$((m - 20))-$((m + 80))/count"
	[ "$output" = 3 ]
	# 2^63 does not fit: EOVERFLOW, and a line in the log.
	run $FSOP read "$E/range/$((m - 20))-$((m + 60))/sum"
	[ "$output" = EOVERFLOW ]
	grep -q 'range of r/big: its sum does not fit in 64 bits' "$LOG"
}
