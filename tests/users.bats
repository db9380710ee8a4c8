#!/usr/bin/env bats
# Other users: a mount reached by users other than the one who mounted it
# (-o allow_other, uid=, gid=, umask=), as node_exporter (user
# prometheus) and nginx workers (nobody) reach it; and the README's
# Prometheus recipe with the real node_exporter.  Switching users needs
# root: run as another user, these tests skip.

load helpers/common
load helpers/mysql # free_port

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root to act as other users"
	# A directory every uid may enter, holding the mountpoint.
	SHARED=$(mktemp -d /tmp/countfs-users.XXXXXX)
	chmod 755 "$SHARED"
	# shellcheck disable=SC2034 # mount_countfs uses them
	MNT=$SHARED/m DATA=$SHARED/d LOG=$SHARED/countfs.log
}

teardown() {
	local rc=0 left
	if [ -n "${EXPORTER_PID:-}" ]; then
		kill "$EXPORTER_PID" 2>/dev/null || true
		wait_pid "$EXPORTER_PID" 10 || kill -9 "$EXPORTER_PID" 2>/dev/null || true
		# Nothing of this test's may outlive it.
		if left=$(pgrep -f "textfile.directory=$SHARED/"); then
			echo "node_exporter left running: $left" >&2
			# shellcheck disable=SC2086 # one word per pid
			kill $left 2>/dev/null || true
			rc=1
		fi
	fi
	common_teardown || rc=1
	[ -z "${SHARED:-}" ] || rm -rf "$SHARED"
	return $rc
}

# mount_as_root OPTS: the daemon (as root) on $MNT, with one view of a.
mount_as_root() {
	mount_countfs "$1"
	echo >>"$MNT/videos/a/views"
}

# as USER CMD...: run CMD as USER (a name or a uid), with its own group.
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u" 2>/dev/null || echo "$u")" \
		--clear-groups "$@"
}

@test "without allow_other, nobody is refused: EACCES on every file" {
	mount_as_root ''
	run as nobody cat "$MNT/videos/a/views"
	[ "$status" = 1 ]
	[[ "$output" = *"Permission denied"* ]]
	run as nobody cat "$MNT/stats"
	[ "$status" = 1 ]
	run as nobody sh -c "echo >>$MNT/videos/a/views"
	[ "$status" != 0 ]
	content_is "$MNT/videos/a/views" $'1\n'
}

@test "allow_other,umask=0022: nobody reads every file, and writes none" {
	mount_as_root allow_other,umask=0022
	run -0 stat -c '%a %U' "$MNT/videos/a/views" "$MNT/stats" "$MNT/videos"
	[ "$output" = $'755 root\n755 root\n755 root' ]
	run -0 as nobody cat "$MNT/videos/a/views"
	[ "$output" = 1 ]
	run -0 as nobody cat "$MNT/videos/a/range/0-"
	[ "$output" = 1 ]
	run -0 as nobody grep '^countfs_events_total ' "$MNT/stats"
	[ "$output" = "countfs_events_total 1" ]
	run -0 as nobody ls "$MNT/videos"
	[ "$output" = a ]
	run as nobody sh -c "echo >>$MNT/videos/a/views"
	[ "$status" != 0 ]
	[[ "$output" = *"Permission denied"* ]]
	run as nobody sh -c "echo 'a views' >>$MNT/ingest"
	[ "$status" != 0 ]
	content_is "$MNT/videos/a/views" $'1\n'
}

@test "allow_other alone: modes 0644, 0444 and 0755; others read" {
	mount_as_root allow_other
	run -0 stat -c '%a' "$MNT/videos/a/views" "$MNT/ingest" "$MNT/stats" \
		"$MNT/videos/a/range/0-" "$MNT/videos/a"
	[ "$output" = $'644\n644\n444\n444\n755' ]
	run -0 as prometheus cat "$MNT/videos/a/views"
	[ "$output" = 1 ]
}

