#!/usr/bin/env bats
# Replication to two MariaDB shards from two hosts, and /global.

load helpers/common
load helpers/mysql

setup_file() {
	start_shards
}

teardown_file() {
	stop_shards
}

setup() {
	CNF=$BATS_TEST_TMPDIR/shards.cnf
	write_option_file "$CNF"
	# Each test starts from empty tables.
	for i in 0 1; do
		sql $i "DROP TABLE IF EXISTS countfs_minutes, countfs_totals"
	done
}

teardown() {
	shards_teardown
}

both() {
	mount_countfs "host=a,mysql=$CNF,global_cache=0"
	mount_b "host=b,mysql=$CNF,global_cache=0"
}

# global FILE WANT: /global/FILE reads WANT on both mounts.
global_is() {
	[ "$(cat "$MNT/global/$1" 2>/dev/null)" = "$2" ] &&
		[ "$(cat "$MNT_B/global/$1" 2>/dev/null)" = "$2" ]
}

write_views() { # MOUNT VIDEO N
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[2])):
    os.write(fd, b"\n")
' "$1/videos/$2/views" "$3"
}

@test "global views are the exact sum over both hosts, on either mount" {
	both
	for v in 0 1 2 3 4 5 6 7; do
		write_views "$MNT" "vid$v" $((v + 1))
		write_views "$MNT_B" "vid$v" 10
	done
	printf 'vid1 likes 4\nvid1 likes 6\n' >>"$MNT/ingest"
	echo 7 >>"$MNT_B/videos/vid1/events/likes/count"
	for v in 0 1 2 3 4 5 6 7; do
		eventually 15 global_is "videos/vid$v/views" $((v + 11))
	done
	eventually 5 global_is videos/vid1/events/likes/sum 17
	global_is videos/vid1/events/likes/count 3
	global_is videos/vid1/events/likes/min 4
	global_is videos/vid1/events/likes/max 7
	global_is videos/vid1/events/likes/avg 5.667
	run -0 ls "$MNT/global/videos"
	[ "$output" = $'vid0\nvid1\nvid2\nvid3\nvid4\nvid5\nvid6\nvid7' ]
	run -0 ls "$MNT/global/videos/vid1/events"
	[ "$output" = $'likes\nviews' ]
	content_is "$MNT/global/videos/never/views" $'0\n'
}

@test "global ranges equal the sum of both hosts' minute-aligned ranges" {
	both
	m=$(( ($(now) - 600) / 60 * 60 ))
	printf '@%d\n@%d\n@%d\n' $((m + 1)) $((m + 61)) $((m + 130)) >>"$MNT/videos/r/views"
	printf '@%d\n@%d\n' $((m + 59)) $((m + 125)) >>"$MNT_B/videos/r/views"
	eventually 15 global_is videos/r/views 5
	for w in "$m-$((m + 60))" "$m-$((m + 120))" "$((m + 60))-$((m + 180))" "$m-"; do
		a=$(cat "$MNT/videos/r/range/$w")
		b=$(cat "$MNT_B/videos/r/range/$w")
		g=$(cat "$MNT/global/videos/r/range/$w")
		echo "$w: a=$a b=$b global=$g"
		[ "$g" = $((a + b)) ]
	done
	content_is "$MNT/global/videos/r/range/$m-$((m + 120))" $'3\n'
	content_is "$MNT/global/videos/r/events/views/range/$m-$((m + 60))/count" $'2\n'
}

@test "each video's rows live on one shard only, and both shards are used" {
	both
	for v in $(seq 1 20); do echo >>"$MNT/videos/p$v/views"; done
	eventually 15 global_is videos/p20/views 1
	eventually 15 global_is videos/p1/views 1
	s0=$(sql 0 "SELECT DISTINCT video FROM countfs_totals" | sort)
	s1=$(sql 1 "SELECT DISTINCT video FROM countfs_totals" | sort)
	[ -n "$s0" ]
	[ -n "$s1" ]
	both=$(comm -12 <(echo "$s0") <(echo "$s1"))
	[ -z "$both" ]
	[ "$(printf '%s\n%s\n' "$s0" "$s1" | wc -l)" = 20 ]
	[ "$(sql 0 "SELECT DISTINCT host FROM countfs_totals")" = a ]
}

@test "a shard outage: writes keep succeeding, counts become exact after" {
	both
	write_views "$MNT" o1 1
	eventually 15 global_is videos/o1/views 1
	sh "$MARIADB_SH" stop "$BATS_FILE_TMPDIR/db0"
	sh "$MARIADB_SH" stop "$BATS_FILE_TMPDIR/db1"
	for v in o1 o2 o3 o4; do
		write_views "$MNT" $v 50
		write_views "$MNT_B" $v 25
	done
	# /global fails fast with a clear errno instead of hanging.
	run timeout 20 python3 "$ROOT/tests/helpers/fsop.py" read "$MNT/global/videos/o2/views"
	[[ "$output" = EHOSTUNREACH || "$output" = EIO ]]
	grep -Eq '^countfs_repl_lag_seconds\{shard="[01]"\} [0-9]+' "$MNT/stats"
	restart_shard 0
	restart_shard 1
	eventually 30 global_is videos/o1/views 76
	for v in o2 o3 o4; do eventually 15 global_is videos/$v/views 75; done
	grep -Eq '^countfs_repl_push_errors_total\{shard="0"\} [1-9]' "$MNT/stats"
}

