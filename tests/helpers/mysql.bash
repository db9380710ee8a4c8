# mysql.bash - two MariaDB servers for a bats file, and an option file.
#
#   start_shards        in setup_file: servers in $BATS_FILE_TMPDIR/db0, db1
#   stop_shards         in teardown_file
#   write_option_file F [PASSWORD0]   [shard0] over TCP, [shard1] over the socket
#   sql N QUERY         run QUERY on shard N as root, tab-separated, no header
#   forget_hosts        drop countfs_hosts on both shards: host names claimed
#                       by the data directories of earlier tests are free
#   eventually SECS CMD...   retry CMD until it succeeds or SECS pass

MARIADB_SH=$ROOT/tests/helpers/mariadb.sh

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_shards() {
	for i in 0 1; do
		local port
		port=$(free_port)
		echo "$port" >"$BATS_FILE_TMPDIR/port$i"
		sh "$MARIADB_SH" start "$BATS_FILE_TMPDIR/db$i" "$port"
	done
}

stop_shards() {
	for i in 0 1; do
		sh "$MARIADB_SH" stop "$BATS_FILE_TMPDIR/db$i" || true
	done
}

restart_shard() {
	sh "$MARIADB_SH" start "$BATS_FILE_TMPDIR/db$1" "$(cat "$BATS_FILE_TMPDIR/port$1")"
}

write_option_file() {
	local f=$1 pw0=${2:-$(cat "$BATS_FILE_TMPDIR/db0/password")}
	cat >"$f" <<CNF
# countfs shards for the tests
[shard0]
host=127.0.0.1
port=$(cat "$BATS_FILE_TMPDIR/port0")
user=countfs
password=$pw0
database=countfs

[shard1]
socket=$BATS_FILE_TMPDIR/db1/sock
user=countfs
password=$(cat "$BATS_FILE_TMPDIR/db1/password")
database=countfs
CNF
	chmod 600 "$f"
}

sql() {
	mariadb --no-defaults -S "$BATS_FILE_TMPDIR/db$1/sock" -u root -N -B countfs -e "$2"
}

forget_hosts() {
	for i in 0 1; do
		sql $i "DROP TABLE IF EXISTS countfs_hosts"
	done
}

# replicated MNT: every acknowledged write of MNT is in MySQL (one read of
# /stats: the journal is counted before the pending rows).
replicated() {
	local s
	s=$(cat "$1/stats") &&
		grep -q '^countfs_journal_events 0$' <<<"$s" &&
		grep -q '^countfs_repl_pending_rows 0$' <<<"$s"
}

eventually() {
	local secs=$1 deadline
	shift
	deadline=$((SECONDS + secs))
	until "$@"; do
		if ((SECONDS >= deadline)); then
			echo "still failing after ${secs}s: $*" >&2
			return 1
		fi
		sleep 0.2
	done
}

# Teardown of a file with two hosts and two shards: unmount both daemons,
# wake or restart a shard a test left stopped.
shards_teardown() {
	local rc=0
	unmount_b || rc=1
	common_teardown || rc=1
	for i in 0 1; do
		kill -CONT "$(sh "$MARIADB_SH" pid "$BATS_FILE_TMPDIR/db$i")" 2>/dev/null || true
		[ -e "$BATS_FILE_TMPDIR/db$i/sock" ] || restart_shard $i
	done
	return $rc
}

# Mount a second daemon: host B on $MNT_B (the first uses mount_countfs).
mount_b() {
	MNT_B=$BATS_TEST_TMPDIR/mnt_b
	LOG_B=$BATS_TEST_TMPDIR/countfs_b.log
	mkdir -p "$MNT_B"
	"$COUNTFS_BIN" "$MNT_B" -f -o "data=$BATS_TEST_TMPDIR/data_b,$1" \
		>>"$LOG_B" 2>&1 3>&- &
	PID_B=$!
	local deadline=$((SECONDS + MOUNT_TIMEOUT))
	until mountpoint -q "$MNT_B"; do
		kill -0 "$PID_B" 2>/dev/null || { cat "$LOG_B" >&2; return 1; }
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

unmount_b() {
	[ -n "${PID_B:-}" ] || return 0
	fusermount3 -u "$MNT_B" 2>/dev/null || fusermount3 -uz "$MNT_B" 2>/dev/null
	wait_pid "$PID_B" 60 || kill -9 "$PID_B"
	PID_B=
	LOG=$LOG_B check_log
}
