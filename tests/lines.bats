#!/usr/bin/env bats
# The line format: [value] [@ts] [#id], split lines, long lines.

load helpers/common

setup() {
	mount_countfs
	E=$MNT/videos/v/events/lat
}

@test "a value is added to sum, and min/max/avg follow it" {
	printf '10\n20\n-3\n' >>"$E/count"
	content_is "$E/count" $'3\n'
	content_is "$E/sum" $'27\n'
	content_is "$E/min" $'-3\n'
	content_is "$E/max" $'20\n'
	content_is "$E/avg" $'9\n'
}

@test "avg is printed with up to 3 decimals" {
	printf '1\n2\n' >>"$E/count"
	content_is "$E/avg" $'1.5\n'
	printf '1\n' >>"$E/count"
	content_is "$E/avg" $'1.333\n'
	printf '2\n2\n' >>"$E/count"
	content_is "$E/avg" $'1.6\n'
	printf -- '-5\n' >>"$E/count"
	content_is "$E/avg" $'0.5\n'
}

@test "with no events count and sum read 0, min max avg read empty" {
	content_is "$E/count" $'0\n'
	content_is "$E/sum" $'0\n'
	reads_empty "$E/min"
	reads_empty "$E/max"
	reads_empty "$E/avg"
}

@test "an empty line is value 1; the largest values are exact" {
	echo >>"$E/count"
	content_is "$E/sum" $'1\n'
	echo 9223372036854775806 >>"$E/count"
	content_is "$E/sum" $'9223372036854775807\n'
	content_is "$E/max" $'9223372036854775806\n'
}

@test "a sum that would overflow is refused and records nothing" {
	echo 9223372036854775807 >>"$E/count"
	run $FSOP write "$E/count" '1\n'
	[ "$output" = EOVERFLOW ]
	content_is "$E/count" $'1\n'
}

@test "writes to sum, min, max and avg record events like count" {
	echo 4 >>"$E/sum"
	echo 6 >>"$E/min"
	echo 8 >>"$E/max"
	echo 2 >>"$E/avg"
	content_is "$E/count" $'4\n'
	content_is "$E/sum" $'20\n'
}

@test "@ts places the event at its own time" {
	t=$(($(now) - 600))
	echo "5 @$t" >>"$E/count"
	content_is "$E/range/$t-$((t + 1))/count" $'1\n'
	content_is "$E/range/$((t + 1))-$((t + 2))/count" $'0\n'
	content_is "$E/range/$t-$((t + 1))/sum" $'5\n'
}

@test "@ts up to 5 minutes ahead is allowed, further is EINVAL" {
	run $FSOP write "$E/count" "@$(($(now) + 290))\n"
	[ "$output" = "OK 12" ]
	run $FSOP write "$E/count" "@$(($(now) + 400))\n"
	[ "$output" = EINVAL ]
	content_is "$E/count" $'1\n'
	grep -q 'more than 5 minutes ahead' "$LOG"
}

@test "@ts before the oldest kept bucket is EINVAL" {
	unmount_countfs
	mount_countfs keep_hours=20d,keep_days=30d
	run $FSOP write "$E/count" "@1000\n"
	[ "$output" = EINVAL ]
	run $FSOP write "$E/count" "@$(($(now) - 20 * 86400))\n"
	[[ "$output" = OK* ]]
	content_is "$E/count" $'1\n'
}

@test "an event id is counted once within the dedup window" {
	# shellcheck disable=SC2129 # one open, write and close each, on purpose
	echo "1 #req-1" >>"$E/count"
	echo "1 #req-1" >>"$E/count"
	echo "1 #req-2" >>"$E/count"
	printf '7 #req-2\n7 #req-3\n7 #req-3\n' >>"$E/count"
	content_is "$E/count" $'3\n'
	content_is "$E/sum" $'9\n'
	grep -q '^countfs_events_deduplicated_total 3$' "$MNT/stats"
}

@test "ids are per video and type" {
	echo "#same" >>"$MNT/videos/a/views"
	echo "#same" >>"$MNT/videos/b/views"
	echo "#same" >>"$MNT/videos/a/events/likes/count"
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/b/views" $'1\n'
	content_is "$MNT/videos/a/events/likes/count" $'1\n'
}

@test "after the dedup window an id counts again" {
	unmount_countfs
	mount_countfs dedup=2s,retain_interval=1s
	echo "#r" >>"$E/count"
	echo "#r" >>"$E/count"
	content_is "$E/count" $'1\n'
	sleep 3
	echo "#r" >>"$E/count"
	content_is "$E/count" $'2\n'
}

