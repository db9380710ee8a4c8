# bench/lib.sh - what the benchmark scripts share, sourced from the
# repository's root: a temporary directory $T removed on exit, mounts
# that are undone on exit, medians and /stats values.  A script that
# starts more than mounts defines bench_cleanup, run first on exit.
# shellcheck shell=bash
ROOT=$PWD
# shellcheck disable=SC2034 # for the scripts that source this
LOAD=$ROOT/bench/load
T=$(mktemp -d /tmp/countfs-bench.XXXXXX)
: >"$T/mounts"

bench_cleanup() { :; }
cleanup() {
	bench_cleanup
	local m p
	while read -r m p; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done <"$T/mounts"
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# mount_fs NAME CMD...: mount CMD at $T/NAME, wait for it; the daemon's
# pid is left in MOUNT_PID (also when called in a subshell, the mount is
# undone on exit).
mount_fs() {
	spawn_fs "$@"
	for _ in $(seq 400); do mountpoint -q "$T/$1" && return 0; sleep 0.025; done
	echo "cannot mount $1:" >&2
	cat "$T/$1.log" >&2
	exit 1
}

# spawn_fs NAME CMD...: start mounting CMD at $T/NAME, without waiting.
spawn_fs() {
	local name=$1
	shift
	[ -d "$T/$name" ] || mkdir -p "$T/$name"
	"$@" "$T/$name" -f >>"$T/$name.log" 2>&1 3>&- &
	MOUNT_PID=$!
	echo "$T/$name $MOUNT_PID" >>"$T/mounts"
}

# forget_mount NAME: the mount at $T/NAME is gone; nothing to undo on exit.
forget_mount() {
	grep -v "^$T/$1 " "$T/mounts" >"$T/mounts.new" || true
	mv "$T/mounts.new" "$T/mounts"
}

# unmount_fs NAME PID: unmount $T/NAME and wait (at most 5 minutes) for
# its daemon to exit, as a restart must.
unmount_fs() {
	fusermount3 -u "$T/$1"
	for _ in $(seq 30000); do kill -0 "$2" 2>/dev/null || break; sleep 0.01; done
	if kill -0 "$2" 2>/dev/null; then
		echo "the daemon of $1 did not exit" >&2
		exit 1
	fi
	forget_mount "$1"
}

# The median of the numbers on stdin, one per line.
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# stat_of MNT NAME: the value of the metric NAME (without labels) in
# MNT/stats.
stat_of() { awk -v n="$2" '$1 == n { print $2; exit }' "$1/stats"; }

# value KEY: the value of KEY= in the "key=value ..." lines on stdin.
value() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
