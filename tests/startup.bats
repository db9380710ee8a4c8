#!/usr/bin/env bats
# Start-up as an operator meets it: every argument and the mountpoint
# are checked before the data directory is made or opened, so a mistake
# leaves nothing behind; the data directory is chosen safely; an error
# prints once; the start-up line says what is served from where.
# shellcheck disable=SC2030,SC2031,SC2153 # COUNTFS_PID is per test, as meant; COUNTFS_BIN is common.bash's

load helpers/common

# The entries of directory $1, one per line ("" when empty).
entries() {
	ls -A "$1"
}

# Run countfs in the foreground with the given arguments, at most 20 s:
# if a mistake were accepted, it would mount and stay, and the test fail.
countfs_fg() {
	timeout 20 "$COUNTFS_BIN" -f "$@"
}

@test "a mistake on the command line leaves no ./data behind" {
	mkdir -p "$BATS_TEST_TMPDIR/cwd/m"
	cd "$BATS_TEST_TMPDIR/cwd"
	run -1 countfs_fg
	[[ "$output" = *"no mountpoint given"* ]]
	run -0 countfs_fg -o help
	[[ "$output" = "usage: countfs"* ]]
	[[ "$output" = *"-o recover[=KEEP]"* ]]
	run -1 countfs_fg m -o sycn=always
	[[ "$output" = *"unknown option"*"sycn=always"* ]]
	run -1 countfs_fg m --foo
	[[ "$output" = *"unknown option"*"--foo"* ]]
	run -1 countfs_fg /nonexistent
	[[ "$output" = "countfs: cannot mount on /nonexistent: No such file or directory" ]]
	run -1 countfs_fg m -o max_threads=many
	run -1 countfs_fg m -o dedup=10
	run -1 countfs_fg m -o shards=0
	touch afile
	run -1 countfs_fg afile
	[[ "$output" = "countfs: cannot mount on afile: not a directory" ]]
	rm afile
	[ "$(entries .)" = m ]
	run -32 mountpoint -q m # 32: not a mountpoint
}

@test "with a mount up, countfs without arguments says there is no mountpoint" {
	cd "$BATS_TEST_TMPDIR"
	DATA=$BATS_TEST_TMPDIR/data mount_countfs # ./data, as make run has it
	run -1 "$COUNTFS_BIN"
	[ "$output" = "countfs: no mountpoint given; see countfs --help" ]
}

@test "a mountpoint that is a countfs mount already is refused, naming its data directory" {
	mount_countfs
	run -1 "$COUNTFS_BIN" "$MNT" -f -o "data=$BATS_TEST_TMPDIR/other"
	[ "$output" = "countfs: $MNT is a countfs mount already (of $DATA): unmount it first, or pick another mountpoint" ]
	[ ! -e "$BATS_TEST_TMPDIR/other" ]
	content_is "$MNT/videos/a/views" $'0\n'
}

@test "data= empty, or inside the mountpoint, is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/cwd/m"
	cd "$BATS_TEST_TMPDIR/cwd"
	run -1 countfs_fg m -o data=
	[ "$output" = "countfs: data= is not valid: give a directory" ]
	run -1 countfs_fg m -o data=m/d
	[[ "$output" = *"data=$BATS_TEST_TMPDIR/cwd/m/d is not valid: the data directory cannot be inside the mountpoint" ]]
	run -1 countfs_fg m -o data=m
	[[ "$output" = *"cannot be inside the mountpoint" ]]
	[ "$(entries .)" = m ]
	[ "$(entries m)" = "" ]
}

@test "a non-empty directory that is not countfs's is refused and left as it was" {
	DATA=$BATS_TEST_TMPDIR/notes
	mkdir -p "$DATA" "$BATS_TEST_TMPDIR/m"
	echo keep >"$DATA/todo.txt"
	run -1 countfs_fg "$BATS_TEST_TMPDIR/m" -o "data=$DATA"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA is not empty and is not a countfs data directory (it holds 'todo.txt', which countfs does not make, and no shard or format line): give data= a new or empty directory" ]]
	[ "$(entries "$DATA")" = todo.txt ]
}

