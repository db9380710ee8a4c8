#!/bin/sh
# live.sh - a video's live count, one line per change, like tail -f:
# the daemon answers each read of follow when the count changes (changes
# within 100 ms come as one), so this loop costs nothing while idle.
#
#   $ examples/live.sh mnt abc
#   14:03:07  abc  1000012 views
#   14:03:08  abc  1000019 views  (+7)
#
# usage: live.sh MOUNTPOINT VIDEO [TYPE]
# With TYPE, the count of that event type (events/TYPE/follow).  Ends at
# Ctrl-C, or when the mount goes away (the read then sees the end of file).
set -eu
m=${1:?usage: live.sh MOUNTPOINT VIDEO [TYPE]}
v=${2:?usage: live.sh MOUNTPOINT VIDEO [TYPE]}
t=${3:-views}
if [ "$t" = views ]; then
	f=$m/videos/$v/follow
else
	f=$m/videos/$v/events/$t/follow
fi
[ -r "$f" ] || { echo "live.sh: cannot read $f" >&2; exit 2; }

last=
while read -r count; do
	if [ -n "$last" ]; then
		printf '%s  %s  %s %s  (+%s)\n' "$(date +%H:%M:%S)" "$v" \
			"$count" "$t" "$((count - last))"
	else
		printf '%s  %s  %s %s\n' "$(date +%H:%M:%S)" "$v" "$count" "$t"
	fi
	last=$count
done <"$f"
