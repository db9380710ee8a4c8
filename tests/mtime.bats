#!/usr/bin/env bats
# Files tools can follow: a counter's mtime is the time of its last
# change, kept across restarts; /stats's is the time it is looked at.
# The kernel keeps attributes for 1 s (attr_timeout), so a check that a
# time did NOT move waits past that first.

load helpers/common

mtime() { stat -c %Y -- "$1"; }

# Sleep into the next second at least (mtimes are whole seconds).
next_second() { sleep 1.1; }

@test "a write moves the counter's mtime, a read does not" {
	mount_countfs
	started=$(mtime "$MNT/videos/a/views") # never written: mount time
	next_second
	before=$(now)
	echo >>"$MNT/videos/a/views"
	t1=$(mtime "$MNT/videos/a/views")
	echo "mount $started, before $before, after the write $t1"
	[ "$t1" -ge "$before" ]
	[ "$t1" -le "$(now)" ]
	# ctime moves with it; the per-type files of the series too.
	[ "$(stat -c %Z "$MNT/videos/a/views")" = "$t1" ]
	[ "$(mtime "$MNT/videos/a/events/views/count")" = "$t1" ]
	next_second
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/a/events/views/avg" $'1\n'
	next_second
	[ "$(mtime "$MNT/videos/a/views")" = "$t1" ]
	echo 3 >>"$MNT/videos/a/views"
	t2=$(mtime "$MNT/videos/a/views")
	echo "after the second write $t2"
	[ "$t2" -gt "$t1" ]
}

@test "a write whose events were all duplicates does not move the mtime" {
	mount_countfs
	echo '#e1' >>"$MNT/videos/a/views"
	t1=$(mtime "$MNT/videos/a/views")
	next_second
	next_second
	echo '#e1' >>"$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'1\n'
	[ "$(mtime "$MNT/videos/a/views")" = "$t1" ]
}

@test "the mtime survives a clean restart and a kill -9" {
	mount_countfs
	echo >>"$MNT/videos/a/views"
	ta=$(mtime "$MNT/videos/a/views")
	next_second
	unmount_countfs
	next_second
	mount_countfs
	[ "$(mtime "$MNT/videos/a/views")" = "$ta" ]
	# Through the journal: written, then killed before an apply.
	next_second
	echo >>"$MNT/videos/b/views"
	crash_countfs
	next_second
	mount_countfs
	tb=$(mtime "$MNT/videos/b/views")
	echo "a $ta, b $tb, now $(now)"
	[ "$tb" -gt "$ta" ]
	[ "$tb" -lt "$(now)" ]
	content_is "$MNT/videos/b/views" $'1\n'
}

@test "find -newer sees the changed counter only" {
	mount_countfs
	printf 'a views\nb views\nb likes\n' >>"$MNT/ingest"
	next_second
	touch "$BATS_TEST_TMPDIR/ref"
	next_second
	echo >>"$MNT/videos/b/views"
	run find "$MNT/videos" -newer "$BATS_TEST_TMPDIR/ref" -type f
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"$MNT/videos/b/views"* ]]
	[[ "$output" == *"$MNT/videos/b/events/views/count"* ]]
	[[ "$output" != *"/videos/a/"* ]]
	[[ "$output" != *"/events/likes/"* ]]
}

@test "a video's directory carries the latest change of its series" {
	mount_countfs
	echo >>"$MNT/videos/a/events/likes/count"
	# The file's: a write refreshes its attributes in the kernel, while
	# the directory's may be the ones its lookup cached (for up to 1 s)
	# before the series existed.
	tl=$(mtime "$MNT/videos/a/events/likes/count")
	next_second
	next_second
	echo >>"$MNT/videos/a/views"
	tv=$(mtime "$MNT/videos/a/views")
	next_second
	[ "$tv" -gt "$tl" ]
	[ "$(mtime "$MNT/videos/a")" = "$tv" ]
	[ "$(mtime "$MNT/videos/a/events")" = "$tv" ]
	[ "$(mtime "$MNT/videos/a/events/likes")" = "$tl" ]
}

@test "/stats's mtime is the time it is looked at" {
	mount_countfs
	sleep 2.2
	t=$(mtime "$MNT/stats")
	n=$(now)
	echo "stats $t, now $n"
	[ "$t" -ge $((n - 1)) ]
	[ "$t" -le "$n" ]
}
