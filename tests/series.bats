#!/usr/bin/env bats
# .../series/<start>-<end>/<step>: a range per step, in one read.

load helpers/common

setup() {
	mount_countfs
	V=$MNT/videos/s
}

@test "a views series: one line per step, the last step cut at end" {
	t=$(($(now) - 1000))
	for d in 0 1 2 10 24 25 100; do echo "@$((t + d))" >>"$V/views"; done
	content_is "$V/series/$t-$((t + 25))/10" \
		"$t 3"$'\n'"$((t + 10)) 1"$'\n'"$((t + 20)) 1"$'\n'
	content_is "$V/series/$t-$((t + 30))/10" \
		"$t 3"$'\n'"$((t + 10)) 1"$'\n'"$((t + 20)) 2"$'\n'
	content_is "$V/series/$((t + 1))-$((t + 2))/1" "$((t + 1)) 1"$'\n'
	# A step past the window: one line, the whole window.
	content_is "$V/series/$t-$((t + 101))/1d" "$t 7"$'\n'
	# Empty steps read 0, as their range files do.
	content_is "$V/series/$((t + 200))-$((t + 203))/1" \
		"$((t + 200)) 0"$'\n'"$((t + 201)) 0"$'\n'"$((t + 202)) 0"$'\n'
	content_is "$V/events/views/series/$t-$((t + 30))/10/count" \
		"$t 3"$'\n'"$((t + 10)) 1"$'\n'"$((t + 20)) 2"$'\n'
}

@test "a type's series: count, sum, min, max, avg; empty steps print - or 0" {
	E=$MNT/videos/s/events/lat
	t=$(($(now) - 600))
	printf '10 @%d\n20 @%d\n-7 @%d\n5 @%d\n' $t $((t + 1)) $((t + 2)) \
		$((t + 20)) >>"$E/count"
	S=$E/series/$t-$((t + 30))/10
	content_is "$S/count" "$t 3"$'\n'"$((t + 10)) 0"$'\n'"$((t + 20)) 1"$'\n'
	content_is "$S/sum" "$t 23"$'\n'"$((t + 10)) 0"$'\n'"$((t + 20)) 5"$'\n'
	content_is "$S/min" "$t -7"$'\n'"$((t + 10)) -"$'\n'"$((t + 20)) 5"$'\n'
	content_is "$S/max" "$t 20"$'\n'"$((t + 10)) -"$'\n'"$((t + 20)) 5"$'\n'
	content_is "$S/avg" "$t 7.667"$'\n'"$((t + 10)) -"$'\n'"$((t + 20)) 5"$'\n'
	run ls "$S"
	[ "$status" -eq 0 ]
	[ "$output" = $'avg\ncount\nmax\nmin\nsum' ]
}

@test "the edges of 64 bits: each line as its range file reads" {
	E=$MNT/videos/s/events/big
	t=$(($(now) - 600))
	printf -- '-9223372036854775808 @%d\n9223372036854775807 @%d\n0 @%d\n' \
		$t $((t + 1)) $((t + 2)) >>"$E/count"
	S=$E/series/$t-$((t + 3))
	content_is "$S/2/min" "$t -9223372036854775808"$'\n'"$((t + 2)) 0"$'\n'
	content_is "$S/2/max" "$t 9223372036854775807"$'\n'"$((t + 2)) 0"$'\n'
	content_is "$S/2/sum" "$t -1"$'\n'"$((t + 2)) 0"$'\n'
	content_is "$S/2/avg" "$t -0.5"$'\n'"$((t + 2)) 0"$'\n'
	content_is "$S/3/avg" "$t -0.333"$'\n'
	content_is "$E/range/$t-$((t + 1))/min" $'-9223372036854775808\n'
	content_is "$E/range/$t-$((t + 2))/sum" $'-1\n'
}

@test "a step is seconds or a duration: 90, 90s, 5m, 1h, 1d" {
	t=$(($(now) - 2 * 86400))
	t=$((t - t % 86400))
	for d in 0 59 60 3599 3600 86399 86400 90000; do
		echo "@$((t + d))" >>"$V/views"
	done
	run cat "$V/series/$t-$((t + 300))/60"
	[ "$status" -eq 0 ]
	want=$output
	content_is "$V/series/$t-$((t + 300))/1m" "$want"$'\n'
	content_is "$V/series/$t-$((t + 300))/60s" "$want"$'\n'
	content_is "$V/series/$t-$((t + 180))/90" "$t 3"$'\n'"$((t + 90)) 0"$'\n'
	content_is "$V/series/$t-$((t + 7200))/1h" "$t 4"$'\n'"$((t + 3600)) 1"$'\n'
	content_is "$V/series/$t-$((t + 2 * 86400))/1d" \
		"$t 6"$'\n'"$((t + 86400)) 2"$'\n'
	content_is "$V/series/$t-$((t + 600))/5m" "$t 3"$'\n'"$((t + 300)) 0"$'\n'
}

