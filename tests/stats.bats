#!/usr/bin/env bats
# /stats: daemon metrics in Prometheus text format.

load helpers/common

setup() {
	mount_countfs
}

metric() {
	grep -E "^$1 " "$MNT/stats" | awk '{print $2}'
}

@test "/stats counts events, refusals, dedups and commits" {
	# shellcheck disable=SC2129 # one open, write and close each, on purpose
	printf '\n\n\n' >>"$MNT/videos/a/views"
	echo '#i' >>"$MNT/videos/a/views"
	echo '#i' >>"$MNT/videos/a/views"
	run $FSOP write "$MNT/videos/a/views" 'x\n'
	[ "$output" = EINVAL ]
	run $FSOP write "$MNT/videos/a/views" "@$(($(now) + 3600))\n"
	[ "$output" = EINVAL ]
	[ "$(metric countfs_events_total)" = 4 ]
	[ "$(metric countfs_events_deduplicated_total)" = 1 ]
	[ "$(metric 'countfs_writes_refused_total\{reason="line"\}')" = 1 ]
	[ "$(metric 'countfs_writes_refused_total\{reason="timestamp"\}')" = 1 ]
	[ "$(metric countfs_commits_total)" -ge 1 ]
	[ "$(metric countfs_lmdb_used_bytes)" -gt 0 ]
	[ "$(metric 'countfs_write_latency_seconds_count')" -ge 3 ]
	[ "$(metric 'countfs_write_latency_seconds_bucket\{le="\+Inf"\}')" = \
		"$(metric countfs_write_latency_seconds_count)" ]
	[ "$(metric countfs_read_latency_seconds_count)" -ge 1 ]
}

@test "/stats shows the journal's backlog, emptied by a read" {
	printf '\n\n\n' >>"$MNT/videos/a/views"
	held=$(metric countfs_journal_events)
	[ "$held" -ge 0 ]
	[ "$held" -le 3 ]
	content_is "$MNT/videos/a/views" $'3\n'
	[ "$(metric countfs_journal_events)" = 0 ]
}

@test "/stats is well-formed Prometheus text" {
	echo >>"$MNT/videos/a/views"
	run python3 - "$MNT/stats" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n")
types = {}
for line in text.splitlines():
    if line.startswith("# HELP "):
        continue
    m = re.match(r"# TYPE (\S+) (counter|gauge|histogram)$", line)
    if m:
        types[m.group(1)] = m.group(2)
        continue
    m = re.match(r'([a-z_]+)(\{[a-z_]+="[^"]*"\})? (\S+)$', line)
    assert m, line
    float(m.group(3))
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    assert m.group(1) in types or base in types, line
print("ok", len(types))
PY
	[ "$status" = 0 ]
	[[ "$output" = "ok "* ]]
}

@test "/stats is read-only and fsyncs happen each second" {
	run $FSOP write "$MNT/stats" '\n'
	[ "$output" = EACCES ]
	echo >>"$MNT/videos/a/views"
	deadline=$((SECONDS + 10))
	until [ "$(metric countfs_fsyncs_total)" -ge 1 ]; do
		((SECONDS < deadline)) || false
		sleep 0.2
	done
}

@test "/stats passes promtool check metrics, with events by type" {
	command -v promtool >/dev/null || skip "promtool (prometheus) is not installed"
	echo >>"$MNT/videos/a/views"
	printf 'a likes\nb likes\nc shares 5\n' >>"$MNT/ingest"
	run $FSOP write "$MNT/videos/a/views" 'bad\n'
	[ "$output" = EINVAL ]
	run promtool check metrics <"$MNT/stats"
	echo "$output"
	[ "$status" = 0 ]
	grep -qx 'countfs_events_by_type_total{type="views"} 1' "$MNT/stats"
	grep -qx 'countfs_events_by_type_total{type="likes"} 2' "$MNT/stats"
	grep -qx 'countfs_events_by_type_total{type="shares"} 1' "$MNT/stats"
	# Past 64 types, the rest share one line.
	python3 -c 'import sys; sys.stdout.write("".join("v t%d\n" % i for i in range(100)))' >>"$MNT/ingest"
	[ "$(grep -c '^countfs_events_by_type_total{' "$MNT/stats")" = 65 ]
	grep -qx 'countfs_events_by_type_total{type="(other)"} 39' "$MNT/stats"
}

@test "/stats names follow Prometheus: unit last, _total on counters, build_info" {
	echo >>"$MNT/videos/a/views"
	run -0 python3 - "$MNT/stats" <<'PY'
import re, sys
bad = []
for line in open(sys.argv[1]):
    m = re.match(r"# TYPE (\S+) (\S+)$", line)
    if not m:
        continue
    name, kind = m.groups()
    if (kind == "counter") != name.endswith("_total"):
        bad.append(name + ": _total is for counters alone")
    # A unit is the last word (before _total); base units only.
    words = re.sub(r"_total$", "", name).split("_")
    for u in ("bytes", "seconds"):
        if u in words[:-1]:
            bad.append(name + ": the unit " + u + " is not last")
    for u in ("ms", "us", "milliseconds", "kib", "mib", "kb", "mb"):
        if u in words:
            bad.append(name + ": " + u + " is not a base unit")
print("\n".join(bad) or "ok")
PY
	echo "$output"
	[ "$output" = ok ]
	grep -qx "countfs_build_info{version=\"$("$COUNTFS_BIN" --version | awk '{print $2}')\"} 1" "$MNT/stats"
	grep -q '^countfs_lmdb_used_bytes [1-9]' "$MNT/stats"
}

@test "epoll on a file (as Go's runtime, node_exporter's, does) answers ready, leaks nothing" {
	echo >>"$MNT/videos/a/views"
	run -0 python3 - "$MNT" <<'PY'
import os, select, sys
m = sys.argv[1]
for name, flags in (("stats", os.O_RDONLY), ("videos/a/views", os.O_RDWR)):
    fd = os.open(os.path.join(m, name), flags)
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN | select.EPOLLOUT)
    print(name, ep.poll(1) == [(fd, select.EPOLLIN | select.EPOLLOUT)])
    ep.close()
    os.close(fd)
PY
	[ "$output" = $'stats True\nvideos/a/views True' ]
	# Under ASan, a pollhandle left to libfuse is a leak at unmount.
	unmount_countfs
}
