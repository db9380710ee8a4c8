#!/usr/bin/env bats
# Edge cases of unfinished lines, long lines and writes over several
# shards, found by attacking part 6's fixes.  Each failed on the code it
# was written against.

load helpers/common

@test "a multi-shard /ingest write that must grow a small map does not crash the daemon" {
	mount_countfs mapsize=1M
	# Values beyond 2^32 send each write through record_atomic(); 50 new
	# videos per write spread over every shard and soon fill a 1 MiB map.
	run -0 timeout 120 python3 - "$MNT" <<'EOF'
import os, sys
m = sys.argv[1]
fd = os.open(m + "/ingest", os.O_WRONLY | os.O_APPEND)
for it in range(1000):
    lines = "".join("r%d views 5000000000\n" % (it * 50 + j) for j in range(50))
    os.write(fd, lines.encode())
os.close(fd)
EOF
	content_is "$MNT/videos/r0/views" $'1\n'
	content_is "$MNT/videos/r49999/views" $'1\n'
	grep -c . "$MNT/stats" >/dev/null
}

# A write with #ids over several shards is all or nothing: one
# transaction per shard, each nested in the one before (commit.c).  On a
# 1 MiB map every shard must grow inside it, and a shard whose commit
# finds its map full runs again without the parts already committed.
@test "multi-shard #id writes that grow every shard's map count once, and once again when repeated" {
	mount_countfs mapsize=1M
	run -0 timeout 180 python3 - "$MNT" <<'EOF'
import os, sys
m = sys.argv[1]
fd = os.open(m + "/ingest", os.O_WRONLY | os.O_APPEND)
for rep in range(2):
    for it in range(1500):
        lines = "".join("a%d views #e%d\n" % (it * 40 + j, j) for j in range(40))
        assert os.write(fd, lines.encode()) == len(lines)
os.close(fd)
EOF
	content_is "$MNT/videos/a0/views" $'1\n'
	content_is "$MNT/videos/a59999/views" $'1\n'
	run -0 python3 -c '
import sys
m = sys.argv[1]
print(sum(int(open("%s/videos/a%d/views" % (m, i)).read()) for i in range(60000)))
' "$MNT"
	[ "$output" = 60000 ]
	grows=$(awk '$1 == "countfs_map_grows_total" { print $2 }' "$MNT/stats")
	dedup=$(awk '$1 == "countfs_events_deduplicated_total" { print $2 }' "$MNT/stats")
	echo "map grown $grows times; $dedup events deduplicated"
	[ "$grows" -ge 4 ]
	[ "$dedup" = 60000 ]
}

@test "a forked child killed by a signal does not drop the line its parent wrote" {
	mount_countfs
	# The parent writes "5" (no newline), forks a child that writes
	# nothing, the child is killed, and the parent closes normally: the
	# writer of the line exited normally, so the line is recorded.
	run -0 timeout 30 python3 - "$MNT" <<'EOF'
import os, signal, sys, time
m = sys.argv[1]
fd = os.open(m + "/videos/b/views", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"5")
pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
os.close(fd)
EOF
	content_is "$MNT/videos/b/events/views/sum" $'5\n'
}

@test "the rest of a refused over-long line is not counted as an event" {
	mount_countfs
	run -0 timeout 30 python3 - "$MNT" <<'EOF'
import errno, os, sys
m = sys.argv[1]
fd = os.open(m + "/videos/l/views", os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"x" * 5000)  # no newline yet: the line is over 4096
    sys.exit("the over-long tail was accepted")
except OSError as e:
    assert e.errno == errno.EINVAL
try:
    os.write(fd, b"\n")  # the end of that same over-long line
except OSError as e:
    assert e.errno == errno.EINVAL
os.close(fd)
EOF
	content_is "$MNT/videos/l/views" $'0\n'
}

@test "two lines whose running sum fits are not EOVERFLOW because they share a write" {
	mount_countfs
	V=$MNT/videos/q/views
	# Every bucket of second T (and the total) holds -2^63, then
	# + (2^63-1) = -1, then + (2^63-1) = 2^63-2: each running sum fits,
	# though the two lines folded together (2^64-2) would not.
	t=$(($(now) - 10))
	printf -- "-9223372036854775808 @%d\n" "$t" >>"$V"
	run -0 python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
t = int(sys.argv[2])
os.write(fd, b"9223372036854775807 @%d\n9223372036854775807 @%d\n" % (t, t))' "$V" "$t"
	content_is "$MNT/videos/q/events/views/sum" $'9223372036854775806\n'
	content_is "$MNT/videos/q/events/views/range/$t-$((t + 1))/sum" $'9223372036854775806\n'
}

@test "the accepted start of a line that then grows past 4096 bytes is not recorded" {
	mount_countfs
	run -0 timeout 30 python3 - "$MNT" <<'EOF2'
import errno, os, sys
m = sys.argv[1]
fd = os.open(m + "/videos/p/views", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"7" + b" " * 3000)  # a valid start, kept as the tail
try:
    os.write(fd, b" " * 1200)  # the line is now over 4096: EINVAL
    sys.exit("a line over 4096 bytes was accepted")
except OSError as e:
    assert e.errno == errno.EINVAL
try:
    os.write(fd, b"\n")  # the end of that over-long line
except OSError as e:
    assert e.errno == errno.EINVAL
os.close(fd)
EOF2
	content_is "$MNT/videos/p/events/views/sum" $'0\n'
}

@test "an /ingest fd's unfinished line held open by a dup'd fd does not stall reads of other videos" {
	mount_countfs
	echo >>"$MNT/videos/other/views"
	run -0 timeout 60 python3 - "$MNT" <<'EOF3'
import os, sys, time
m = sys.argv[1]
fd = os.open(m + "/ingest", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"busy views 5")
worst = 0.0
for i in range(20):
    os.close(os.dup(fd))  # a copy closed: a flush with the line pending
    t = time.monotonic()
    with open(m + "/videos/other/views") as f:
        assert f.read() == "1\n"
    worst = max(worst, time.monotonic() - t)
print("worst %.1f ms" % (worst * 1000))
assert worst < 0.030, worst
os.write(fd, b"\n")
os.close(fd)
EOF3
	content_is "$MNT/videos/busy/events/views/sum" $'5\n'
}

@test "a read of the fd that holds the unfinished line does not wait for itself" {
	mount_countfs
	run -0 timeout 60 python3 - "$MNT/videos/self/views" <<'EOF4'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
os.write(fd, b"5")
os.close(os.dup(fd))
t = time.monotonic()
assert os.pread(fd, 64, 0) == b"0\n"
took = time.monotonic() - t
print("took %.1f ms" % (took * 1000))
assert took < 0.030, took
os.close(fd)
EOF4
	content_is "$MNT/videos/self/events/views/sum" $'5\n'
}

@test "an unfinished line that cannot become valid is refused at once; the fd goes on" {
	mount_countfs
	run -0 timeout 30 python3 - "$MNT/videos/bad/views" <<'EOF5'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"1")
for bad in (b"x", b"2\n3x"):
    try:
        os.write(fd, bad)
        sys.exit("accepted %r" % bad)
    except OSError as e:
        assert e.errno == errno.EINVAL
os.write(fd, b"2\n4\n")
os.close(fd)
EOF5
	content_is "$MNT/videos/bad/events/views/sum" $'16\n'
	grep -q 'an unfinished line that cannot become valid: "1x"' "$LOG"
}