@test "100,000 steps are read; 100,001 are ENOENT" {
	t=$(($(now) - 200000))
	echo "@$((t + 99999))" >>"$V/views"
	run cat "$V/series/$t-$((t + 100000))/1"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 100000 ]
	[ "${lines[0]}" = "$t 0" ]
	[ "${lines[99999]}" = "$((t + 99999)) 0" ]
	# The event is three days old: its minute answers, in the step
	# that holds the minute's start.
	m=$(((t + 99999) / 60 * 60))
	[ "${lines[$((m - t))]}" = "$m 1" ]
	run $FSOP read "$V/series/$t-$((t + 100001))/1"
	[ "$output" = ENOENT ]
	run $FSOP read "$V/events/views/series/$t-$((t + 100001))/1/count"
	[ "$output" = ENOENT ]
	run $FSOP read "$V/series/$t-$((t + 100001))/2"
	[ "$output" != ENOENT ]
	# An open end is judged when read.
	run $FSOP read "$V/series/$(($(now) - 200000))-/1"
	[ "$output" = ENOENT ]
}

@test "malformed series names are ENOENT" {
	# stat, not python: one process per name.
	for bad in 2-1/1 5-5/1 x-5/1 1-5/0 1-5/0m 1-5/05 1-5/1x 1-5/5M 1-5/-1 \
		1-5/1h30m 1-5/m 1-5/4294967296 1-/1; do
		run stat -c %F "$V/series/$bad"
		[[ "$output" == *"No such file or directory"* ]] ||
			{ echo "accepted: $bad: $output"; false; }
	done
	run $FSOP read "$V/series/1-5/1/count"
	[ "$output" = ENOTDIR ]
	run $FSOP read "$V/events/lat/series/1-5/1/p50"
	[ "$output" = ENOENT ]
	run $FSOP read "$V/events/lat/series/1-5/0/count"
	[ "$output" = ENOENT ]
	run stat "$V/series/1-5/0"
	[ "$status" -ne 0 ]
}

@test "series are read-only (EACCES) and list as range/ does" {
	run $FSOP write "$V/series/1-2/1" '\n'
	[ "$output" = EACCES ]
	run $FSOP write "$V/events/lat/series/1-2/1/count" '\n'
	[ "$output" = EACCES ]
	run $FSOP open "$V/series/$(now)-/1" w
	[ "$output" = EACCES ]
	run ls "$V/series"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run ls "$V/series/1-5"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run ls "$V"
	[ "$output" = $'events\nrange\nseries\nviews' ]
	echo 1 >>"$V/events/lat/count"
	run ls "$V/events/lat"
	[ "$output" = $'avg\ncount\nmax\nmin\nrange\nseries\nsum' ]
	[ -d "$V/series/1-5" ]
	[ -f "$V/series/1-5/1" ]
	[ -d "$V/events/lat/series/1-5/1" ]
}