@test "kill -9 while replicating, restart: global counts exact" {
	both
	for _ in 1 2 3; do
		write_views "$MNT" k 100 &
		w=$!
		sleep 0.3
		crash_countfs
		wait "$w" || true
		mount_countfs "host=a,mysql=$CNF,global_cache=0"
	done
	local_a=$(cat "$MNT/videos/k/views")
	write_views "$MNT_B" k 10
	eventually 20 global_is videos/k/views $((local_a + 10))
}

@test "a restart resends nothing already in MySQL" {
	both
	write_views "$MNT" z 30
	eventually 15 global_is videos/z/views 30
	eventually 10 replicated "$MNT"
	unmount_countfs
	mount_countfs "host=a,mysql=$CNF,global_cache=0"
	sleep 1
	grep -q '^countfs_repl_rows_pushed_total{shard="[01]"} 0$' "$MNT/stats"
	run -1 grep -Eq '^countfs_repl_rows_pushed_total\{shard="[01]"\} [1-9]' "$MNT/stats"
}

@test "/global is read-only: EROFS" {
	both
	run $FSOP write "$MNT/global/videos/x/views" '\n'
	[ "$output" = EROFS ]
	run $FSOP write "$MNT/global/videos/x/events/t/count" '\n'
	[ "$output" = EROFS ]
}

@test "without mysql= there is no /global" {
	mount_countfs
	run $FSOP read "$MNT/global/videos/x/views"
	[ "$output" = ENOENT ]
	[ "$(ls "$MNT")" = $'ingest\nstats\nvideos' ]
}

@test "an option file readable by others is refused at start" {
	chmod 644 "$CNF"
	mkdir -p "$BATS_TEST_TMPDIR/m"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -f -o "data=$BATS_TEST_TMPDIR/d,mysql=$CNF"
	[[ "$output" = *"readable by its owner only"* ]]
	chmod 600 "$CNF"
	printf '[shard1]\nuser=x\n' >"$BATS_TEST_TMPDIR/gap.cnf"
	chmod 600 "$BATS_TEST_TMPDIR/gap.cnf"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m" -f -o "data=$BATS_TEST_TMPDIR/d,mysql=$BATS_TEST_TMPDIR/gap.cnf"
	[[ "$output" = *"no [shard0] group"* ]]
}

@test "a wrong password: a clear log line, local service continues, never the password" {
	write_option_file "$CNF" "wrong-secret-$$"
	mount_countfs "host=a,mysql=$CNF"
	echo >>"$MNT/videos/w/views"
	content_is "$MNT/videos/w/views" $'1\n'
	eventually 10 grep -q "Access denied" "$LOG"
	grep -q 'mysql shard0: connect' "$LOG"
	# grep's 1: both files read, no match (2 would be a failed read).
	pw1=$(cat "$BATS_FILE_TMPDIR/db1/password")
	[ -n "$pw1" ]
	run -1 grep -F -e "wrong-secret" -e "$pw1" "$LOG" "$MNT/stats"
	run -1 pgrep -f "wrong-secret|$pw1"
}

# The ```sql blocks of the README, in order, with dates set to today
# (the end date first: once replaced, the start date may equal it).
readme_sql() {
	awk -v want="$1" '/^```sql$/ {n++; on = (n == want); next}
		/^```$/ {on = 0} on' "$ROOT/README.md" |
		sed "s/2026-11-28/$(date -u -d tomorrow +%F)/; s/2026-11-27/$(date -u +%F)/"
}

@test "the README's admin queries run as they are" {
	both
	t=$(now)
	# Keep the three events in one hour (and one day).
	if ((t % 3600 < 10 || t % 3600 > 3590)); then sleep 20; t=$(now); fi
	h=$((t / 3600 * 3600))
	printf '@%d\n@%d\n' $((t - 5)) $((t - 3)) >>"$MNT/videos/abc/views"
	echo "@$((t - 2))" >>"$MNT_B/videos/abc/views"
	echo >>"$MNT/videos/other/views"
	eventually 15 global_is videos/abc/views 3
	eventually 15 global_is videos/other/views 1
	s=$(python3 -c '
n = 0xcbf29ce484222325
for b in b"abc":
    n = ((n ^ b) * 0x100000001b3) % 2**64
print(n % 2)')
	run sql "$s" "$(readme_sql 1)"
	[ "$status" = 0 ]
	[ "$output" = "$(date -u -d @$h '+%F %T')	3" ]
	run sql "$s" "$(readme_sql 2)"
	[ "$status" = 0 ]
	[[ "$output" = "abc	3"* ]]
}

@test "/stats with replication passes promtool; countfs-top shows each shard" {
	mount_countfs "host=a,mysql=$CNF"
	write_views "$MNT" topv 500
	eventually 20 replicated "$MNT"
	if command -v promtool >/dev/null; then
		run promtool check metrics <"$MNT/stats"
		echo "$output"
		[ "$status" = 0 ]
	fi
	run "$ROOT/countfs-top" -b -n 1 -d 0.2 "$MNT"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" = *"replication: 0 rows pending"* ]]
	echo "$output" | grep -Eq '^0 +yes +[0-9.]+ +[0-9]+ +0 '
	echo "$output" | grep -Eq '^1 +yes +[0-9.]+ +[0-9]+ +0 '
	echo "$output" | grep -Eq '^views +[0-9]+ +500 '
}
