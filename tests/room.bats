#!/usr/bin/env bats
# The room reserved on disk follows what is stored, not the bytes written.

load helpers/common

teardown() {
	common_teardown
	[ -z "${EXT4:-}" ] || umount "$EXT4" 2>/dev/null || umount -l "$EXT4" 2>/dev/null || true
}

# ext4_image MIB: a fresh ext4 file system of MIB MiB on a loop device,
# mounted on $EXT4 (teardown unmounts it).  ext4, not tmpfs: a failed
# posix_fallocate on ext4 keeps what it allocated.
ext4_image() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount an ext4 loop image"
	command -v mkfs.ext4 >/dev/null || {
		echo "mkfs.ext4 is missing: install e2fsprogs" >&2
		return 1
	}
	truncate -s "${1}M" "$BATS_TEST_TMPDIR/ext4.img"
	mkfs.ext4 -q -F "$BATS_TEST_TMPDIR/ext4.img"
	EXT4=$BATS_TEST_TMPDIR/ext4
	mkdir -p "$EXT4"
	# A container may have no loop devices: say so, rather than fail.
	losetup -f >/dev/null 2>&1 || skip "no free loop device (losetup -f) on this machine"
	mount -o loop "$BATS_TEST_TMPDIR/ext4.img" "$EXT4"
}

avail_kib() { df --output=avail -k "$1" | tail -1; }

# The bytes data.mdb has on disk beyond its size (blocks past EOF).
past_eof() {
	stat -c '%b %B %s' "$1" | awk '{ print $1 * $2 - $3 }'
}

map_bytes() {
	awk '$1 == "countfs_lmdb_map_bytes" { print $2 }' "$MNT/stats"
}

@test "a 1 MiB write of empty lines does not grow the map" {
	mount_countfs shards=1
	before=$(map_bytes)
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
assert os.write(fd, b"\n" * (1 << 20)) == 1 << 20
' "$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'1048576\n'
	after=$(map_bytes)
	echo "map: $before bytes before, $after after"
	[ "$before" -eq $((64 << 20)) ]
	[ "$after" -eq "$before" ]
	size=$(du -k "$DATA/shard-0/data.mdb" | cut -f1)
	echo "data.mdb: $size KiB on disk"
	[ "$size" -le $((65 << 10)) ]
}

# has_reader PID: PID holds a slot in shard 0's reader table (mdb_stat -r
# exits non-zero when it lists any reader: read its output only).
has_reader() {
	{ mdb_stat -r "$DATA/shard-0" || true; } |
		awk -v p="$1" '$1 == p { f = 1 } END { exit !f }'
}

# A process killed inside a read transaction on a live shard (an
# interrupted countfs-backup, a killed mdb_dump) leaves its slot in
# lock.mdb; while it stays, LMDB reuses no page freed since, and the map
# only grows.  The daemon must clear it while running, not only at start.
@test "a reader killed inside its transaction has its slot cleared by the running daemon" {
	command -v mdb_dump >/dev/null || skip "mdb_dump (lmdb-utils) is not installed"
	mount_countfs shards=1
	# Enough records that mdb_dump's output overflows a pipe nobody reads.
	python3 - "$MNT/videos/a/views" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"".join(b"1 #i%d\n" % i for i in range(5000)))
PY
	content_is "$MNT/videos/a/views" $'5000\n'
	# mdb_dump blocks writing, its read transaction open; then kill -9.
	run python3 - "$DATA/shard-0" <<'PY'
import subprocess, sys, time
p = subprocess.Popen(["mdb_dump", "-a", sys.argv[1]], stdout=subprocess.PIPE)
deadline = time.time() + 10
while time.time() < deadline:
    rd = subprocess.run(["mdb_stat", "-r", sys.argv[1]], capture_output=True,
                        text=True).stdout
    if any(l.split()[:1] == [str(p.pid)] for l in rd.splitlines()):
        break
    time.sleep(0.05)
else:
    sys.exit("mdb_dump never showed in the reader table")
p.kill()
p.wait()
print(p.pid)
PY
	[ "$status" -eq 0 ]
	pid=$output
	has_reader "$pid"
	# The background thread looks every 5 s.
	deadline=$((SECONDS + 15))
	while has_reader "$pid"; do
		((SECONDS < deadline))
		sleep 0.2
	done
	grep -q 'shard 0: cleared 1 stale reader slot ' "$LOG"
	echo >>"$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'5001\n'
}

