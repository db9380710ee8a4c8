#!/usr/bin/env bats
# Data format 3 (countfs 0.6.0) where a skeptic found it wrong: series
# ids taken out of order in one write, a bucket split between a head and
# the packs database (its overflow unseen), running sums in time order
# rather than line order.  Each test states what the README promises;
# each failed on d5c1eb1.

load helpers/common

# Two video names that fall in the same shard of a 4-shard directory
# (FNV-1a-64 mod 4): "a" and "e".
same_shard_pair() {
	python3 - <<'EOF'
def fnv(s):
    h = 0xcbf29ce484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    return h
assert fnv("a") % 4 == fnv("e") % 4
EOF
}

# README "The line format": an /ingest write of valid lines is recorded;
# "#id": "so a client can retry".  A new series without an #id seen before
# a new series with one, in one write to one shard, failed with EIO
# (log: "recording events: MDB_KEYEXIST"), and so did every retry.
@test "a write naming a new video, then a new video with an #id, in one shard, is recorded" {
	mount_countfs
	same_shard_pair
	run $FSOP write "$MNT/ingest" 'a views\ne views 1 #x\n'
	[[ "$output" = "OK "* ]]
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/e/views" $'1\n'
}

@test "the same with shards=1: any two new series" {
	mount_countfs shards=1
	run $FSOP write "$MNT/ingest" 'b views\na views 1 #x\n'
	[[ "$output" = "OK "* ]]
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/b/views" $'1\n'
}

# README "The line format": "A sum that would pass 64 bits fails with
# EOVERFLOW, also recording nothing ... a write is refused only when a
# bucket's running sum (its second, minute, hour, day or total) would leave
# 64 bits."  A second whose pack was pushed out of a big head (> 1 KiB)
# and then written again in the head accepted a write that took its sum
# past 2^63; from then on every write of the series that started a new
# minute failed with EOVERFLOW, across restarts, and the second read
# EOVERFLOW (d5c1eb1).
@test "a second split between head and packs still refuses an overflow, and the series stays writable" {
	mount_countfs
	m=$(( ($(now) - 600) / 60 * 60 ))
	python3 - "$MNT" "$m" <<'EOF'
import os, sys
mnt, m = sys.argv[1], int(sys.argv[2])
lines = []
for s in range(60):
    lines.append("v x %d @%d" % (2**40, m + s))
    lines.append("v x %d @%d" % (2**40 + 1, m + s))
lines.append("v x 5000000000000000000 @%d" % m)
lines.append("v x -5000000000000000000 @%d" % (m + 1))
fd = os.open(mnt + "/ingest", os.O_WRONLY | os.O_APPEND)
os.write(fd, ("\n".join(lines) + "\n").encode())
EOF
	# Second m now holds 5e18 + 2^41 + 1; another 5e18 cannot fit.
	run $FSOP write "$MNT/ingest" "v x 5000000000000000000 @$m\n"
	[ "$output" = EOVERFLOW ]
	# Whatever the answer above, a small event now must be recorded.
	run $FSOP write "$MNT/videos/v/events/x/count" '1\n'
	[[ "$output" = "OK "* ]]
	content_is "$MNT/videos/v/events/x/range/$m-$((m + 1))/count" $'3\n'
}

# README "The line format": "the lines of a write are added in order, so
# a write is refused only when a bucket's running sum ... would leave 64
# bits".  In line order the minute's running sum below passes 2^63 at the
# second line (0.5.0 refuses it; 0.6.0 at first added the seconds in time
# order and accepted it).
@test "a minute's running sum is taken in line order" {
	mount_countfs
	m=$(( ($(now) - 900) / 60 * 60 ))
	b=9000000000000000000
	run $FSOP write "$MNT/ingest" "A x $b @$((m + 2))\nA x $b @$m\nA x -$b @$((m + 1))\n"
	[ "$output" = EOVERFLOW ]
}
