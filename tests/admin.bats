#!/usr/bin/env bats
# What operators run: make install, the man pages, a mount from an fstab
# line, the systemd unit, syslog and the journal (countfs-top is in
# top.bats).  The tests that touch /usr/local, /dev or mounts run in a
# private mount namespace (unshare -m), so the host is left as it was.
#
# COUNTFS_BIN comes from helpers/common.bash; each test runs in a process
# of its own, so the systemd test's MNT and LOG (for its teardown) are
# its own, as meant.
# shellcheck disable=SC2153,SC2030,SC2031,SC2034

load helpers/common

setup_file() {
	# One staged install for the file: DESTDIR, as a packager would.
	make -s -C "$ROOT" install DESTDIR="$BATS_FILE_TMPDIR/stage" \
		PREFIX=/usr/local >/dev/null
}


needs_root() {
	[ "$(id -u)" = 0 ] || skip "needs root for a private mount namespace"
}

# Run bash code in a private mount namespace where /usr/local is the
# staged install; at most 60 s.  The code is expanded by that bash.
# shellcheck disable=SC2016
in_ns() {
	STAGE=$BATS_FILE_TMPDIR/stage timeout 60 unshare -m --propagation private \
		bash -euc 'mount --bind "$STAGE/usr/local" /usr/local
'"$1"
}

# The option names of countfs's fuse_opt table, from the source.
option_names() {
	sed -n 's/^    OPTION("\([a-z_]*\)=%s".*/\1/p' "$ROOT/fs/main.c"
}

@test "--help fits an 80x24 screen and names every option" {
	run "$COUNTFS_BIN" --help
	[ "$status" = 0 ]
	echo "$output"
	[ "${#lines[@]}" -le 23 ]
	width=$(printf '%s\n' "$output" | awk '{ if (length > m) m = length } END { print m }')
	[ "$width" -le 80 ]
	n=0
	for o in $(option_names); do
		# recover[=KEEP]: the value may be left out
		[[ "$output" = *"-o $o="* || "$output" = *"-o ${o}[="* ]] ||
			{ echo "--help misses $o"; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 14 ]
}

@test "--version, the Makefile and the man pages agree" {
	run "$COUNTFS_BIN" --version
	[ "$status" = 0 ]
	version=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")
	[[ "$output" = "countfs $version (libfuse 3."* ]]
	grep -q "^\.TH COUNTFS 8 .* \"countfs $version\"" "$ROOT/man/countfs.8"
	grep -q "^\.TH COUNTFS-TOP 1 .* \"countfs $version\"" "$ROOT/man/countfs-top.1"
	grep -q "^\.TH COUNTFS-BACKUP 1 .* \"countfs $version\"" "$ROOT/man/countfs-backup.1"
	run "$ROOT/countfs-backup" --version
	[ "$output" = "countfs-backup $version" ]
}

