#!/usr/bin/env bats
# /videos/<video>/views: each appended line is a view; cat gives the count.

load helpers/common

setup() {
	mount_countfs
}

@test "a video that was never written reads 0" {
	content_is "$MNT/videos/abc/views" $'0\n'
}

@test "echo >> views records one view each time" {
	# shellcheck disable=SC2129 # one open, write and close each, on purpose
	echo >>"$MNT/videos/abc/views"
	echo >>"$MNT/videos/abc/views"
	echo >>"$MNT/videos/abc/views"
	content_is "$MNT/videos/abc/views" $'3\n'
}

@test "echo > views (O_TRUNC, no O_APPEND) records too" {
	run $FSOP trunc "$MNT/videos/abc/views" '\n'
	[ "$output" = "OK 1" ]
	echo >"$MNT/videos/abc/views"
	content_is "$MNT/videos/abc/views" $'2\n'
}

@test "views and events/views/count are the same counter" {
	echo >>"$MNT/videos/v1/views"
	echo >>"$MNT/videos/v1/events/views/count"
	content_is "$MNT/videos/v1/views" $'2\n'
	content_is "$MNT/videos/v1/events/views/count" $'2\n'
}

@test "several lines in one write are several views" {
	printf '\n\n\n\n\n' >>"$MNT/videos/abc/views"
	content_is "$MNT/videos/abc/views" $'5\n'
}

@test "videos are counted separately" {
	echo >>"$MNT/videos/a/views"
	echo >>"$MNT/videos/b/views"
	echo >>"$MNT/videos/b/views"
	content_is "$MNT/videos/a/views" $'1\n'
	content_is "$MNT/videos/b/views" $'2\n'
}

@test "any valid name can be looked up without mkdir" {
	name=$(printf 'v%.0s' {1..128})
	[ -d "$MNT/videos/$name" ]
	[ -d "$MNT/videos/A-b_c.9" ]
	[ -d "$MNT/videos/A-b_c.9/events/some_type_1" ]
	content_is "$MNT/videos/$name/views" $'0\n'
}

@test "invalid video names are ENOENT" {
	name=$(printf 'v%.0s' {1..129})
	run $FSOP read "$MNT/videos/$name/views"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/videos/a b/views"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/videos/a\$b/views"
	[ "$output" = ENOENT ]
	run $FSOP write "$MNT/videos/a:b/views" '\n'
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/videos/abc/nothing"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/nothing"
	[ "$output" = ENOENT ]
	run $FSOP read "$MNT/videos/abc/events/Bad-Type/count"
	[ "$output" = ENOENT ]
	[ ! -e "$MNT/videos/.." ] || [ "$(cd "$MNT/videos/.." && pwd)" = "$MNT" ]
}

@test "readdir of /videos lists what was recorded" {
	run -0 ls "$MNT/videos"
	[ "$output" = "" ]
	echo >>"$MNT/videos/first/views"
	echo x-ignored >/dev/null
	echo 1 >>"$MNT/videos/second/events/likes/count"
	run ls "$MNT/videos"
	[ "$output" = $'first\nsecond' ]
	run ls "$MNT"
	[ "$output" = $'ingest\nstats\ntop\nvideos' ]
	run ls "$MNT/videos/first"
	[ "$output" = $'events\nrange\nseries\nviews' ]
}

@test "read-your-writes: every write is visible to the next read" {
	for i in $(seq 1 50); do
		echo >>"$MNT/videos/ryw/views"
		[ "$(cat "$MNT/videos/ryw/views")" = "$i" ]
	done
}

@test "a persistent reader sees fresh counts (no stale page cache)" {
	run python3 -c '
import os, sys
mnt = sys.argv[1]
r = os.open(mnt + "/videos/pc/views", os.O_RDONLY)
w = os.open(mnt + "/videos/pc/views", os.O_WRONLY | os.O_APPEND)
seen = []
for i in range(20):
    os.write(w, b"\n")
    seen.append(int(os.pread(r, 64, 0)))
print(seen == list(range(1, 21)))
' "$MNT"
	[ "$output" = True ]
}