@test "allow_other,uid=N: user N writes counters and /ingest; read-only files stay EACCES" {
	mount_as_root "allow_other,uid=$(id -u nobody),gid=$(id -g nobody)"
	run -0 stat -c '%U %G %a' "$MNT/videos/a/views"
	[ "$output" = "nobody $(id -gn nobody) 644" ]
	as nobody sh -c "echo >>$MNT/videos/a/views"
	as nobody sh -c "printf 'a views\nb likes\n' >>$MNT/ingest"
	content_is "$MNT/videos/a/views" $'3\n'
	content_is "$MNT/videos/b/events/likes/count" $'1\n'
	run as nobody sh -c "echo >>$MNT/stats"
	[ "$status" != 0 ]
	[[ "$output" = *"Permission denied"* ]]
	# Another user still only reads.
	run as prometheus sh -c "echo >>$MNT/videos/a/views"
	[ "$status" != 0 ]
	content_is "$MNT/videos/a/views" $'3\n'
}

@test "allow_other,gid=G,umask=0002: the group writes, others read" {
	mount_as_root "allow_other,gid=$(id -g nobody),umask=0002"
	run -0 stat -c '%a %U %G' "$MNT/videos/a/views"
	[ "$output" = "775 root $(id -gn nobody)" ]
	# uid 4242 in nobody's group writes; prometheus (another group) not.
	setpriv --reuid=4242 --regid="$(id -g nobody)" --clear-groups \
		sh -c "echo >>$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'2\n'
	run as prometheus sh -c "echo >>$MNT/videos/a/views"
	[ "$status" != 0 ]
	run -0 as prometheus cat "$MNT/videos/a/views"
	[ "$output" = 2 ]
}

# start_exporter DIR: node_exporter as user prometheus on a free loopback
# port, with the textfile collector alone reading DIR; wait (at most
# 20 s) until it answers.  Its port in $PORT, its pid in $EXPORTER_PID.
start_exporter() {
	# Only root runs this file, as CI does, which installs the exporter.
	command -v prometheus-node-exporter >/dev/null ||
		{ echo "prometheus-node-exporter is missing (apt-get install it)"; false; }
	PORT=$(free_port)
	# setpriv itself, not through as(): $! must be the pid that becomes
	# the exporter (a backgrounded function is a subshell of its own).
	setpriv --reuid=prometheus --regid=prometheus --clear-groups \
		prometheus-node-exporter \
		--web.listen-address="127.0.0.1:$PORT" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$1" \
		>>"$SHARED/exporter.log" 2>&1 3>&- &
	EXPORTER_PID=$!
	local deadline=$((SECONDS + 20))
	until curl -sf -m 2 "http://127.0.0.1:$PORT/metrics" >/dev/null; do
		kill -0 "$EXPORTER_PID" || { cat "$SHARED/exporter.log"; false; }
		((SECONDS < deadline)) || false
		sleep 0.1
	done
}

scrape() {
	curl -sf -m 5 "http://127.0.0.1:$PORT/metrics"
}

@test "README recipe: node_exporter (as prometheus) serves /stats through a countfs.prom symlink" {
	mount_as_root allow_other
	printf 'a views\nb likes\nb likes\n' >>"$MNT/ingest"
	mkdir "$SHARED/textfile"
	ln -s "$MNT/stats" "$SHARED/textfile/countfs.prom"
	start_exporter "$SHARED/textfile"
	run -0 scrape
	grep -x 'countfs_events_total 4' <<<"$output"
	grep -x 'countfs_events_by_type_total{type="likes"} 2' <<<"$output"
	grep -q '^countfs_build_info{version="[0-9.]*"} 1$' <<<"$output"
	grep -q '^countfs_write_latency_seconds_bucket{le="+Inf"} [1-9]' <<<"$output"
	grep -x 'node_textfile_scrape_error 0' <<<"$output"
	# Each scrape reads the live counts.
	echo >>"$MNT/videos/a/views"
	run -0 scrape
	grep -x 'countfs_events_total 5' <<<"$output"
}