@test "<start>- ends at the time of the read, as range/<start>- does" {
	t=$(now)
	printf '@%d\n@%d\n' $((t - 25)) $((t - 5)) >>"$V/views"
	run cat "$V/series/$((t - 30))-/10"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$((t - 30)) 1" ]
	[ "${lines[1]}" = "$((t - 20)) 0" ]
	[ "${lines[2]}" = "$((t - 10)) 1" ]
	n=${#lines[@]}
	# Each line's t is at most the time of the read.
	last=${lines[$((n - 1))]% *}
	((last <= $(now)))
	(($(now) - last < 20))
	# Not yet begun: no line.
	content_is "$V/series/$((t + 1000))-/10" ""
}

# Events over the last three days, at every level; $1 lines on /ingest.
ingest_spread() {
	python3 - "$MNT/ingest" "$(now)" "$1" <<'EOF'
import random, sys
path, now, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(7)
lines = []
for _ in range(n):
    back = r.choice([r.randrange(4000), r.randrange(3 * 86400)])
    lines.append(f"s lat {r.randrange(-1000, 1000)} @{now - back}\n")
with open(path, "a") as f:
    f.write("".join(lines))
EOF
}

# Each line of series $1/$2-$3/$4 reads what range $1/<t>-<t2>[/$5] reads.
# One series read, then a range read per line; exits non-zero on the
# first difference.
series_matches() {
	local dir=$1 a=$2 b=$3 step=$4 fn=${5:-} t want got lines=()
	mapfile -t lines <"$dir/series/$a-$b/$step${fn:+/$fn}" || return 1
	local n=$(((b - a + step - 1) / step))
	if [ "${#lines[@]}" -ne "$n" ]; then
		echo "$dir $a-$b/$step: ${#lines[@]} lines, want $n"
		return 1
	fi
	for ((i = 0; i < n; i++)); do
		t=$((a + i * step))
		t2=$((t + step < b ? t + step : b))
		want=-
		IFS= read -r want <"$dir/range/$t-$t2${fn:+/$fn}" || true
		[ -n "$want" ] || want=-
		got=${lines[$i]}
		if [ "$got" != "$t $want" ]; then
			echo "$dir $a-$b/$step${fn:+/$fn}: line $i is '$got', range reads '$want'"
			return 1
		fi
	done
	CHECKS=$((CHECKS + n))
}

@test "property: each line equals its range file, on random windows and steps" {
	ingest_spread 3000
	RANDOM=11
	CHECKS=0
	t=$(now)
	steps=(1 7 59 60 61 90 300 3599 3600 3601 86400 100000)
	fns=(count sum min max avg)
	deadline=$((SECONDS + 20))
	while ((CHECKS < 400 && SECONDS < deadline)); do
		a=$((t - RANDOM * RANDOM % (3 * 86400 + 600)))
		len=$((1 + RANDOM * RANDOM % 20000))
		if ((RANDOM % 4 == 0)); then len=$((1 + RANDOM % 200)); fi
		step=${steps[$((RANDOM % ${#steps[@]}))]}
		if ((RANDOM % 3 == 0)); then step=$((1 + RANDOM % len)); fi
		while (((len + step - 1) / step > 40)); do step=$((step * 2)); done
		fn=${fns[$((RANDOM % 5))]}
		# A pair of reads that straddles a minute boundary may see the
		# seconds zone move: a real difference shows twice.
		for d in "$MNT/videos/s/events/lat $fn" "$V"; do
			# shellcheck disable=SC2086 # a directory and a function
			set -- $d
			series_matches "$1" "$a" $((a + len)) "$step" "${2:-}" ||
				series_matches "$1" "$a" $((a + len)) "$step" "${2:-}"
		done
	done
	echo "# $CHECKS lines checked" >&3
	((CHECKS >= 400))
}

@test "kill -9 right after the writes: the series after restart counts every acknowledged event" {
	t=$(($(now) - 900))
	python3 - "$V/views" "$t" "$COUNTFS_PID" <<'PY'
import os, signal, sys
path, t, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(300):
    os.write(fd, b"@%d\n" % (t + i))
os.kill(pid, signal.SIGKILL)
PY
	wait_pid "$COUNTFS_PID" 10
	fusermount3 -uz "$MNT" 2>/dev/null || true
	COUNTFS_PID=
	mount_countfs
	content_is "$V/series/$t-$((t + 300))/100" \
		"$t 100"$'\n'"$((t + 100)) 100"$'\n'"$((t + 200)) 100"$'\n'
}

@test "series read while 4 writers append: counts never go back, and end exact" {
	t=$(($(now) - 60))
	pids=()
	for _ in 1 2 3 4; do
		python3 - "$V/views" "$t" <<'PY' &
import os, sys
path, t = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(2000):
    os.write(fd, b"@%d\n" % (t + i % 50))
PY
		pids+=($!)
	done
	prev=0
	for _ in $(seq 100); do
		run cat "$V/series/$t-$((t + 50))/10"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 5 ]
		sum=0
		for l in "${lines[@]}"; do sum=$((sum + ${l#* })); done
		((sum >= prev))
		prev=$sum
	done
	wait_all "${pids[@]}"
	content_is "$V/series/$t-$((t + 50))/10" \
		"$t 1600"$'\n'"$((t + 10)) 1600"$'\n'"$((t + 20)) 1600"$'\n'"$((t + 30)) 1600"$'\n'"$((t + 40)) 1600"$'\n'
	content_is "$V/range/$t-$((t + 50))" $'8000\n'
}
