#!/bin/sh
# milestone.sh - wait until a video reaches a number of views, then say so
# (or run a command): one blocked read of when/N, no polling.
#
#   $ examples/milestone.sh mnt abc 1000000 3600 && mail -s 1M ops </dev/null
#   abc reached 1000000 views: 1000012 at 14:03:07
#
# usage: milestone.sh MOUNTPOINT VIDEO N [SECONDS]
# Exits 0 once VIDEO has N views or more, 1 when SECONDS (default: no
# limit) pass first, 2 on a bad argument or an unreadable file.  The read
# costs the daemon no thread while it waits, and Ctrl-C ends it at once.
set -u
m=${1:?usage: milestone.sh MOUNTPOINT VIDEO N [SECONDS]}
v=${2:?usage: milestone.sh MOUNTPOINT VIDEO N [SECONDS]}
n=${3:?usage: milestone.sh MOUNTPOINT VIDEO N [SECONDS]}
limit=${4:-0}

case $n in '' | *[!0-9]*) echo "milestone.sh: N must be a number" >&2; exit 2 ;; esac
case $limit in '' | *[!0-9]*) echo "milestone.sh: SECONDS must be a number" >&2; exit 2 ;; esac

if [ "$limit" -gt 0 ]; then
	count=$(timeout "$limit" cat "$m/videos/$v/when/$n")
else
	count=$(cat "$m/videos/$v/when/$n")
fi
rc=$?
if [ "$rc" = 124 ]; then
	echo "$v: not $n views within $limit seconds" \
		"(now $(cat "$m/videos/$v/views"))" >&2
	exit 1
fi
if [ "$rc" != 0 ] || [ -z "$count" ]; then
	echo "milestone.sh: cannot read $m/videos/$v/when/$n" >&2
	exit 2
fi
echo "$v reached $n views: $count at $(date +%H:%M:%S)"
