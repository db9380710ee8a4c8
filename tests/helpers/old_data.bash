# old_data.bash - data directories written by the previous release, 0.4.0
# (data format 1): loaded by tests/upgrade.bats after common.bash, and
# sourced by tests/fixtures/make-data-0.4.0.sh, which makes the committed
# fixture with the same fill.
#
#   build_release_bin COMMIT BIN SCRATCH  build a release's daemon from git
#   build_old_bin SCRATCH  build 0.4.0's daemon from git into $OLD_BIN
#   fixture_begin, fixture_tar  for the makers of the fixtures
#   old_fill               fill $DATA with $OLD_BIN, ending in kill -9
#   journals_hold_records  does $DATA hold journal records to replay?
#   old_counted            the files whose counts old_fill records
#
# The fixture lets the upgrade be tested in a clone without 0.4.0 in its
# history (CI's may be shallow); what needs the old binary itself skips
# there.

OLD_COMMIT=a12c799 # version 0.4.0
OLD_BIN=$ROOT/build/old-$OLD_COMMIT/countfs
# shellcheck disable=SC2034 # used by the files that load this one
OLD_FIXTURE=$ROOT/tests/fixtures/data-0.4.0

# Build the daemon of commit $1 from git (about 30 s) as $2, in the
# directory $3, and keep it in build/ for the next run (make clean removes
# it).  Returns 2 when the commit is not in this clone, 1 when the build
# fails.
build_release_bin() {
	[ -x "$2" ] && return 0
	git -C "$ROOT" cat-file -e "$1^{commit}" 2>/dev/null || return 2
	local src=$3/countfs-$1
	mkdir -p "$src" "$(dirname "$2")"
	git -C "$ROOT" archive "$1" | tar -x -C "$src"
	if ! make -s -C "$src" countfs >"$3/build-$1.log" 2>&1; then
		cat "$3/build-$1.log" >&2
		return 1
	fi
	cp "$src/countfs" "$2.tmp"
	mv "$2.tmp" "$2"
}

# 0.4.0's daemon, built in the directory $1 (see build_release_bin).
build_old_bin() {
	build_release_bin "$OLD_COMMIT" "$OLD_BIN" "$1"
}

# For the makers of fixtures (tests/fixtures/make-data-*.sh): a scratch
# directory $scratch, removed at exit with any daemon left running; the
# daemon of commit $1 (release $2) built as $3, or exit 1 saying why.
fixture_begin() {
	local rc=0
	scratch=$(mktemp -d)
	trap fixture_end EXIT
	build_release_bin "$1" "$3" "$scratch" || rc=$?
	if [ "$rc" = 2 ]; then
		echo "$0: commit $1 ($2) is not in this clone: git fetch --unshallow" >&2
		exit 1
	elif [ "$rc" != 0 ]; then
		echo "$0: building $2 failed" >&2
		exit 1
	fi
}

fixture_end() {
	if [ -n "${COUNTFS_PID:-}" ]; then
		kill -9 "$COUNTFS_PID" 2>/dev/null || true
		fusermount3 -uz "$MNT" 2>/dev/null || true
	fi
	rm -rf "$scratch"
}

# $DATA as the tarball $1.  Each data.mdb is its whole map (fallocated),
# nearly all zeros that gzip takes away.  Owners, times and order fixed,
# so that only the data differ from one run to the next.
fixture_tar() {
	tar -C "$DATA" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-cf - . | gzip -9n >"$1"
}

# The files whose counts old_fill records, relative to the mount.
old_counted() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		echo "videos/v$i/views"
	done
	echo videos/t/events/load_ms/count
	echo videos/t/events/load_ms/avg
	echo videos/r/views
}

# With $OLD_BIN on $DATA (2 shards): 1000 views over 4 videos, typed
# events and retried #ids, unmounted cleanly; then 2000 more views over 8
# videos and kill -9 right after the last write, so that the journals
# still hold records.
old_fill() {
	COUNTFS_BIN=$OLD_BIN mount_countfs shards=2 || return 1
	python3 - "$MNT" <<'EOF' || return 1
import os, sys
m = sys.argv[1]
fds = [os.open(f"{m}/videos/v{i}/views", os.O_WRONLY | os.O_APPEND) for i in range(4)]
for k in range(1000):
    os.write(fds[k % 4], b"\n")
fd = os.open(f"{m}/ingest", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"t load_ms 250\nt load_ms 150\nr views 1 #x\nr views 1 #x\n")
EOF
	unmount_countfs || return 1
	COUNTFS_BIN=$OLD_BIN mount_countfs shards=2 || return 1
	views_then_kill 2000 8
	journals_hold_records
}

# The crash left records in a journal of $DATA (else nothing tests the
# replay).
journals_hold_records() {
	local j
	j=$(find "$DATA" -name 'journal-*' -size +1k | wc -l)
	if [ "$j" = 0 ]; then
		echo "no journal of $DATA holds records: the replay goes untested" >&2
		return 1
	fi
}