@test "a line split across writes is finished by the next write" {
	run $FSOP write "$E/count" '1' '2' '3\n4' '5\n'
	[ "$output" = "OK 7" ]
	content_is "$E/count" $'2\n'
	content_is "$E/sum" $'168\n'
}

@test "an unfinished last line is recorded on close" {
	run $FSOP write "$E/count" '5\n7'
	[ "$output" = "OK 3" ]
	content_is "$E/sum" $'12\n'
	printf '9' >>"$E/count"
	content_is "$E/sum" $'21\n'
}

@test "an invalid unfinished line is logged and not recorded at the last close" {
	# "-" can still become a value ("-5"), so the write is accepted.
	run $FSOP close-after "$E/count" '-'
	[ "$output" = "OK 1" ]
	content_is "$E/count" $'0\n'
	run grep -c 'write refused (EINVAL).*"-"' "$LOG"
	[ "$output" = 1 ]
}

@test "a dup'd fd or a forked child's exit does not finish the line" {
	# bash forks for /bin/true: the child's exit closes its copy of fd 7
	# (fd 3 is bats' own).
	exec 7>>"$E/count"
	printf 25 >&7
	/bin/true
	printf '0\n' >&7
	exec 4>&7
	printf 1 >&7
	exec 8>&-
	printf '2\n' >&7
	exec 7>&-
	content_is "$E/count" $'2\n'
	content_is "$E/sum" $'262\n'
}

@test "the unfinished line is recorded at the last close, seen by the next read" {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf '%s' "$i" >>"$E/count"
		content_is "$E/count" "$i"$'\n'
	done
	content_is "$E/sum" $'55\n'
}

@test "a writer killed by a signal leaves its unfinished line unrecorded" {
	run python3 -c '
import os, signal, sys
pid = os.fork()
if pid == 0:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"7\n1000")
    os.kill(os.getpid(), signal.SIGKILL)
os.waitpid(pid, 0)
print("reaped")
' "$E/count"
	[ "$output" = reaped ]
	content_is "$E/sum" $'7\n'
	content_is "$E/count" $'1\n'
	run grep -c 'unfinished line (4 bytes, no newline) of a writer killed by a signal was not recorded' "$LOG"
	[ "$output" = 1 ]
	run grep -x 'countfs_writes_refused_total{reason="killed"} 1' "$MNT/stats"
	[ "$status" = 0 ]
}

@test "a line of 4096 bytes is accepted with a CRLF ending, in one write or split" {
	long=$(printf ' %.0s' {1..4095})
	run $FSOP write "$E/count" "${long}5\r\n"
	[ "$output" = "OK 4098" ]
	run $FSOP write "$E/count" "${long}6\r" '\n'
	[ "$output" = "OK 4098" ]
	run $FSOP write "$E/count" " ${long}6\r\n"
	[ "$output" = EINVAL ]
	content_is "$E/sum" $'11\n'
}

@test "a line over 4 KiB is EINVAL, 4 KiB exactly is fine" {
	long=$(printf ' %.0s' {1..4097})
	run $FSOP write "$E/count" "$long\n"
	[ "$output" = EINVAL ]
	run $FSOP write "$E/count" "${long:1}\n"
	[ "$output" = "OK 4097" ]
	content_is "$E/count" $'1\n'
	grep -q 'line longer than 4096 bytes' "$LOG"
}

@test "an unfinished line growing past 4 KiB is refused at once" {
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"1" + b" " * 2999)
try:
    os.write(fd, b" " * 2000)
    print("accepted")
except OSError as e:
    print(e.errno == 22)
' "$E/count"
	[ "$output" = True ]
}

@test "malformed fields are EINVAL" {
	for bad in '1.5' 'abc' '1 2' '@' '@x' '@-1' '#' '#a/b' '#a @1' '@1 5' \
		'99999999999999999999' "#$(printf 'i%.0s' {1..65})" ; do
		run $FSOP write "$E/count" "$bad\n"
		[ "$output" = EINVAL ] || { echo "accepted: $bad"; false; }
	done
	content_is "$E/count" $'0\n'
}

@test "NUL and non-ASCII bytes are EINVAL" {
	run $FSOP write "$E/count" '1\x00\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$E/count" '\xff\n'
	[ "$output" = EINVAL ]
	content_is "$E/count" $'0\n'
}
