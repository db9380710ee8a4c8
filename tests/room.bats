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