# A name countfs uses does not make a directory countfs's: ~/.ssh may
# hold a file named identity.  Without the check by every entry, countfs
# made its lock there and called it damaged; with -o recover it filled it
# with shards; a bad format file beside other files was "to be written
# back".  A shard or a format line proves a data directory.
@test "a directory holding a stray 'identity', 'creating' or 'format' is refused, naming the stranger, untouched" {
	mkdir -p "$BATS_TEST_TMPDIR/m"
	d=$BATS_TEST_TMPDIR/dotssh
	mkdir -p "$d"
	echo "-----BEGIN OPENSSH PRIVATE KEY-----" >"$d/identity"
	echo hosts >"$d/known_hosts"
	run -1 countfs_fg "$BATS_TEST_TMPDIR/m" -o "data=$d"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$d is not empty and is not a countfs data directory (it holds 'known_hosts', which countfs does not make, and no shard or format line)"* ]]
	[ "$(entries "$d")" = $'identity\nknown_hosts' ]
	run -1 countfs_fg "$BATS_TEST_TMPDIR/m" -o "data=$d,recover"
	[[ "$output" = *"it holds 'known_hosts'"* ]]
	[ "$(entries "$d")" = $'identity\nknown_hosts' ]
	for mark in creating format; do
		d=$BATS_TEST_TMPDIR/$mark
		mkdir -p "$d"
		echo "not a countfs line" >"$d/$mark"
		: >"$d/photo.jpg"
		run -1 countfs_fg "$BATS_TEST_TMPDIR/m" -o "data=$d"
		echo "$output"
		[[ "$output" = *"it holds 'photo.jpg', which countfs does not make"* ]]
		[ "$(entries "$d")" = "$mark"$'\nphoto.jpg' ]
	done
	run -32 mountpoint -q "$BATS_TEST_TMPDIR/m"
}

