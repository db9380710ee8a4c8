#!/usr/bin/env bats
# Pre-counted events: "[value] [*n] [@ts] [#id]", n events in one line.

load helpers/common

setup() {
	mount_countfs
	V=$MNT/videos/v
	E=$V/events/lat
}

# metric NAME: the value of the /stats line "NAME VALUE".
metric() {
	awk -v k="$1" '$1 == k { print $2 }' "$MNT/stats"
}

@test "*1000 in views counts 1000 views" {
	echo '*1000' >>"$V/views"
	content_is "$V/views" $'1000\n'
	echo >>"$V/views"
	content_is "$V/views" $'1001\n'
	content_is "$V/events/views/sum" $'1001\n'
	content_is "$V/events/views/min" $'1\n'
	content_is "$V/events/views/max" $'1\n'
}

@test "count, sum, min, max and avg of a type follow n" {
	printf '5 *3\n-2 *2\n7\n' >>"$E/count"
	content_is "$E/count" $'6\n'
	content_is "$E/sum" $'18\n'
	content_is "$E/min" $'-2\n'
	content_is "$E/max" $'7\n'
	content_is "$E/avg" $'3\n'
	# Leading zeros, as in the value and @ts; *1 is one event.
	printf '0 *007\n3 *1\n' >>"$E/count"
	content_is "$E/count" $'14\n'
	content_is "$E/sum" $'21\n'
	content_is "$E/min" $'-2\n'
	content_is "$E/avg" $'1.5\n'
}

@test "/ingest takes *n: a CDN log's lines" {
	t=$(($(now) - 60))
	printf 'abc views *1000\nabc bytes 1500 *1000 @%d\nxyz views *3 #edge1:42\nxyz views *3 #edge1:42\n' "$t" >>"$MNT/ingest"
	content_is "$MNT/videos/abc/views" $'1000\n'
	content_is "$MNT/videos/abc/events/bytes/count" $'1000\n'
	content_is "$MNT/videos/abc/events/bytes/sum" $'1500000\n'
	content_is "$MNT/videos/abc/events/bytes/range/$t-$((t + 1))/count" $'1000\n'
	content_is "$MNT/videos/xyz/views" $'3\n'
}

@test "ranges see the n events at their second" {
	t=$(($(now) - 600))
	printf '4 *10 @%d\n9 *2 @%d\n' "$t" $((t + 1)) >>"$E/count"
	content_is "$E/range/$t-$((t + 1))/count" $'10\n'
	content_is "$E/range/$t-$((t + 1))/sum" $'40\n'
	content_is "$E/range/$((t + 1))-$((t + 2))/count" $'2\n'
	content_is "$E/range/$((t + 1))-$((t + 2))/max" $'9\n'
	content_is "$E/range/$t-$((t + 2))/count" $'12\n'
	content_is "$E/range/$t-$((t + 2))/sum" $'58\n'
	echo "*5 @$t" >>"$V/views"
	content_is "$V/range/$t-$((t + 1))" $'5\n'
	content_is "$V/range/$((t - 1))-$t" $'0\n'
}

@test "#id with *n: the line is deduplicated as one, all of its events or none" {
	# Three writes, one line each: the second and third repeat the id.
	for line in '4 *1000 #req-1' '4 *1000 #req-1' '4 *5 #req-1'; do
		echo "$line" >>"$E/count"
	done
	content_is "$E/count" $'1000\n'
	content_is "$E/sum" $'4000\n'
	[ "$(metric countfs_events_total)" = 1000 ]
	[ "$(metric countfs_events_deduplicated_total)" = 1005 ]
	echo '4 *2 #req-2' >>"$E/count"
	content_is "$E/count" $'1002\n'
}

@test "/stats counts n events for a line of *n" {
	# One write: a run of one type is counted at once.
	run $FSOP write "$V/views" '\n*1000\n'
	[ "$output" = "OK 7" ]
	printf 'v likes 2 *50\n' >>"$MNT/ingest"
	[ "$(metric countfs_events_total)" = 1051 ]
	[ "$(metric countfs_lines_total)" = 3 ]
	grep -qx 'countfs_events_by_type_total{type="views"} 1001' "$MNT/stats"
	grep -qx 'countfs_events_by_type_total{type="likes"} 50' "$MNT/stats"
}

@test "*2^32 of 2^31 - 1 sums exactly to 2^63 - 2^32; of 2^31 it is EOVERFLOW" {
	echo '2147483647 *4294967296' >>"$E/count"
	content_is "$E/count" $'4294967296\n'
	content_is "$E/sum" $'9223372032559808512\n'
	run $FSOP write "$E/count" '2147483648 *4294967296\n'
	[ "$output" = EOVERFLOW ]
	run $FSOP write "$E/count" '2 *4294967296\n'
	[ "$output" = EOVERFLOW ]
	content_is "$E/count" $'4294967296\n'
	content_is "$E/sum" $'9223372032559808512\n'
	grep -q 'write refused (EOVERFLOW)' "$LOG"
	[ "$(metric 'countfs_writes_refused_total{reason="overflow"}')" = 2 ]
	F=$V/events/neg
	echo '-2147483648 *4294967296' >>"$F/count"
	content_is "$F/sum" $'-9223372036854775808\n'
	content_is "$F/min" $'-2147483648\n'
}

