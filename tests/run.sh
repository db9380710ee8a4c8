#!/bin/sh
# tests/run.sh - what `make test` runs: shellcheck of every shell script,
# the C unit tests, every bats file
# against ./countfs, again against the ASan/UBSan build, and a pass of the
# core files under valgrind.  Set TESTS="views range" to run a subset.
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

echo "== unit tests (store, line and path parsers)"
./store/test_store
./store/test_range
./fs/test_line

echo "== bats: ./countfs"
COUNTFS_BIN=$PWD/countfs bats $(files)

echo "== bats: ./countfs-asan (AddressSanitizer, UndefinedBehaviorSanitizer)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1 \
COUNTFS_BIN=$PWD/countfs-asan bats $(files)

if [ -z "${TESTS:-}" ] && [ "${VALGRIND:-1}" = 1 ]; then
	echo "== bats under valgrind: views, lines, ingest, range, faults"
	COUNTFS_WRAP="valgrind -q --suppressions=$PWD/tests/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no" \
	MOUNT_TIMEOUT=60 COUNTFS_BIN=$PWD/countfs \
	bats tests/views.bats tests/lines.bats tests/ingest.bats tests/range.bats \
		tests/faults.bats
fi
echo "== all tests passed"
