#!/usr/bin/env bats
# The room reserved on disk follows what is stored, not the bytes written.

load helpers/common

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