@test "node_exporter without allow_other: the textfile scrape fails, as the README warns" {
	mount_as_root ''
	mkdir "$SHARED/textfile"
	ln -s "$MNT/stats" "$SHARED/textfile/countfs.prom"
	start_exporter "$SHARED/textfile"
	run -0 scrape
	grep -x 'node_textfile_scrape_error 1' <<<"$output"
	run -1 grep '^countfs_' <<<"$output"
}

@test "mounted by a user, allow_other needs user_allow_other in /etc/fuse.conf" {
	# In a private mount namespace: a /dev/fuse node any user may open
	# (as on a stock system) and each fuse.conf bound over /etc's.
	mkdir -p "$MNT" "$SHARED/d" "$SHARED/dev"
	chown nobody "$MNT" "$SHARED/d"
	printf '# mount_max = 1000\n' >"$SHARED/without.conf"
	printf 'user_allow_other\n' >"$SHARED/with.conf"
	# shellcheck disable=SC2016 # expanded by the inner bash
	S=$SHARED M=$MNT B=$COUNTFS_BIN timeout 60 unshare -m --propagation private bash -euc '
		as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
		mount -t tmpfs -o size=1m,mode=755 tmpfs "$S/dev"
		mknod -m 666 "$S/dev/fuse" c 10 229
		mount --bind "$S/dev/fuse" /dev/fuse
		mount --bind "$S/without.conf" /etc/fuse.conf
		rc=0
		as_nobody "$B" "$M" -o "data=$S/d/data,allow_other" >"$S/without.out" 2>&1 || rc=$?
		echo "$rc" >"$S/without.rc"
		mount --bind "$S/with.conf" /etc/fuse.conf
		as_nobody "$B" "$M" -o "data=$S/d/data,allow_other" >"$S/with.out" 2>&1
		trap "as_nobody fusermount3 -u $M" EXIT
		as_nobody sh -c "echo >>$M/videos/a/views"
		setpriv --reuid="$(id -u prometheus)" --regid="$(id -g prometheus)" \
			--clear-groups cat "$M/videos/a/views" >"$S/read"
		findmnt -n -o OPTIONS "$M" >"$S/options"
	'
	cat "$SHARED/without.out" "$SHARED/with.out" "$SHARED/options"
	# The daemon (in the background, as nobody) ends with its unmount.
	for _ in $(seq 100); do
		pgrep -f "data=$SHARED/d/data" >/dev/null || break
		sleep 0.1
	done
	run -1 pgrep -f "data=$SHARED/d/data"
	[ "$(cat "$SHARED/without.rc")" = 1 ]
	grep -q "allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf" "$SHARED/without.out"
	[ "$(cat "$SHARED/read")" = 1 ]
	grep -q 'user_id=65534,.*allow_other' "$SHARED/options"
}

@test "--help, countfs(8) and the README name allow_other, uid=, gid=, umask= and user_allow_other" {
	run -0 "$COUNTFS_BIN" --help
	[[ "$output" = *"-o allow_other "* ]]
	[[ "$output" = *"-o uid=N,gid=N,umask=M "* ]]
	page=$(MANWIDTH=100 man -l "$ROOT/man/countfs.8" 2>&1)
	for w in allow_other uid=N gid=N umask=M user_allow_other "OTHER USERS" countfs.prom; do
		[[ "$page" = *"$w"* ]] || { echo "countfs(8) misses $w"; false; }
	done
	# shellcheck disable=SC2016 # backquotes of markdown, not commands
	for w in '| `allow_other` |' '| `uid=N`, `gid=N` |' '| `umask=M` |' user_allow_other countfs.prom; do
		grep -qF -- "$w" "$ROOT/README.md" || { echo "README misses $w"; false; }
	done
}