@test "an overflow in one line of a write records nothing of the write" {
	# A value the journal would take alone (|value| <= 2^32), on a fresh
	# shard: n * value must send it the direct way to be refused at all.
	run $FSOP write "$E/count" '4294967296 *4294967296\n'
	[ "$output" = EOVERFLOW ]
	run $FSOP write "$E/count" '5 *3\n1\n9223372036854775807 *2\n'
	[ "$output" = EOVERFLOW ]
	content_is "$E/count" $'0\n'
	run $FSOP write "$MNT/ingest" 'a x *3\nb x 4611686018427387904 *2\n'
	[ "$output" = EOVERFLOW ]
	content_is "$MNT/videos/a/events/x/count" $'0\n'
	content_is "$MNT/videos/b/events/x/count" $'0\n'
}

@test "the journal's path and the direct one both apply n" {
	# Journal: no #id, |n * value| <= 2^32.  Direct: an #id, or more.
	for line in '3 *1000' '3 *1000 #d1' '4294967297 *2' '5000000 *1000'; do
		echo "$line" >>"$E/count"
	done
	content_is "$E/count" $'3002\n'
	content_is "$E/sum" $'13589940594\n'
	content_is "$E/max" $'4294967297\n'
}

@test "every invalid *n is EINVAL, records nothing and logs why" {
	# One write per bad form, to a counter file and to /ingest, each
	# after a good line: the outcome of each, one per line.  The log
	# keeps 10 refusals a second (then "N more like this"): the first
	# four forms are the ones looked for there.
	run -0 python3 - "$E/count" "$MNT/ingest" <<'EOF'
import errno, os, sys
bad = ["*0", "*4294967297", "*1x", "5 @1 *2", "*-1", "*", "*+5", "5 *2 *2",
       "5 #i *2", "*2 5", "*00", "* 5", "5 *99999999999999999999"]
for b in bad:
    for path, line in ((sys.argv[1], "1\n%s\n"), (sys.argv[2], "v lat 1\nv lat %s\n")):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line % b).encode())
            print("OK", b)
        except OSError as e:
            print(errno.errorcode[e.errno], b)
        os.close(fd)
EOF
	[ "$(grep -c '^EINVAL ' <<<"$output")" = 26 ]
	[ "${#lines[@]}" = 26 ]
	content_is "$E/count" $'0\n'
	[ "$(metric 'countfs_writes_refused_total{reason="line"}')" = 26 ]
	grep -q 'write refused (EINVAL): \*n must be at least 1: "\*0"' "$LOG"
	grep -q 'write refused (EINVAL): \*n past 2^32 (4294967296): "\*4294967297"' "$LOG"
	grep -q 'write refused (EINVAL): \*n is not \*digits: "\*1x"' "$LOG"
	grep -q 'write refused (EINVAL): expected \[value\] \[\*n\] \[@ts\] \[#id\], in that order: "5 @1 \*2"' "$LOG"
}

@test "ingest=skip drops a bad *n as bad_multiplier and records the rest" {
	unmount_countfs
	mount_countfs ingest=skip
	run $FSOP write "$MNT/ingest" 'a views *2\nb views *0\nc views *4294967297\nd views 5 @1 *2\ne views *4294967296\n'
	[ "$output" = "OK 78" ]
	content_is "$MNT/videos/a/views" $'2\n'
	content_is "$MNT/videos/e/views" $'4294967296\n'
	run -0 ls "$MNT/videos"
	[ "$output" = $'a\ne' ]
	grep -qx 'countfs_ingest_dropped_total{reason="bad_multiplier"} 2' "$MNT/stats"
	grep -qx 'countfs_ingest_dropped_total{reason="bad_fields"} 1' "$MNT/stats"
}

@test "a line split across writes may end inside *n" {
	run $FSOP write "$V/views" '3 *' '1' '2\n*' '0' '7\n'
	[ "$output" = "OK 10" ]
	content_is "$V/views" $'19\n'
	content_is "$V/events/views/sum" $'43\n'
}

@test "kill -9 after acknowledged *n writes: the journal replays n (sync=second)" {
	python3 - "$V/views" "$E/count" <<'EOF'
import os, sys
v = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
e = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
for i in range(200):
    os.write(v, b"*1000\n")
    os.write(e, b"-3 *4294967296\n" if i == 0 else b"7 *%d\n" % i)
EOF
	crash_countfs
	mount_countfs
	content_is "$V/views" $'200000\n'
	content_is "$E/count" $'4294987196\n'
	content_is "$E/sum" $'-12884762588\n'
	content_is "$E/min" $'-3\n'
}
