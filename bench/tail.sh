#!/usr/bin/env bash
# bench/tail.sh scale|steady - the long tail, measured on the daemon as a
# black box (its files and /stats only).
#
# scale (`make bench-scale`, SCALE_MAX=10000000): for N = 10k, 100k, 1M,
#   10M videos (up to SCALE_MAX), on a new data directory: every video
#   once in random order (the tail: N series exist), then N Zipf(0.8)
#   arrivals over the same videos (2N events; Zipf(0.8) alone would leave
#   ~40 % of the videos unseen at 2N events and ~4 % even at 10N).  Then
#   LMDB bytes per series and per event, the p99 of reads of `views` and of
#   1-hour and 30-day ranges (pread on 1,000 open files of random videos,
#   the median of 3 runs of 2 s),
#   `ls videos | wc -l`, and two restarts: after an unmount, and after a
#   kill -9 that leaves a journal to replay; each is timed until a counter
#   reads.  Writes bench/scale.md and bench/scale.png.
# steady (`make bench-steady`, STEADY_SECONDS=900): 100,000 events/s in
#   real time, evenly over 1M videos, through /ingest, with
#   keep_seconds=5m; each minute the events sent, the journal backlog, LMDB
#   bytes in use and the daemon's anonymous RSS.  Writes bench/steady.md.
#
# QUICK=1 shrinks both to seconds (CI) and leaves bench/*.md as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
# shellcheck source=bench/lib.sh
. bench/lib.sh

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# start_daemon NAME DATA [OPTIONS]: mount countfs at $T/NAME.
start_daemon() {
	mount_fs "$1" "$ROOT/countfs" -o "data=$2${3:+,$3}"
}

# restart NAME DATA: start countfs on DATA at $T/NAME; RESTART_S is the
# seconds until a counter of it reads.
restart() {
	local t0=$EPOCHREALTIME
	spawn_fs "$1" "$ROOT/countfs" -o "data=$2"
	$LOAD waitread "$T/$1/videos/v0/views" 600 "$t0" >"$T/waitread"
	RESTART_S=$(value secs <"$T/waitread")
}

machine() {
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
		"$(uname -sr), countfs $("$ROOT/countfs" --version 2>&1 | awk 'NR == 1 { print $2 }');" \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) when it ended (other work on the machine shows there)."
}

# ---- scale ------------------------------------------------------------

# reads NAME N FILE: the median p99 of $RUNS runs of reads of FILE of
# 1,000 random videos among N (the other 1 % is where a busy machine
# shows).  "zeros=": reads of 0, videos that were never recorded.
reads() {
	local out p99s="" zeros=0
	for _ in $(seq "$RUNS"); do
		out=$($LOAD readrand "$SECS" "$T/$1" "$2" 1000 "$3")
		p99s+="$(value p99 <<<"$out")"$'\n'
		zeros=$((zeros + $(value zeros <<<"$out")))
	done
	echo "p99=$(printf '%s' "$p99s" | med) zeros=$zeros"
}

# scale_one N: one row of the curve, "|"-separated.
scale_one() {
	local n=$1 m=s$1 d=$T/data_s$1 t0 created zipf used series end
	local pv p1h p30d ls_s lsn restart_s backlog kill_restart
	t0=$(now)
	start_daemon "$m" "$d"
	created=$($LOAD feed "$T/$m" "$n" "$n" even)
	zipf=$($LOAD feed "$T/$m" "$n" "$n" 0.8)
	used=$(value used <<<"$zipf")
	series=$n
	sync # the pages LMDB wrote go to disk before the reads are timed
	end=$(date +%s)
	pv=$(reads "$m" "$n" views)
	p1h=$(reads "$m" "$n" "range/$((end - 3600))-")
	p30d=$(reads "$m" "$n" "range/$((end - 30 * 86400))-")
	for r in "$pv" "$p1h" "$p30d"; do
		[ "$(value zeros <<<"$r")" = 0 ] || echo "warning: N=$n: a video read 0: $r" >&2
	done
	ls_s=$(now)
	# shellcheck disable=SC2012 # the command a user types is what is timed
	lsn=$(ls "$T/$m/videos" | wc -l)
	ls_s=$(since "$ls_s")
	[ "$lsn" = "$n" ] || echo "warning: N=$n: ls videos lists $lsn" >&2

	unmount_fs "$m" "$MOUNT_PID"
	restart "$m" "$d"
	restart_s=$RESTART_S

	# A second of Zipf writes, then kill -9: the journal holds what LMDB
	# has not applied yet, and the next start replays it.
	$LOAD ingest 1 "$T/$m" "$n" 0.8 >/dev/null
	backlog=$(stat_of "$T/$m" countfs_journal_events)
	kill -9 "$MOUNT_PID"
	wait "$MOUNT_PID" 2>/dev/null || true
	fusermount3 -uz "$T/$m"
	forget_mount "$m"
	restart "$m" "$d"
	kill_restart=$RESTART_S
	unmount_fs "$m" "$MOUNT_PID"
	rm -rf "$d"

	printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$n" "$((2 * n))" \
		"$(value rate <<<"$created")" "$(value rate <<<"$zipf")" \
		"$((used / series))" "$((used / (2 * n)))" \
		"$(value p99 <<<"$pv")" "$(value p99 <<<"$p1h")" "$(value p99 <<<"$p30d")" \
		"$ls_s" "$restart_s" "$kill_restart" "$backlog" "$(since "$t0")"
}

