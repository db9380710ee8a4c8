#!/bin/sh
# run.sh - `make torture`: the fault scenarios of torture.bats, then their
# report: scenario, events acknowledged, events counted, lost, doubled
# (counted but never acknowledged: in flight at a crash), seconds to
# recover.
set -u
cd "$(dirname "$0")/../.."
report=$(mktemp)
TORTURE_REPORT=$report COUNTFS_BIN=$PWD/countfs bats tests/torture/torture.bats
rc=$?
echo
printf '| scenario | acknowledged | counted | lost | in flight | recover s |\n'
printf '|---|---|---|---|---|---|\n'
awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$report"
rm -f "$report"
exit $rc