@test "a start that cannot reserve its map gives the disk back" {
	ext4_image 40
	before=$(avail_kib "$EXT4")
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 timeout 30 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -f \
		-o "data=$EXT4/d,shards=1,mapsize=64M"
	echo "$output"
	[[ "$output" = *"shard 0: cannot reserve 64 MiB of disk: No space left on device"* ]]
	after=$(avail_kib "$EXT4")
	echo "free: $before KiB before, $after KiB after"
	[ "$after" -ge $((before - 1024)) ]
}

@test "a map that cannot grow gives back what the attempt took" {
	ext4_image 40
	DATA=$EXT4/data
	mount_countfs shards=1,mapsize=1M
	echo >>"$MNT/videos/keep/views"
	# Fill the disk but 2 MiB, then write distinct videos until it is full.
	dd if=/dev/zero of="$EXT4/ballast" bs=1k count=$(($(avail_kib "$EXT4") - 2048)) 2>/dev/null || true
	run python3 - "$MNT" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1] + "/ingest", os.O_WRONLY | os.O_APPEND)
for b in range(2000):
    try:
        os.write(fd, "".join("f%d_%d views\n" % (b, i) for i in range(500)).encode())
    except OSError as e:
        print(errno.errorcode[e.errno])
        break
PY
	[ "$output" = ENOSPC ]
	grep -q 'cannot reserve .* MiB of disk: No space left on device' "$LOG"
	map=$(map_bytes)
	size=$(stat -c %s "$DATA/shard-0/data.mdb")
	extra=$(past_eof "$DATA/shard-0/data.mdb")
	echo "map $map, data.mdb $size bytes + $extra on disk past its end"
	[ "$size" -eq "$map" ]
	[ "$extra" -le $((256 << 10)) ]
	rm -f "$EXT4/ballast"
	printf 'after views\n' >>"$MNT/ingest"
	content_is "$MNT/videos/after/views" $'1\n'
}

# An event of an existing series copies the leaf page it is on: a write
# naming one series per page needs more room than the bytes it adds.  On
# a disk too full to grow the map, such a write is refused or applied,
# never acknowledged and then left unappliable (every read of its shard
# failing until space is freed).
@test "a write spread over every page of a nearly full map is refused or readable" {
	ext4_image 120
	DATA=$EXT4/data
	mount_countfs shards=1,mapsize=1M
	run python3 - "$MNT" <<'PY'
import os, sys
M = sys.argv[1]
fd = os.open(M + "/ingest", os.O_WRONLY | os.O_APPEND)
def stats():
    return {l.split()[0]: int(l.split()[1]) for l in open(M + "/stats")
            if l.startswith("countfs_lmdb")}
i = 0
while True:  # new series until the map is within 3 MiB of full
    os.write(fd, "".join("v%06d views\n" % j for j in range(i, i + 2000)).encode())
    i += 2000
    open(M + "/videos/v000000/views").read()
    s = stats()
    room = s["countfs_lmdb_map_bytes"] - s["countfs_lmdb_used_bytes"] - s["countfs_lmdb_free_bytes"]
    if i >= 100000 and room < 3 << 20:
        break
print(i)
PY
	[ "$status" -eq 0 ]
	series=$output
	echo "series: $series"
	dd if=/dev/zero of="$EXT4/ballast" bs=1k count=$(($(avail_kib "$EXT4") - 4096)) 2>/dev/null || true
	run python3 - "$MNT" "$series" <<'PY'
import errno, os, sys
M, n = sys.argv[1], int(sys.argv[2])
fd = os.open(M + "/ingest", os.O_WRONLY | os.O_APPEND)
lines = "".join("v%06d views\n" % j for j in range(0, n, 65)[:2500])
try:
    os.write(fd, lines.encode())
    print("written")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
	echo "the write: $output"
	if [ "$output" = written ]; then
		content_is "$MNT/videos/v000065/views" $'2\n'
	else
		[ "$output" = ENOSPC ]
		content_is "$MNT/videos/v000065/views" $'1\n'
	fi
	content_is "$MNT/videos/v000001/views" $'1\n'
	rm -f "$EXT4/ballast"
	printf 'after views\n' >>"$MNT/ingest"
	content_is "$MNT/videos/after/views" $'1\n'
}