scale() {
	local sizes="10000 100000 1000000 10000000" rows=$T/scale_rows out=$ROOT/bench/scale.md
	local max=${SCALE_MAX:-10000000}
	SECS=2 RUNS=3
	if [ "$QUICK" = 1 ]; then sizes="1000 10000" max=10000 SECS=0.3 RUNS=1; fi
	: >"$rows"
	local header="| videos N | events | create events/s | Zipf(0.8) events/s | LMDB bytes/series | bytes/event | views p99 us | 1 h range p99 us | 30 d range p99 us | ls videos s | restart s | restart after kill -9 s | journal at kill -9 (events) | wall s |"
	echo "$header"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for n in $sizes; do
		[ "$n" -le "$max" ] || continue
		scale_one "$n" | tee -a "$rows" | sed 's/|/ | /g; s/^/| /; s/$/ |/'
	done
	{
		echo "# countfs scale curve"
		echo
		echo "Run $(date -u +%FT%TZ) by \`make bench-scale$([ "$QUICK" = 1 ] && echo ' QUICK=1')\`" \
			"(bench/tail.sh: each N on a new data directory; N events on every video once, then N Zipf(0.8) arrivals)."
		machine
		echo
		echo "$header"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		sed 's/|/ | /g; s/^/| /; s/$/ |/' "$rows"
	} >"$T/scale.md"
	if [ "$QUICK" = 1 ]; then
		echo "(QUICK: bench/scale.md and bench/scale.png left as they were)"
		plot "$rows" "$T/scale.png"
	else
		mv "$T/scale.md" "$out"
		plot "$rows" "$ROOT/bench/scale.png"
		echo "wrote $out and bench/scale.png"
	fi
}

# plot ROWS PNG: ingest rates and read p99s against N, log x.
plot() {
	tr '|' ' ' <"$1" >"$T/scale.dat"
	gnuplot <<EOF
set terminal pngcairo size 900,700 noenhanced
set output "$2"
set multiplot layout 2,1 title "countfs: the scale curve (N videos, 2N events)"
set logscale x
set grid
set key left bottom
set xlabel "videos N"
set ylabel "events/s"
set yrange [0:*]
plot "$T/scale.dat" using 1:4 with linespoints title "ingest, Zipf(0.8) arrivals", \
     "$T/scale.dat" using 1:3 with linespoints title "ingest, every video once (new series)"
set ylabel "read p99 (us)"
plot "$T/scale.dat" using 1:7 with linespoints title "views", \
     "$T/scale.dat" using 1:8 with linespoints title "1-hour range", \
     "$T/scale.dat" using 1:9 with linespoints title "30-day range"
unset multiplot
EOF
}

# ---- steady -----------------------------------------------------------

steady() {
	local secs=${STEADY_SECONDS:-900} rate=100000 videos=1000000 every=60
	local rows=$T/steady_rows out=$ROOT/bench/steady.md lpid line
	if [ "$QUICK" = 1 ]; then secs=4 every=1 videos=100000; fi
	start_daemon st "$T/data_st" keep_seconds=5m
	local dpid=$MOUNT_PID
	local header="| seconds | events sent | behind (due, not sent) | journal backlog (events) | LMDB MiB in use | RSS anon MiB |"
	echo "== steady: $rate events/s over $videos videos for ${secs}s, keep_seconds=5m"
	echo "$header"
	echo "|---|---|---|---|---|---|"
	: >"$rows"
	$LOAD steady "$secs" "$rate" "$T/st" "$videos" "$every" >"$T/steady.out" 2>"$T/steady.err" &
	lpid=$!
	local seen=0
	# sample: one row for each progress line not yet shown.
	sample() {
		while line=$(awk -v k=$((seen + 1)) '/^progress/ && ++i == k' "$T/steady.err") && [ -n "$line" ]; do
			seen=$((seen + 1))
			printf '%s|%s|%s|%s|%s|%s\n' "$(value t <<<"$line")" "$(value sent <<<"$line")" \
				"$(value behind <<<"$line")" "$(stat_of "$T/st" countfs_journal_events)" \
				"$(awk -v b="$(stat_of "$T/st" countfs_lmdb_used_bytes)" 'BEGIN { printf "%.0f", b / 1048576 }')" \
				"$(awk '/^RssAnon/ { printf "%.0f", $2 / 1024 }' "/proc/$dpid/status")" |
				tee -a "$rows" | sed 's/|/ | /g; s/^/| /; s/$/ |/'
		done
	}
	while kill -0 "$lpid" 2>/dev/null; do
		sleep 0.2
		sample
	done
	wait "$lpid"
	sample
	local sent max_backlog max_behind pace
	sent=$(value events <"$T/steady.out")
	max_backlog=$(cut -d'|' -f4 "$rows" | sort -g | tail -1)
	max_behind=$(cut -d'|' -f3 "$rows" | sort -g | tail -1)
	pace=no
	awk -v s="$sent" -v due="$((secs * rate))" 'BEGIN { exit !(s >= 0.99 * due) }' && pace=yes
	local verdict="kept pace: $pace (sent $sent events of $((secs * rate)) due; at most ${max_behind:-?} events behind and ${max_backlog:-?} in the journal at a sample)"
	echo "$verdict"
	[ "$QUICK" = 1 ] && { echo "(QUICK: bench/steady.md left as it was)"; return 0; }
	{
		echo "# countfs steady state"
		echo
		echo "Run $(date -u +%FT%TZ) by \`make bench-steady\` (bench/tail.sh): $rate events/s in real time," \
			"evenly over $videos videos, through /ingest, for ${secs}s, \`-o keep_seconds=5m\`."
		machine
		echo
		echo "$header"
		echo "|---|---|---|---|---|---|"
		sed 's/|/ | /g; s/^/| /; s/$/ |/' "$rows"
		echo
		echo "$verdict."
	} >"$out"
	echo "wrote $out"
}

case ${1:-} in
scale) scale ;;
steady) steady ;;
*)
	echo "usage: bench/tail.sh scale|steady" >&2
	exit 2
	;;
esac
