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
	printf '\n\n\n' >>"$MNT/videos/a/views"
	echo '#i' >>"$MNT/videos/a/views"
	echo '#i' >>"$MNT/videos/a/views"
	$FSOP write "$MNT/videos/a/views" 'x\n' || true
	$FSOP write "$MNT/videos/a/views" "@$(($(now) + 3600))\n" || true
	[ "$(metric countfs_events_total)" = 4 ]
	[ "$(metric countfs_events_deduplicated_total)" = 1 ]
	[ "$(metric 'countfs_writes_refused_total\{reason="line"\}')" = 1 ]
	[ "$(metric 'countfs_writes_refused_total\{reason="timestamp"\}')" = 1 ]
	[ "$(metric countfs_commits_total)" -ge 1 ]
	[ "$(metric countfs_lmdb_bytes_used)" -gt 0 ]
	[ "$(metric 'countfs_write_latency_seconds_count')" -ge 3 ]
	[ "$(metric 'countfs_write_latency_seconds_bucket\{le="\+Inf"\}')" = \
		"$(metric countfs_write_latency_seconds_count)" ]
	[ "$(metric countfs_read_latency_seconds_count)" -ge 1 ]
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
