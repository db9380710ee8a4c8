# data_050.bash - the data directory of 0.5.0 (data format 2) that
# tests/upgrade.bats upgrades, tests/fixtures/data-0.5.0.tar.gz: loaded by
# upgrade.bats after common.bash and old_data.bash, and sourced by
# tests/fixtures/make-data-0.5.0.sh, which makes the fixture.
#
#   fake_clock_build DIR       build the clock shim into DIR
#   fake_clock T DIR           COUNTFS_WRAP runs the daemon with its wall
#                              clock set to T (then running on), the
#                              shim's offset kept in DIR
#   v050_reads FILE            the reads of FILE (QUERY ANSWER lines), made
#                              again on $MNT: diff them with FILE
#
# The daemon that made the fixture ran with its wall clock at $V050_MADE,
# and the tests' daemons run at $V050_NOW, a day later: within the dedup
# window (365d) of the ids it recorded, on any day the tests run.

# shellcheck disable=SC2034 # all used by the files that load this one

V050_COMMIT=bf3072f # version 0.5.0, data format 2
V050_BIN=$ROOT/build/old-$V050_COMMIT/countfs
V050_FIXTURE=$ROOT/tests/fixtures/data-0.5.0
# Every level kept forever, so that nothing of the fixture's first week
# of March 2024 expires; ids remembered for a year; small maps, so that
# the fixture stays small.
V050_OPTS=shards=4,keep_seconds=forever,keep_minutes=forever,keep_hours=forever,keep_days=forever,dedup=365d,mapsize=1M
V050_MADE=1709942400 # 2024-03-09 00:00:00 UTC
V050_NOW=1710028800 # 2024-03-10 00:00:00 UTC

fake_clock_build() {
	FAKECLOCK_SO=$1/fakeclock.so
	cc -shared -fPIC -O2 -o "$FAKECLOCK_SO" "$ROOT/tests/helpers/fakeclock.c" -ldl
}

# The shim sets time() and CLOCK_REALTIME (the monotonic clock is left
# alone); ASan accepts a library loaded before it with
# verify_asan_link_order=0.
fake_clock() {
	echo $(($1 - $(date +%s))) >"$2/fakeclock.offset"
	COUNTFS_WRAP="${COUNTFS_WRAP:-} env COUNTFS_FAKECLOCK=$2/fakeclock.offset LD_PRELOAD=$FAKECLOCK_SO ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0"
}

# The queries of $1 (its first words, each once, in order), answered again
# through $MNT.
v050_reads() {
	awk '!seen[$1]++ { print $1 }' "$1" | python3 "$ROOT/tests/helpers/read_tree.py" "$MNT"
}
