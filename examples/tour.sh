#!/bin/sh
# tour.sh - the README's one-minute tour, against a mounted countfs.
#
#   $ ./countfs mnt -o data=data
#   $ examples/tour.sh mnt
#   views of abc: 2 (was 0)
#   views of abc in the last hour: 2
#   load_ms of abc: avg 200, max 250
#   views of xyz: 2 (was 0; a retried #id counts once)
#   videos: abc xyz
#
# Counts add up: run again (or after the README's tour), it adds 2 views
# of abc ("4 (was 2)") and 1 of xyz ("3 (was 2)"): its #retry-7 was sent
# within the dedup window (10 minutes), so neither copy counts again.
set -eu
m=${1:?usage: tour.sh MOUNTPOINT}
now=$(date +%s)
abc=$(cat "$m/videos/abc/views")
xyz=$(cat "$m/videos/xyz/views")

echo >>"$m/videos/abc/views"
echo >>"$m/videos/abc/views"
echo "views of abc: $(cat "$m/videos/abc/views") (was $abc)"
echo "views of abc in the last hour: $(cat "$m/videos/abc/range/$((now - 3600))-")"

echo "250 @$now" >>"$m/videos/abc/events/load_ms/count"
echo "150" >>"$m/videos/abc/events/load_ms/count"
echo "load_ms of abc: avg $(cat "$m/videos/abc/events/load_ms/avg")," \
	"max $(cat "$m/videos/abc/events/load_ms/max")"

printf 'abc likes\nxyz views\nxyz views 1 #retry-7\nxyz views 1 #retry-7\n' >>"$m/ingest"
echo "views of xyz: $(cat "$m/videos/xyz/views") (was $xyz; a retried #id counts once)"
# shellcheck disable=SC2012 # video names are [A-Za-z0-9_.-]: one word each
echo "videos: $(ls "$m/videos" | paste -sd ' ')"
