#!/usr/bin/env bash
# Runs every fmrec test:
#   - the C core's unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   - the fuzz corpus replay of the fm_vector parsers
#   - pg_regress (sql/ + expected/) on a throwaway cluster
#   - the MovieLens loader tests, the RMSE quality bars, the README walkthrough
#   - the TAP tests (faults, load, replicas, dumps, pg_cron)
#   - the random-query crash test (sqlsmith)
#   - pg_regress and the TAP tests on every PostgreSQL source tarball in
#     ../shared/postgresql (16 to 19, built once per machine)
#   - the Debian package: built, installed, CREATE EXTENSION
# Installs what is missing (Debian packages) and builds first.
#
#   sudo test/run_all_tests.sh
#
# MovieLens tests read ../shared/data/movielens-100k or $FMREC_MOVIELENS_DIR
# and say clearly when the data set is absent.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
LOG_DIR=$(mktemp -d /tmp/fmrec-tests.XXXXXX)

# Adds the counts of the last "N passed, N failed[, N skipped]" line of a log.
count_results() {	# count_results NAME STATUS LOG
	local name=$1 status=$2 log=$3 line p=0 f=0 s=0
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed.*/\2/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		if grep -qE '[0-9]+ skipped' <<<"$line"; then s=$(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line"); fi
	fi
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
	if [ "$f" -gt 0 ]; then FAILURES+=("$name"); fi
	printf '    %s: %d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
}

# run_suite NAME COMMAND...: runs a suite, shows its output, counts its results.
run_suite() {
	local name=$1 status=0 log="$LOG_DIR/$1.log"
	shift
	log "$name"
	"$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
	count_results "$name" "$status" "$log"
}

main() {
	build_and_install
	ensure_packages clang libclang-rt-14-dev libipc-run-perl "postgresql-$PG_MAJOR-cron"
	run_suite unit make -C "$FMREC_ROOT/test/unit" -s check
	if [ -f "$FMREC_ROOT/test/fuzz/Makefile" ]; then
		run_suite fuzz-replay make -C "$FMREC_ROOT/test/fuzz" -s replay
	fi
	start_cluster
	run_suite pg_regress regress
	run_suite quality bash "$FMREC_ROOT/test/movielens/quality_test.sh"
	run_suite ranking-quality bash "$FMREC_ROOT/test/movielens/ranking_quality_test.sh"
	run_suite features-quality bash "$FMREC_ROOT/test/movielens/features_quality_test.sh"
	run_suite fold-in bash "$FMREC_ROOT/test/movielens/fold_in_test.sh"
	if [ -f "$FMREC_ROOT/test/readme_walkthrough_test.sh" ]; then
		run_suite readme bash "$FMREC_ROOT/test/readme_walkthrough_test.sh"
	fi
	stop_cluster
	run_suite movielens-loader bash "$FMREC_ROOT/test/movielens/check.sh"
	run_suite cron bash "$FMREC_ROOT/test/cron_retrain_test.sh"
	run_suite sqlsmith bash "$FMREC_ROOT/test/sqlsmith_test.sh"
	if [ -f "$FMREC_ROOT/test/run_tap_tests.sh" ]; then
		run_suite tap bash "$FMREC_ROOT/test/run_tap_tests.sh"
	fi
	run_suite pg-versions bash "$FMREC_ROOT/test/run_versions.sh"
	run_suite debian-package bash "$FMREC_ROOT/test/debian_package_test.sh"
	echo
	[ "$FAILED" -eq 0 ] || echo "failed suites: ${FAILURES[*]} (logs in $LOG_DIR)"
	echo "fmrec: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
}

main "$@"
