#!/bin/sh
# run.sh - `make torture`: the fault scenarios of torture.bats, then their
# report: scenario, events acknowledged, events counted, lost, doubled
# (counted but never acknowledged: in flight at a crash), seconds to
# recover.  SANITIZE=1 runs them against the ASan/UBSan build (RSS
# bounds are then not checked: the sanitizer's shadow memory counts).
set -u
cd "$(dirname "$0")/../.." || exit 1
report=$(mktemp)
bin=$PWD/countfs
if [ "${SANITIZE:-0}" = 1 ]; then
	bin=$PWD/countfs-asan
	export ASAN=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=16:verify_asan_link_order=0
	export UBSAN_OPTIONS=print_stacktrace=1
fi
echo "== make torture: $(basename "$bin"), KILLS=${KILLS:-50}, SOAK_SECONDS=${SOAK_SECONDS:-600}"
TORTURE_REPORT=$report COUNTFS_BIN=$bin bats --timing tests/torture/torture.bats
rc=$?
echo
printf '| scenario | acknowledged | counted | lost | in flight | recover s |\n'
printf '|---|---|---|---|---|---|\n'
awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$report"
rm -f "$report"
exit $rc
