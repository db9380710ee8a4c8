#!/usr/bin/env bats
# Real nginx (Debian's) writing its access log into countfs: buffered into
# /ingest with -o ingest=skip, and one write per request into
# videos/ID/views, with bad requests mixed in.  The configuration is
# examples/nginx-countfs.conf as it is, its path replaced by the mount.
# As root, nginx's workers run as nobody, as they would as www-data:
# the mount lets them in with allow_other,uid=,gid=.

load helpers/common
load helpers/mysql # free_port

NGINX=${NGINX:-/usr/sbin/nginx}
RECIPE=$ROOT/examples/nginx-countfs.conf

setup() {
	if [ ! -x "$NGINX" ]; then
		[ "$(id -u)" != 0 ] || fail_setup "nginx is missing at $NGINX"
		skip "nginx is not installed (apt-get install nginx-light)"
	fi
	# A directory every uid may enter: the workers (nobody) open
	# videos/ID/views and test nginx's root directory themselves.
	T=$(mktemp -d /tmp/countfs-nginx.XXXXXX)
	chmod 755 "$T"
	# shellcheck disable=SC2034 # mount_countfs uses them
	MNT=$T/mnt DATA=$T/data LOG=$T/countfs.log
	opts=ingest=skip
	if [ "$(id -u)" = 0 ]; then
		opts="$opts,allow_other,uid=$(id -u nobody),gid=$(id -g nobody)"
	fi
	mount_countfs "$opts"
}

fail_setup() {
	echo "$1" >&2
	return 1
}

teardown() {
	local rc=0
	stop_nginx || rc=1
	common_teardown || rc=1
	[ -z "${T:-}" ] || rm -rf "$T"
	return $rc
}

# start_nginx HTTP_CONF: nginx in the foreground with its own prefix, conf,
# pid and logs in $T/nginx, the lines of HTTP_CONF in its http block.
start_nginx() {
	local n=$T/nginx user=
	mkdir -p "$n/www" "$n/tmp"
	chmod 755 "$n" "$n/www"
	PORT=$(free_port)
	if [ "$(id -u)" = 0 ]; then
		user="user nobody $(id -gn nobody);"
	fi
	cat >"$n/nginx.conf" <<-CONF
		$user
		daemon off;
		worker_processes 2;
		pid $n/nginx.pid;
		error_log $n/error.log;
		events { worker_connections 64; }
		http {
			client_body_temp_path $n/tmp/body;
			proxy_temp_path $n/tmp/proxy;
			fastcgi_temp_path $n/tmp/fastcgi;
			uwsgi_temp_path $n/tmp/uwsgi;
			scgi_temp_path $n/tmp/scgi;
			$1
			server {
				listen 127.0.0.1:$PORT;
				root $n/www;
				location / { return 204; }
				location = /ready { access_log off; return 204; }
			}
		}
	CONF
	"$NGINX" -p "$n" -c "$n/nginx.conf" -e "$n/error.log" 3>&- &
	NGINX_PID=$!
	# curl waits for the port (at most 20 s); nginx may have died instead.
	if ! curl -s -o /dev/null --retry 20 --retry-connrefused --retry-delay 1 \
		--retry-max-time 20 "http://127.0.0.1:$PORT/ready"; then
		echo "nginx did not answer within 20 s:" >&2
		cat "$n/error.log" >&2
		return 1
	fi
}

# Stop nginx gracefully (its workers write out their buffers), or kill it.
stop_nginx() {
	[ -n "${NGINX_PID:-}" ] || return 0
	kill -QUIT "$NGINX_PID" 2>/dev/null
	if ! wait_pid "$NGINX_PID" 20; then
		kill -9 "$NGINX_PID" 2>/dev/null
		pkill -9 -P "$NGINX_PID" 2>/dev/null
		NGINX_PID=
		echo "nginx did not stop within 20 s" >&2
		return 1
	fi
	NGINX_PID=
}

# The recipe with its path replaced by the mount; with "per-request", its
# second way instead of the first.
recipe() {
	if [ "${1:-}" = per-request ]; then
		sed -e "s|/mnt/counts|$MNT|" -e 's|^access_log|#&|' -e 's|^#\(log_format countfs_view\)|\1|' \
			-e 's|^#\(access_log .*/videos/\)|\1|' "$RECIPE"
	else
		sed "s|/mnt/counts|$MNT|" "$RECIPE"
	fi
}

# requests GOOD BAD: curl's config for GOOD requests over 20 videos and BAD
# ones with ids that are not video names, shuffled, in $T/urls; the
# expected views, "video count" per line, in $T/expected.
requests() {
	python3 - "$PORT" "$1" "$2" "$T" <<'PY'
import random, sys
port, good, bad, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(7)
bad_ids = ["..", ".", "a%20b", "x/y", "q%22q", "v" * 129, "%2e%2e", "a+b"]
ids = ["vid%d" % rnd.randrange(20) for _ in range(good)]
reqs = ids + [bad_ids[i % len(bad_ids)] for i in range(bad)]
rnd.shuffle(reqs)
with open(t + "/urls", "w") as f:
    for v in reqs:
        f.write('url = "http://127.0.0.1:%s/watch?v=%s"\noutput = "/dev/null"\n'
                % (port, v))
with open(t + "/expected", "w") as f:
    for v in sorted(set(ids)):
        f.write("%s %d\n" % (v, ids.count(v)))
PY
}

# Every video of $T/expected has its count in FILE (views, events/T/count).
counts_are_exact() {
	local v want
	while read -r v want; do
		content_is "$MNT/videos/$v/$1" "$want"$'\n'
	done <"$T/expected"
	run -0 ls "$MNT/videos"
	[ "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)" = "$(cut -d' ' -f1 "$T/expected" | LC_ALL=C sort)" ]
}

# nginx's error log has no error: no failed write, open or test.
nginx_had_no_error() {
	run grep -E '\[(emerg|alert|crit|error)\]' "$T/nginx/error.log"
	[ "$status" = 1 ]
}

@test "nginx's buffered access log into /ingest: every good request counted, the bad lines dropped" {
	# The recipe, and the same log without the map, as a mistake would
	# write it: its bad lines reach countfs in the same 32 KiB buffers.
	start_nginx "$(recipe)
		log_format raw '\$arg_v raw';
		access_log $MNT/ingest raw buffer=32k flush=1s;"
	requests 3000 300
	curl -s -K "$T/urls"
	stop_nginx
	counts_are_exact views
	counts_are_exact events/raw/count
	grep -q '^countfs_ingest_dropped_total{reason="bad_video"} 300$' "$MNT/stats"
	grep -q '^countfs_writes_refused_total{reason="line"} 0$' "$MNT/stats"
	# 3300 requests of two lines each came in a few large writes.
	writes=$(sed -n 's/^countfs_writes_total //p' "$MNT/stats")
	[ "$writes" -lt 40 ]
	grep -Eq '/ingest: [0-9]+ of [0-9]+ lines dropped \(ingest=skip\); .* \(pid [0-9]+\)$' "$LOG"
	nginx_had_no_error
}

@test "nginx's per-request access log into videos/ID/views: every good request counted" {
	start_nginx "$(recipe per-request)"
	requests 1000 100
	curl -s -K "$T/urls"
	stop_nginx
	counts_are_exact views
	grep -q '^countfs_writes_total 1000$' "$MNT/stats"
	nginx_had_no_error
}