@test "a bad line fails with EINVAL and records nothing" {
	run $FSOP write "$MNT/videos/abc/views" 'bad\n'
	[ "$output" = EINVAL ]
	content_is "$MNT/videos/abc/views" $'0\n'
	grep -q 'write refused (EINVAL): value is not an integer' "$LOG"
}

@test "one bad line refuses the whole write" {
	run $FSOP write "$MNT/videos/abc/views" '\n\n\nx\n\n'
	[ "$output" = EINVAL ]
	content_is "$MNT/videos/abc/views" $'0\n'
	run $FSOP write "$MNT/videos/abc/views" '\n\n\n3\n\n'
	[ "$output" = "OK 6" ]
	content_is "$MNT/videos/abc/views" $'5\n'
}

@test "the daemon keeps serving after bad input" {
	for bad in 'x\n' '@\n' '#\n' '1 2\n'; do
		run $FSOP write "$MNT/videos/abc/views" "$bad"
		[ "$output" = EINVAL ]
	done
	echo >>"$MNT/videos/abc/views"
	content_is "$MNT/videos/abc/views" $'1\n'
}

@test "writes to directories and read-only files are refused" {
	run $FSOP write "$MNT/videos/abc" '\n'
	[ "$output" = EISDIR ]
	run $FSOP write "$MNT/stats" '\n'
	[ "$output" = EACCES ]
	run $FSOP write "$MNT/videos/abc/newfile" '\n'
	[ "$output" = ENOENT ]
	run touch "$MNT/videos/abc/newfile"
	[ "$status" -ne 0 ]
	run rm "$MNT/videos/abc/views"
	[ "$status" -ne 0 ]
	content_is "$MNT/videos/abc/views" $'0\n'
}

@test "truncate, ftruncate and lseek(SEEK_END) work on an open counter" {
	echo >>"$MNT/videos/abc/views"
	run truncate -s 0 "$MNT/videos/abc/views"
	[ "$status" = 0 ]
	run python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
os.ftruncate(fd, 0)
print("end", os.lseek(fd, 0, os.SEEK_END))
print("size", os.fstat(fd).st_size)
try:
    os.ftruncate(fd, 5)
    print("truncated to 5")
except OSError as e:
    print(errno.errorcode[e.errno])
os.write(fd, b"\n")
os.close(fd)
' "$MNT/videos/abc/views"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "end 0" ]
	[ "${lines[1]}" = "size 0" ]
	[ "${lines[2]}" = EINVAL ]
	run truncate -s 7 "$MNT/videos/abc/views"
	[ "$status" = 1 ]
	[[ "$output" == *"Invalid argument"* ]]
	content_is "$MNT/videos/abc/views" $'2\n'
}

@test "links, symlinks, fifos, chmod and chown are EACCES" {
	V=$MNT/videos/abc
	run python3 -c '
import errno, os, sys
v = sys.argv[1]
def attempt(name, f):
    try:
        f()
        print(name, "OK")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
attempt("symlink", lambda: os.symlink("views", v + "/s"))
attempt("link", lambda: os.link(v + "/views", v + "/l"))
attempt("mkfifo", lambda: os.mkfifo(v + "/f"))
attempt("mknod", lambda: os.mknod(v + "/n"))
attempt("chmod", lambda: os.chmod(v + "/views", 0o600))
attempt("chown", lambda: os.chown(v + "/views", os.getuid(), os.getgid()))
' "$V"
	[ "$status" = 0 ]
	[ "${lines[0]}" = "symlink EACCES" ]
	[ "${lines[1]}" = "link EACCES" ]
	[ "${lines[2]}" = "mkfifo EACCES" ]
	[ "${lines[3]}" = "mknod EACCES" ]
	[ "${lines[4]}" = "chmod EACCES" ]
	[ "${lines[5]}" = "chown EACCES" ]
}
