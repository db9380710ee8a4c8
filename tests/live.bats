#!/usr/bin/env bats
# Live counts: follow (the count, then each new count), when/N (blocks
# until the count reaches N), poll(2) on a counter file; a blocked read
# costs no thread, ends with EINTR when interrupted and with EOF at
# unmount.

# shellcheck disable=SC2030,SC2031 # COUNTFS_PID is per test, as meant
load helpers/common

OUT=

# Wait (at most $3 s, default 10) until FILE $1 holds exactly $2 (a file
# not made yet, by a reader started in the background, is empty).
output_becomes() {
	local deadline=$((SECONDS + ${3:-10})) got
	while :; do
		got=x
		if [ -e "$1" ]; then
			got=$(cat -- "$1" && echo x) || return 1
		fi
		got=${got%x}
		[ "$got" = "$2" ] && return 0
		if ((SECONDS > deadline)); then
			printf 'content of %s: got %q, want %q\n' "$1" "$got" "$2" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Append the bytes $2 to FILE $1 in one write(), as one request (bash's
# printf writes each line apart).
append_once() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
assert os.write(fd, sys.argv[2].encode()) == len(sys.argv[2])' "$1" "$2"
}

# Is process $1 still there after $2 seconds?
still_blocked() {
	sleep "$2"
	kill -0 "$1" 2>/dev/null
}

@test "follow prints the count at once, then each new count" {
	mount_countfs
	OUT=$BATS_TEST_TMPDIR/out
	echo >>"$MNT/videos/f/views"
	timeout 30 cat "$MNT/videos/f/follow" >"$OUT" 3>&- &
	pid=$!
	output_becomes "$OUT" $'1\n'
	still_blocked "$pid" 0.3
	echo >>"$MNT/videos/f/views"
	output_becomes "$OUT" $'1\n2\n'
	append_once "$MNT/videos/f/views" $'\n\n\n'
	output_becomes "$OUT" $'1\n2\n5\n'
	# Another video, another type of the same video: no new line.
	echo >>"$MNT/videos/g/views"
	echo >>"$MNT/videos/f/events/likes/count"
	sleep 0.3
	run cat "$OUT"
	[ "$status" -eq 0 ]
	[ "$output" = $'1\n2\n5' ]
	kill "$pid"
	wait_pid "$pid" 5
}

@test "a type's follow and when count that type, through /ingest too" {
	mount_countfs
	OUT=$BATS_TEST_TMPDIR/out
	timeout 30 cat "$MNT/videos/t/events/likes/follow" >"$OUT" 3>&- &
	pid=$!
	output_becomes "$OUT" $'0\n'
	echo 7 >>"$MNT/videos/t/events/likes/count"
	output_becomes "$OUT" $'0\n1\n'
	printf 't likes 3\nu likes 1\nt views\n' >>"$MNT/ingest"
	output_becomes "$OUT" $'0\n1\n2\n'
	run timeout 10 cat "$MNT/videos/t/events/likes/when/2"
	[ "$status" -eq 0 ]
	[ "$output" = "2" ]
	kill "$pid"
	wait_pid "$pid" 5
}

@test "when/N answers once the count is N or more, and blocks before" {
	mount_countfs
	content_is "$MNT/videos/w/when/0" $'0\n'
	echo >>"$MNT/videos/w/views"
	content_is "$MNT/videos/w/when/1" $'1\n'
	run -124 timeout 1 cat "$MNT/videos/w/when/3"
	[ "$output" = "" ]
	OUT=$BATS_TEST_TMPDIR/out
	timeout 30 cat "$MNT/videos/w/when/3" >"$OUT" 3>&- &
	pid=$!
	echo >>"$MNT/videos/w/views"
	still_blocked "$pid" 0.3
	append_once "$MNT/videos/w/views" $'\n\n'
	wait_pid "$pid" 10
	[ "$WAIT_STATUS" -eq 0 ]
	run cat "$OUT"
	[ "$status" -eq 0 ]
	[ "$output" = "4" ]
	content_is "$MNT/videos/w/when/4" $'4\n'
}

@test "follow and when: names, modes, refusals; none under /global" {
	mount_countfs
	run ls "$MNT/videos/n"
	[ "$status" -eq 0 ]
	[ "$output" = $'events\nfollow\nrange\nseries\nviews\nwhen' ]
	run ls "$MNT/videos/n/events/likes"
	[ "$status" -eq 0 ]
	[ "$output" = $'avg\ncount\nfollow\nmax\nmin\nrange\nseries\nsum\nwhen' ]
	run stat -c %A "$MNT/videos/n/follow" "$MNT/videos/n/when" \
		"$MNT/videos/n/when/5" "$MNT/videos/n/events/likes/when/9"
	[ "$output" = $'-r--r--r--\ndrwxr-xr-x\n-r--r--r--\n-r--r--r--' ]
	for bad in when/05 when/x when/-1 when/9223372036854775808; do
		run -1 stat "$MNT/videos/n/$bad"
		[[ "$output" = *"No such file"* ]] || { echo "$bad: $output"; false; }
	done
	for bad in when/1/2 follow/x; do
		run -1 stat "$MNT/videos/n/$bad"
		[[ "$output" = *"Not a directory"* ]] || { echo "$bad: $output"; false; }
	done
	run -124 timeout 0.5 cat "$MNT/videos/n/when/9223372036854775807"
	run -2 sh -c "echo > '$MNT/videos/n/follow'"
	[[ "$output" = *"Permission denied"* ]]
	run -1 stat "$MNT/global"
}

@test "Ctrl-C or timeout(1) ends a blocked read at once (EINTR)" {
	mount_countfs
	OUT=$BATS_TEST_TMPDIR/out
	python3 "$ROOT/tests/helpers/sigdfl.py" cat "$MNT/videos/c/follow" >"$OUT" 3>&- &
	pid=$!
	output_becomes "$OUT" $'0\n'
	still_blocked "$pid" 0.3
	kill -INT "$pid"
	wait_pid "$pid" 2
	[ "$WAIT_STATUS" -eq 130 ] # killed by SIGINT
	start=$SECONDS
	run -124 timeout 1 cat "$MNT/videos/c/when/5"
	((SECONDS - start <= 3))
	# The mount serves on, and what was parked is gone.
	echo >>"$MNT/videos/c/views"
	content_is "$MNT/videos/c/views" $'1\n'
	content_is "$MNT/videos/c/when/1" $'1\n'
}

@test "an unmount ends every blocked read with EOF: cat exits 0 with its output" {
	mount_countfs
	echo >>"$MNT/videos/u/views"
	pids=()
	for i in 1 2 3; do
		cat "$MNT/videos/u/follow" >"$BATS_TEST_TMPDIR/f$i" 3>&- &
		pids+=($!)
		cat "$MNT/videos/u/when/9" >"$BATS_TEST_TMPDIR/w$i" 3>&- &
		pids+=($!)
	done
	for i in 1 2 3; do
		output_becomes "$BATS_TEST_TMPDIR/f$i" $'1\n'
	done
	still_blocked "${pids[0]}" 0.3
	# Busy: a lazy unmount, as fusermount3 -uz (or umount -l) does.
	fusermount3 -uz "$MNT"
	for p in "${pids[@]}"; do
		wait_pid "$p" 10
		[ "$WAIT_STATUS" -eq 0 ]
	done
	for i in 1 2 3; do
		run cat "$BATS_TEST_TMPDIR/f$i"
		[ "$output" = "1" ]
		run cat "$BATS_TEST_TMPDIR/w$i"
		[ "$output" = "" ]
	done
	# The daemon ends by itself once the last file is closed.
	wait_pid "$COUNTFS_PID" 20
	[ "$WAIT_STATUS" -eq 0 ]
	COUNTFS_PID=
	check_log
}

@test "stopping the daemon ends every blocked read with EOF" {
	mount_countfs
	OUT=$BATS_TEST_TMPDIR/out
	cat "$MNT/videos/s/follow" >"$OUT" 3>&- &
	pid=$!
	output_becomes "$OUT" $'0\n'
	kill -TERM "$COUNTFS_PID"
	wait_pid "$pid" 10
	[ "$WAIT_STATUS" -eq 0 ]
	run cat "$OUT"
	[ "$output" = "0" ]
	wait_pid "$COUNTFS_PID" 20
	[ "$WAIT_STATUS" -eq 0 ]
	COUNTFS_PID=
	check_log
}

@test "a stop while follow readers are answered and read again ends every one of them with EOF, none with an error" {
	mount_countfs
	# 600 readers of 100 videos (follow and when/N); a writer changes
	# them while the daemon gets SIGTERM, so that some readers are
	# between two reads when it stops.
	timeout 60 python3 - "$MNT" >"$BATS_TEST_TMPDIR/readers" <<'EOF' &
import os, random, sys, threading, time
m = sys.argv[1]
vids = ["s%d" % i for i in range(100)]
eof, errs = [], []
def rd(i):
    p = "%s/videos/%s/%s" % (m, vids[i % 100], "when/1000000000" if i % 3 == 0 else "follow")
    fd = os.open(p, os.O_RDONLY)
    try:
        while os.read(fd, 64):
            pass
        eof.append(i)
    except OSError as e:
        errs.append(e.errno)
    os.close(fd)
ts = [threading.Thread(target=rd, args=(i,)) for i in range(600)]
for t in ts:
    t.start()
open(m + "/../ready", "w").close()
ing = os.open(m + "/ingest", os.O_WRONLY | os.O_APPEND)
try:
    while True:
        os.write(ing, "".join("%s views\n" % v for v in random.sample(vids, 50)).encode())
except OSError:
    pass
for t in ts:
    t.join()
print("eof %d errors %s" % (len(eof), sorted(set(errs))))
EOF
	py=$!
	deadline=$((SECONDS + 30))
	until [ -e "$MNT/../ready" ]; do
		((SECONDS < deadline))
		sleep 0.1
	done
	sleep 1
	kill -TERM "$COUNTFS_PID"
	wait_pid "$COUNTFS_PID" 30
	[ "$WAIT_STATUS" -eq 0 ]
	COUNTFS_PID=
	wait_pid "$py" 30
	run cat "$BATS_TEST_TMPDIR/readers"
	[ "$status" = 0 ]
	[ "$output" = "eof 600 errors []" ]
	check_log
}

@test "2,000 blocked follow readers cost no thread and no CPU: the mount keeps answering" {
	mount_countfs
	python3 - "$MNT" 2000 20 "$COUNTFS_PID" <<'EOF'
import os, sys, threading, time
mnt, n, videos = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def cpu_ticks():  # the daemon's utime + stime
    with open(f"/proc/{sys.argv[4]}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
threading.stack_size(256 * 1024)
fds = [os.open(f"{mnt}/videos/hot{i % videos}/follow", os.O_RDONLY)
       for i in range(n)]
for fd in fds:  # the first read answers at once
    assert os.read(fd, 64) == b"0\n"
got = [None] * n
def follow(i):
    got[i] = os.read(fds[i], 64)  # parks until the count moves
threads = [threading.Thread(target=follow, args=(i,), daemon=True)
           for i in range(n)]  # a failed assert exits at once
for t in threads:
    t.start()
time.sleep(1)
ticks = cpu_ticks()
time.sleep(2)
idle = cpu_ticks() - ticks
assert idle <= 10, f"the daemon used {idle} ticks in 2 s with readers parked"
assert all(g is None for g in got), "a reader returned before a change"
# Others append and read other videos while 2,000 reads are parked.
t0 = time.time()
for j in range(300):
    p = f"{mnt}/videos/other{j % 30}/views"
    with open(p, "a") as f:
        f.write("\n")
    with open(p) as f:
        f.read()
took = time.time() - t0
assert took < 20, f"300 appends and reads took {took:.1f}s"
for v in range(videos):
    with open(f"{mnt}/videos/hot{v}/views", "a") as f:
        f.write("\n")
for t in threads:
    t.join(30)
late = sum(t.is_alive() for t in threads)
assert late == 0, f"{late} readers not woken"
assert all(g == b"1\n" for g in got), set(got)
print(f"2000 woken; idle: {idle} ticks in 2 s; 300 appends and reads in {took:.2f}s")
EOF
	content_is "$MNT/videos/other0/views" $'10\n'
}

@test "poll: a counter fd is readable when its count moved since it last read" {
	mount_countfs
	echo >>"$MNT/videos/p/views"
	run python3 - "$MNT" <<'EOF'
import os, select, sys, threading, time
mnt = sys.argv[1]
fd = os.open(f"{mnt}/videos/p/views", os.O_RDONLY)
avg = os.open(f"{mnt}/videos/p/events/views/avg", os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
assert p.poll(0) == [(fd, select.POLLIN)], "a fresh fd is readable"
assert os.pread(fd, 64, 0) == b"1\n"
assert os.pread(avg, 64, 0) == b"1\n"
assert p.poll(300) == [], "nothing moved: not readable"
def append():
    time.sleep(0.3)
    with open(f"{mnt}/videos/p/views", "a") as f:
        f.write("3\n")
threading.Thread(target=append).start()
t0 = time.time()
r = p.poll(5000)
took = time.time() - t0
assert r == [(fd, select.POLLIN)], r
assert 0.2 < took < 2, took
assert p.poll(0) == [(fd, select.POLLIN)], "readable until read"
assert os.pread(fd, 64, 0) == b"2\n"
assert p.poll(200) == [], "read: not readable again"
# select(2) too, and on another function of the same series
r, _, _ = select.select([avg], [], [], 0)
assert r == [avg], "avg's fd read 1 event, the series has 2"
assert os.pread(avg, 64, 0) == b"2\n"
r, _, _ = select.select([avg], [], [], 0.2)
assert r == []
print("ok")
EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$output" = "ok" ]
}

@test "poll on when/N waits for N; O_NONBLOCK reads of follow and when/N are EAGAIN, not a wait" {
	mount_countfs
	echo >>"$MNT/videos/q/views"
	run timeout 10 python3 - "$MNT" <<'EOF'
import errno, os, select, sys
mnt = sys.argv[1]
def eagain(fd):
    try:
        os.read(fd, 64)
    except OSError as e:
        return e.errno == errno.EAGAIN
    return False
w = os.open(f"{mnt}/videos/q/when/3", os.O_RDONLY | os.O_NONBLOCK)
p = select.poll()
p.register(w, select.POLLIN)
assert p.poll(200) == [], "when/3 at 1 is not readable"
assert eagain(w), "when/3 at 1: EAGAIN"
f = os.open(f"{mnt}/videos/q/follow", os.O_RDONLY | os.O_NONBLOCK)
assert os.read(f, 64) == b"1\n", "follow's first read answers at once"
assert eagain(f), "follow, unchanged: EAGAIN"
v = os.open(f"{mnt}/videos/q/views", os.O_WRONLY | os.O_APPEND)
os.write(v, b"\n")
assert p.poll(200) == [], "when/3 at 2 is not readable"
os.write(v, b"\n")
assert p.poll(2000) == [(w, select.POLLIN)], "when/3 at 3 is readable"
assert os.read(w, 64) == b"3\n"
assert os.read(w, 64) == b"", "then EOF"
assert os.read(f, 64) == b"3\n", "follow, changed: the new count"
# A blocking when/N fd polls the same way.
b = os.open(f"{mnt}/videos/q/when/4", os.O_RDONLY)
p.register(b, select.POLLIN)
assert (b, select.POLLIN) not in p.poll(200)
print("ok")
EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$output" = "ok" ]
}

@test "under churn a follow count only rises, and readers interrupted while a change is read leave nothing behind" {
	# 40 videos, 2 followers each, printing what they read; 4 writers
	# send 400 writes each of one view of every video (the wake threads
	# share the queue and changes come while they read), and 300
	# short-lived readers are interrupted (SIGINT) or end at random, some
	# of them while their series' count is being read.
	mount_countfs
	run timeout 120 python3 - "$MNT" <<'EOF'
import os, random, signal, subprocess, sys, threading
m = sys.argv[1]
batch = "".join("c%d views\n" % v for v in range(40)).encode()
ingest = m + "/ingest"
seen = []
def follow(v):
    got = []
    with open("%s/videos/c%d/follow" % (m, v), "rb", buffering=0) as fh:
        while not got or got[-1] < 1600:
            got.append(int(fh.read(64)))
    seen.append(got)
followers = [threading.Thread(target=follow, args=(i % 40,)) for i in range(80)]
for t in followers:
    t.start()
def write():
    fd = os.open(ingest, os.O_WRONLY | os.O_APPEND)
    for _ in range(400):
        os.write(fd, batch)
    os.close(fd)
def churn():
    for _ in range(100):
        p = subprocess.Popen(["cat", "%s/videos/c%d/follow" % (m, random.randrange(40))],
                             stdout=subprocess.DEVNULL)
        if random.random() < 0.5:
            os.sched_yield()
        p.send_signal(random.choice([signal.SIGINT, signal.SIGTERM]))
        p.wait()
writers = [threading.Thread(target=write) for _ in range(4)]
churners = [threading.Thread(target=churn) for _ in range(3)]
for t in writers + churners:
    t.start()
for t in writers + churners + followers:
    t.join()
bad = [s for s in seen if any(b <= a for a, b in zip(s, s[1:]))]
print("followers %d, backwards %d, last %s" % (len(seen), len(bad), sorted({s[-1] for s in seen})))
if bad:
    print("a sequence that fell or repeated:", bad[0][:50])
EOF
	echo "$output"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "followers 80, backwards 0, last [1600]" ]
	content_is "$MNT/videos/c7/views" $'1600\n'
	# The mount still serves a new follower at once.
	run timeout 5 head -c 5 "$MNT/videos/c7/follow"
	[ "$status" = 0 ]
	[ "$output" = "1600" ]
}
