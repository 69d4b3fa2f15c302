#!/usr/bin/env bash
# Runs pg_regress and the TAP tests on every PostgreSQL whose source tarball
# is in ../shared/postgresql (or $FMREC_PG_SOURCES), besides Debian's 15
# that test/run_all_tests.sh tests fully.
#
#   test/run_versions.sh                     every tarball found
#   test/run_versions.sh TARBALL...          these ones
#
# Each PostgreSQL is built once per machine (test/build_postgres.sh, cached
# outside the clone, keyed by the tarball's SHA-256).  fmrec is built with
# -Werror in a copy of the tree (so the clone's build for 15 stays), installed
# into that PostgreSQL, and tested there: pg_regress on a throwaway cluster,
# then the TAP tests.  The load test runs $FMREC_VERSIONS_LOAD_SECONDS (15 by
# default; 60 on 15) to keep the suite inside CI's budget.  The rest of the
# suite (unit tests, MovieLens quality, README walkthrough, pg_cron, which
# Debian packages only for 15) runs on 15 only.
#
# Prints one line per version: its pg_regress and TAP counts and the time
# it took (the PostgreSQL build, when it was not cached, and the tests).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

SOURCES=${FMREC_PG_SOURCES:-$FMREC_ROOT/../shared/postgresql}
LOAD_SECONDS=${FMREC_VERSIONS_LOAD_SECONDS:-15}
WORK=$(mktemp -d /tmp/fmrec-versions.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# "N passed, M failed" of the last summary line NAME printed in LOG; a
# suite that failed without a failed test, or printed no summary, counts as
# one failure.
counts() {	# counts NAME LOG
	local line p f
	line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1 | sed -E "s/^$1: //" || true)
	p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
	[ -n "$line" ] || { p=0; f=0; }
	if [ "$f" -eq 0 ] && { [ -z "$line" ] || grep -q "^$1-status: failed" "$2"; }; then f=1; fi
	echo "$p passed, $f failed"
}

# Tests fmrec on the PostgreSQL of pg_config $1, in a copy of the tree at $2.
# Runs in a subshell: common.sh is sourced again with that PG_CONFIG.
test_version() {	# test_version PG_CONFIG COPY LOG
	local pgc=$1 copy=$2
	mkdir -p "$copy"
	tar -C "$FMREC_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./tmp_check --exclude='./test/*/build' \
		-cf - . | tar -C "$copy" -xf -
	(
		export PG_CONFIG=$pgc
		source "$copy/test/lib/common.sh"
		make -C "$FMREC_ROOT" -s clean >/dev/null
		if ! (build_and_install); then
			echo "fmrec did not build (with -Werror) against $("$PG_CONFIG" --version)"
			echo "pg_regress: 0 passed, 1 failed"
			echo "tap: 0 passed, 1 failed"
			return 0
		fi
		start_cluster
		regress || echo "pg_regress-status: failed"
		stop_cluster
		FMREC_LOAD_SECONDS=$LOAD_SECONDS bash "$FMREC_ROOT/test/run_tap_tests.sh" \
			|| echo "tap-status: failed"
	)
}

main() {
	local tarballs=("$@") tarball pgc version start built cached log line
	local regress_counts tap_counts p f total_passed=0 total_failed=0 lines=()
	if [ ${#tarballs[@]} -eq 0 ]; then
		shopt -s nullglob
		tarballs=("$SOURCES"/postgresql-*.tar.*)
		shopt -u nullglob
	fi
	if [ ${#tarballs[@]} -eq 0 ]; then
		echo "no PostgreSQL source tarballs in $SOURCES: only Debian's 15 is tested"
		echo "versions: 0 passed, 0 failed"
		return 0
	fi
	for tarball in "${tarballs[@]}"; do
		start=$(date +%s)
		log "PostgreSQL from $(basename "$tarball")"
		cached=
		bash "$FMREC_ROOT/test/build_postgres.sh" --cached "$tarball" && cached=1
		pgc=$(bash "$FMREC_ROOT/test/build_postgres.sh" "$tarball") || {
			lines+=("$(basename "$tarball"): PostgreSQL did not build")
			total_failed=$((total_failed + 1)); continue; }
		built=$(( $(date +%s) - start ))
		version=$("$pgc" --version)
		log="$WORK/$(basename "$tarball").log"
		start=$(date +%s)
		test_version "$pgc" "$WORK/fmrec-$(basename "$tarball")" 2>&1 | tee "$log" || true
		regress_counts=$(counts pg_regress "$log")
		tap_counts=$(counts tap "$log")
		for line in "$regress_counts" "$tap_counts"; do
			p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
			total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
		done
		line=$(printf '%-22s pg_regress %-20s TAP %-20s tests %4d s, PostgreSQL build ' \
			"$version:" "$regress_counts;" "$tap_counts;" "$(( $(date +%s) - start ))")
		if [ -n "$cached" ]; then
			line+="cached"
		else
			line+="$built s ($(cat "$(dirname "$(dirname "$(dirname "$pgc")")")/build-cpu-seconds" \
				2>/dev/null || echo ?) s CPU)"
		fi
		lines+=("$line")
		rm -rf "$WORK/fmrec-$(basename "$tarball")"
	done
	echo
	printf '%s\n' "${lines[@]}"
	echo "versions: $total_passed passed, $total_failed failed"
	[ "$total_failed" -eq 0 ]
}

main "$@"
