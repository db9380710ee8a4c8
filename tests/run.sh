#!/bin/sh
# tests/run.sh - what `make test` runs: shellcheck of every shell script,
# the C unit tests, the core bats files under valgrind and every other one
# against the ASan/UBSan build, the suites that time things against
# ./countfs, and the threaded suites against the ThreadSanitizer build.
# Set TESTS="views range" to run a subset, plain and under ASan (TSAN=1
# runs it under TSan too; TSAN=0 skips the TSan pass).  VALGRIND=0 skips
# valgrind: its files then run under ASan.
# $(files) is bats file names, one word each.
# shellcheck disable=SC2046
set -eu
cd "$(dirname "$0")/.."

files() {
	if [ -n "${TESTS:-}" ]; then
		for t in $TESTS; do printf 'tests/%s.bats ' "$t"; done
	else
		ls tests/*.bats
	fi
}

# Every shell script of the project: by its name (.sh, .bash, .bats) or
# by a #! line naming a shell.  -xdev: never into a mounted countfs.
shell_scripts() {
	find . -xdev \( -name .git -o -name build -o -name node_modules \) -prune \
		-o -type f -print | sort | while read -r f; do
		case $f in
		*.sh | *.bash | *.bats) echo "$f" ;;
		*) head -c 128 "$f" 2>/dev/null | head -n1 |
			grep -qE '^#!.*[/ ](sh|bash|dash|bats)( |$)' && echo "$f" ;;
		esac
	done
}

echo "== shellcheck: every shell script and bats file"
shell_scripts | xargs shellcheck -x
# What shellcheck does not flag: "[ a ] && [ b ]" as a check in a bats
# test, where set -e ignores a.  One condition per line.
if grep -nE '^\s*\[\[? .*\]\]? && \[\[? ' tests/*.bats tests/*/*.bats; then
	echo "tests/run.sh: a && b above: only b can fail a bats test" >&2
	exit 1
fi

echo "== unit tests (store, line and path parsers, inode table)"
./store/test_store
./store/test_range
./store/test_keys
./store/test_top
./fs/test_line
./fs/test_inode

# Each suite runs once under a memory checker: the core files (views,
# lines, faults) under valgrind, which runs the shipped binary, the rest
# under ASan/UBSan.  The plain binary runs again only the suites where its
# timing is the point: replication's outages and hung shards, kill -9
# and concurrent writers, blocked readers, and the journal's batches
# (these also run under TSan); of replication only the tests tagged
# "timed".  A plain pass of every suite added eight minutes and no check.
# range.bats mostly sleeps, waiting two minutes for the clock and
# retention: it runs under ASan beside the other passes, its output
# shown at the end.
valgrind_files="tests/views.bats tests/lines.bats tests/faults.bats"
timed_files="tests/concurrency.bats tests/durability.bats tests/live.bats tests/ingest.bats"
beside_file=tests/range.bats
plain_files() {
	if [ -n "${TESTS:-}" ]; then
		files
	else
		echo "$timed_files"
	fi
}
valgrind=1 # anything but VALGRIND=0 runs it
[ "${VALGRIND:-1}" != 0 ] || valgrind=0
[ -z "${TESTS:-}" ] || valgrind=0
asan_files() {
	if [ -n "${TESTS:-}" ] || [ "$valgrind" = 0 ]; then
		files
	else
		for f in $(files); do
			case " $valgrind_files $beside_file " in
			*" $f "*) ;;
			*) printf '%s ' "$f" ;;
			esac
		done
	fi
}

echo "== bats: ./countfs, the suites that time things ($timed_files; replicate's timed tests)"
COUNTFS_BIN=$PWD/countfs bats $(plain_files)
if [ -z "${TESTS:-}" ]; then
	COUNTFS_BIN=$PWD/countfs bats --filter-tags timed tests/replicate.bats
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
beside_pid=
if [ -z "${TESTS:-}" ]; then
	beside_out=$(mktemp)
	COUNTFS_BIN=$PWD/countfs-asan bats "$beside_file" >"$beside_out" 2>&1 &
	beside_pid=$!
	# On a failure below, let it finish (and unmount) before exiting.
	trap 'wait "$beside_pid" 2>/dev/null; rm -f "$beside_out"; exit 1' EXIT
fi
echo "== bats: ./countfs-asan (AddressSanitizer, UndefinedBehaviorSanitizer)"
COUNTFS_BIN=$PWD/countfs-asan bats $(asan_files)
unset ASAN_OPTIONS UBSAN_OPTIONS

# TSan: the store's unit test (journal, group commit, concurrent writers)
# and the suites that run threads against each other.  A report makes the
# unit test exit non-zero and the daemon's log fail its test (check_log).
# Without ASLR, as TSan's fixed shadow layout can clash with a kernel's
# randomised mappings ("unexpected memory mapping").
tsan_files="tests/concurrency.bats tests/durability.bats tests/ingest.bats tests/live.bats"
tsan=${TSAN:-1}
if [ -n "${TESTS:-}" ]; then
	tsan_files=$(files)
	tsan=${TSAN:-0}
fi
if [ "$tsan" = 1 ]; then
	echo "== ThreadSanitizer: store unit test; bats against ./countfs-tsan"
	norand=
	if setarch "$(uname -m)" -R true 2>/dev/null; then
		norand="setarch $(uname -m) -R"
	fi
	# Where setarch -R is not allowed (a container's seccomp), fewer
	# random bits in mmap addresses are the other way (root only).
	if ! $norand ./countfs-tsan --version >/dev/null 2>&1 &&
		[ "$(id -u)" = 0 ] &&
		sysctl -qw vm.mmap_rnd_bits=28 2>/dev/null; then
		echo "(vm.mmap_rnd_bits set to 28 for TSan)"
	fi
	if ! $norand ./countfs-tsan --version >/dev/null; then
		echo "the TSan build does not run here" >&2
		exit 1
	fi
	export TSAN_OPTIONS="halt_on_error=0 history_size=7 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
	$norand ./store/test_store-tsan
	# shellcheck disable=SC2086 # lists of words
	COUNTFS_WRAP=$norand COUNTFS_BIN=$PWD/countfs-tsan bats $tsan_files
	unset TSAN_OPTIONS
fi

if [ "$valgrind" = 1 ]; then
	echo "== bats under valgrind: $valgrind_files"
	# shellcheck disable=SC2086 # a list of words
	COUNTFS_WRAP="valgrind -q --suppressions=$PWD/tests/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no" \
	MOUNT_TIMEOUT=60 COUNTFS_BIN=$PWD/countfs \
	bats $valgrind_files
fi
if [ -n "$beside_pid" ]; then
	echo "== bats: ./countfs-asan $beside_file (it ran beside the passes above)"
	beside_rc=0
	wait "$beside_pid" || beside_rc=$?
	beside_pid=
	cat "$beside_out"
	trap - EXIT
	rm -f "$beside_out"
	[ "$beside_rc" = 0 ]
fi
echo "== all tests passed"