@test "make install puts the daemon, countfs-top, man pages and examples under DESTDIR" {
	s=$BATS_FILE_TMPDIR/stage/usr/local
	[ -x "$s/bin/countfs" ]
	[ -x "$s/bin/countfs-top" ]
	[ -x "$s/bin/countfs-backup" ]
	"$s/bin/countfs" --version
	[ -x "$s/share/doc/countfs/examples/plot" ]
	[ -f "$s/share/doc/countfs/examples/countfs.service" ]
	for f in "$ROOT"/examples/*; do
		[ -f "$s/share/doc/countfs/examples/$(basename "$f")" ] ||
			{ echo "not installed: $f"; false; }
	done
	# The man pages render without a warning and cover every option.
	run groff -man -ww -z "$s/share/man/man8/countfs.8"
	[ -z "$output" ]
	page=$(MANWIDTH=100 man -l "$s/share/man/man8/countfs.8" 2>&1)
	for section in SYNOPSIS "THE TREE" "THE LINE FORMAT" OPTIONS FSTAB EXAMPLES "EXIT STATUS"; do
		[[ "$page" = *"$section"* ]] || { echo "no $section"; false; }
	done
	for o in $(option_names); do
		[[ "$page" = *"$o="* ]] || { echo "man page misses $o"; false; }
	done
	run groff -man -ww -z "$s/share/man/man1/countfs-top.1"
	[ -z "$output" ]
	run groff -man -ww -z "$s/share/man/man1/countfs-backup.1"
	[ -z "$output" ]
	make -s -C "$ROOT" uninstall DESTDIR="$BATS_FILE_TMPDIR/stage" PREFIX=/usr/local
	[ ! -e "$s/bin/countfs" ]
	[ ! -e "$s/share/man/man8/countfs.8" ]
	make -s -C "$ROOT" install DESTDIR="$BATS_FILE_TMPDIR/stage" PREFIX=/usr/local
}

@test "an fstab line of type fuse.countfs mounts with mount -a" {
	needs_root
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/m"
	printf '# countfs\n%s/data  %s/m  fuse.countfs  sync=always,shards=2,_netdev,nofail  0 0\n' \
		"$T" "$T" >"$T/fstab"
	# shellcheck disable=SC2016 # expanded by in_ns's bash
	T=$T in_ns '
		trap "umount $T/m 2>/dev/null || true" EXIT
		mount -T "$T/fstab" -a
		mountpoint -q "$T/m"
		echo >>"$T/m/videos/f/views"
		echo >>"$T/m/videos/f/views"
		cat "$T/m/videos/f/views" >"$T/count"
		findmnt -n -o FSTYPE,SOURCE "$T/m" >"$T/type"
		umount "$T/m"
	'
	[ "$(cat "$T/count")" = 2 ]
	# SOURCE (a path) was the data directory, shown as the mount's
	# source; its shards= was honoured.
	[ "$(cat "$T/type")" = "fuse.countfs $T/data" ]
	[ -d "$T/data/shard-1" ]
	[ ! -d "$T/data/shard-2" ]
	# The daemon ends with the unmount, leaving the data directory free.
	for i in $(seq 100); do
		pgrep -f "countfs $T/data" >/dev/null || break
		sleep 0.1
	done
	run -1 pgrep -f "countfs $T/data" # 1: no such process
}

@test "the systemd unit verifies, and runs as systemd runs it: READY=1, journal priorities, clean stop" {
	needs_root
	unit=$ROOT/examples/countfs.service
	if command -v systemd-analyze >/dev/null; then
		run in_ns "systemd-analyze verify '$unit'"
		echo "$output"
		[ "$status" = 0 ]
	fi
	T=$BATS_TEST_TMPDIR
	# Its commands, with the paths moved into the test's directory.
	cmds=$(sed -n 's/^\(ExecStartPre\|ExecStart\|ExecStop\)=-\{0,1\}//p' "$unit" |
		sed "s|/mnt/counts|$T/mnt|g; s|/var/lib/countfs|$T/data|g; s|^countfs |$COUNTFS_BIN |")
	echo "$cmds"
	[ "$(echo "$cmds" | wc -l)" = 4 ]
	start=$(echo "$cmds" | sed -n 3p)
	[[ "$start" = "$COUNTFS_BIN $T/mnt -f -o "* ]]
	echo "$cmds" | sed -n 1p | sh || true
	echo "$cmds" | sed -n 2p | sh
	# The journal's stream is the daemon's stderr; systemd listens on
	# NOTIFY_SOCKET.
	python3 - "$T/notify" >"$T/notified" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
for _ in range(2):
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
	listener=$!
	for i in $(seq 50); do [ -S "$T/notify" ] && break; sleep 0.1; done
	LOG=$T/journal MNT=$T/mnt
	: >"$LOG"
	js=$(stat -c '%d:%i' "$LOG")
	JOURNAL_STREAM=$js NOTIFY_SOCKET=$T/notify $start >>"$LOG" 2>&1 3>&- &
	COUNTFS_PID=$!
	for i in $(seq 100); do grep -q READY=1 "$T/notified" && break; sleep 0.1; done
	grep -q '^READY=1' "$T/notified"
	mountpoint -q "$T/mnt"
	echo >>"$T/mnt/videos/s/views"
	[ "$(cat "$T/mnt/videos/s/views")" = 1 ]
	echo "$cmds" | sed -n 4p | sh
	wait_pid "$COUNTFS_PID" 30
	[ "$WAIT_STATUS" = 0 ]
	COUNTFS_PID=
	wait "$listener"
	cat "$T/notified" "$LOG"
	grep -q '^STOPPING=1' "$T/notified"
	grep -q '^<6>info: countfs [0-9.]* serving .*, data in ' "$LOG"
	grep -q '^<6>info: unmounted; store closed' "$LOG"
	run -1 grep -q 'countfs info' "$LOG" # 1: read, and not there
}

@test "in the background the daemon logs to syslog" {
	needs_root
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/m"
	# shellcheck disable=SC2016 # expanded by in_ns's bash
	BIN=$COUNTFS_BIN T=$T in_ns '
		# A /dev of our own, with a /dev/log that a small server reads.
		mount -t tmpfs tmpfs /dev
		mknod -m 666 /dev/fuse c 10 229
		mknod -m 666 /dev/null c 1 3
		python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/dev/log\")
s.settimeout(20)
with open(sys.argv[1], \"w\") as out:
    while True:
        m = s.recv(4096).decode()
        out.write(m + \"\\n\"); out.flush()
        if \"unmounted\" in m:
            break
" "$T/syslog" &
		for i in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
		"$BIN" "$T/m" -o "data=$T/d,log_level=debug"
		printf "bad\n" >>"$T/m/videos/a/views" 2>/dev/null || true
		fusermount3 -u "$T/m"
		wait
	'
	cat "$T/syslog"
	grep -q 'countfs\[[0-9]*\]: countfs [0-9.]* serving .*, data in ' "$T/syslog"
	grep -q 'countfs\[[0-9]*\]: .*write refused (EINVAL)' "$T/syslog"
	grep -q 'countfs\[[0-9]*\]: unmounted; store closed' "$T/syslog"
	# Facility daemon (3): <24+priority>; warn is 4, info 6.
	grep -q '^<28>' "$T/syslog"
	grep -q '^<30>' "$T/syslog"
}