@test "a mountpoint that is a countfs data directory is refused" {
	mount_countfs
	mkdir -p "$BATS_TEST_TMPDIR/m2"
	run -1 countfs_fg "$DATA" -o "data=$BATS_TEST_TMPDIR/d2"
	[ "$output" = "countfs: cannot mount on $DATA: it is a countfs data directory; pick another mountpoint" ]
	[ ! -e "$BATS_TEST_TMPDIR/d2" ]
	content_is "$MNT/videos/a/views" $'0\n'
	# One never opened by this countfs (format line only) is one too.
	d=$BATS_TEST_TMPDIR/old
	mkdir -p "$d"
	echo "countfs data format 1" >"$d/format"
	run -1 countfs_fg "$d" -o "data=$BATS_TEST_TMPDIR/d2"
	[[ "$output" = *"it is a countfs data directory"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/d2" ]
}

# The kernel refuses an empty fsname= only at mount(2), after the data
# directory was made (likewise /dev/fuse closed to a user): a start that
# made it removes it again; one that filled an empty one empties it.
@test "a mount that fails after the data directory was made leaves no data behind" {
	mkdir -p "$BATS_TEST_TMPDIR/cwd/m"
	cd "$BATS_TEST_TMPDIR/cwd"
	run -1 countfs_fg m -o fsname=
	echo "$output"
	[[ "$output" = *"mount failed"* ]]
	[ "$(entries .)" = m ]
	mkdir -p empty/lost+found
	run -1 countfs_fg m -o fsname=,data=empty
	[ "$(entries empty)" = lost+found ]
	# A data directory that was there before is kept, whole.
	DATA=$BATS_TEST_TMPDIR/cwd/kept mount_countfs
	unmount_countfs
	before=$(entries kept)
	run -1 countfs_fg m -o fsname=,data=kept
	[ "$(entries kept)" = "$before" ]
	[ -d kept/shard-0 ]
	run -32 mountpoint -q m
}

@test "an empty directory, or a new filesystem's (lost+found only), becomes a data directory" {
	DATA=$BATS_TEST_TMPDIR/fresh
	mkdir -p "$DATA/lost+found"
	mount_countfs
	echo >>"$MNT/videos/a/views"
	content_is "$MNT/videos/a/views" $'1\n'
	[ "$(cat "$DATA/format")" = "countfs data format 4" ]
	[ -s "$DATA/identity" ]
}

@test "with a SOURCE, as mount(8) gives it, the data directory must be absolute" {
	mkdir -p "$BATS_TEST_TMPDIR/cwd/m"
	cd "$BATS_TEST_TMPDIR/cwd"
	run -1 countfs_fg countfs m
	[[ "$output" = "countfs: SOURCE countfs is a label and no data= is given: "*"name an absolute data directory as SOURCE or in -o data=" ]]
	run -1 countfs_fg countfs m -o data=rel
	[[ "$output" = "countfs: data=rel is not valid: with a SOURCE, as mount(8) gives it, the data directory must be an absolute path"* ]]
	run -1 countfs_fg sub/data m
	[[ "$output" = "countfs: SOURCE sub/data is not valid: "* ]]
	[ "$(entries .)" = m ]
	# Without a SOURCE, a relative data= is relative to here, as before.
	run -0 "$COUNTFS_BIN" m -o data=rel
	fusermount3 -u m
	[ -d rel/shard-0 ]
}

@test "from fstab, a bare-word SOURCE without data= is refused and nothing is made where mount ran" {
	[ "$(id -u)" = 0 ] || skip "needs root for mount -T in a private mount namespace"
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/bin" "$T/m" "$T/cwd"
	cp "$COUNTFS_BIN" "$T/bin/countfs" # mount.fuse3 runs it by its name
	printf 'countfs  %s/m  fuse.countfs  sync=second  0 0\n' "$T" >"$T/fstab"
	# shellcheck disable=SC2016 # expanded by the inner bash
	(cd "$T/cwd" && T=$T timeout 60 unshare -m --propagation private bash -uc '
		mount --bind "$T/bin" /usr/local/bin
		mount -T "$T/fstab" -a 2>"$T/err" && echo mounted >"$T/status"
		umount "$T/m" 2>/dev/null || true
	') || true
	cat "$T/err"
	[ ! -e "$T/status" ]
	grep -q "SOURCE countfs is a label and no data= is given" "$T/err"
	[ "$(entries "$T/cwd")" = "" ]
}

@test "the mount's source is the data directory; a fsname= of the user's wins" {
	mount_countfs
	[ "$(findmnt -n -o SOURCE,FSTYPE "$MNT")" = "$DATA fuse.countfs" ]
	unmount_countfs
	mount_countfs fsname=counts-a
	[ "$(findmnt -n -o SOURCE,FSTYPE "$MNT")" = "counts-a fuse.countfs" ]
	unmount_countfs
	# A comma in the directory is not taken for an option separator.
	"$COUNTFS_BIN" "$BATS_TEST_TMPDIR/a,b" "$MNT"
	[ "$(findmnt -n -o SOURCE "$MNT")" = "$BATS_TEST_TMPDIR/a,b" ]
	fusermount3 -u "$MNT"
	[ -d "$BATS_TEST_TMPDIR/a,b/shard-0" ]
}

@test "the start-up line gives the version, the mountpoint and the data directory" {
	mount_countfs
	version=$("$COUNTFS_BIN" --version | cut -d' ' -f2)
	grep -q "countfs info: countfs $version serving $MNT, data in $DATA, 4 shards, sync=second" "$LOG"
}

@test "a start-up error is printed once" {
	mount_countfs shards=2
	mkdir -p "$BATS_TEST_TMPDIR/m2"
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m2" -f -o "data=$DATA"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA is in use by another countfs process" ]]
	unmount_countfs
	run -1 "$COUNTFS_BIN" "$BATS_TEST_TMPDIR/m2" -f -o "data=$DATA,shards=3"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" = *"$DATA was made with shards=2, not 3; use the same value or a new data directory" ]]
}
