#!/usr/bin/env bash
# Runs fmrec's TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster) against
# the fmrec installed in the system PostgreSQL: the caller runs
# `make install` first (test/run_all_tests.sh does).
#
# Usage: test/run_tap_tests.sh [t/NNN_name.pl ...]    (default: all)
#        PROVE_FLAGS=-v test/run_tap_tests.sh ...      (every assertion)
#        FMREC_TAP_KEEP=1 test/run_tap_tests.sh ...    (keep clusters and logs)
#        FMREC_LOAD_SECONDS=10 ...   (shorter load test while developing; 60 by default)
#
# The tests run through PGXS (`make prove_installcheck`, TAP_TESTS = 1 in
# the Makefile).  They start their own throwaway clusters (initdb, a primary
# and a standby, crash restarts), which PostgreSQL refuses to do as root, so
# make runs as an unprivileged user (postgres when started as root) in a copy
# of the Makefile and test/t in a temporary directory: the repository may not
# be writable by that user.  Clusters listen on Unix sockets only.  Prints prove's summary
# and, for a failed test file, the end of its log; exits non-zero on any
# failure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

# PostgreSQL::Test::*, pg_regress and pg_config ship in postgresql-client-15,
# pgbench and amcheck in postgresql-15; IPC::Run is the one extra Perl module.
ensure_packages perl libipc-run-perl "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
PGXS_DIR=$("$PG_BIN/pg_config" --pkglibdir)/pgxs
SHARE_DIR=$("$PG_BIN/pg_config" --sharedir)
[ -f "$SHARE_DIR/extension/fmrec.control" ] \
	|| die "fmrec is not installed in $SHARE_DIR: run make install first"
[ -x "$PGXS_DIR/src/test/regress/pg_regress" ] \
	|| die "pg_regress not found under $PGXS_DIR (postgresql-client-$PG_MAJOR)"

WORK=$(mktemp -d /tmp/fmrec-tap.XXXXXX)
# FMREC_TAP_KEEP=1 keeps the directory: the logs are in tmp_check/log.
cleanup() { if [ -n "${FMREC_TAP_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
mkdir -p "$WORK/test"
cp "$FMREC_ROOT/Makefile" "$WORK/"
cp -r "$FMREC_ROOT/test/t" "$WORK/test/t"
chown -R "$(cluster_user)" "$WORK"
chmod 700 "$WORK"

tests=()
for t in "$@"; do tests+=("test/t/${t#t/}"); done
[ ${#tests[@]} -gt 0 ] || tests=($(cd "$WORK" && echo test/t/*.pl))

# PGXS's prove_installcheck puts the installed server first in PATH and
# points PG_REGRESS at the installed pg_regress.  Nothing here reads the
# repository: the tests find fmrec's scripts in the installation, like a
# user would.  PG_TEST_PORT_DIR keeps parallel runs off each other's ports.
log "TAP tests (make prove_installcheck) as $(cluster_user) in $WORK"
set +e
as_cluster_user env \
	PG_TEST_PORT_DIR="$WORK/portlock" \
	FMREC_LOAD_SECONDS="${FMREC_LOAD_SECONDS:-60}" \
	make -C "$WORK" -s prove_installcheck PG_CONFIG="$PG_CONFIG" \
	PROVE_TESTS="${tests[*]}" PROVE_FLAGS="--timer ${PROVE_FLAGS:-}" \
	2>&1 | tee "$WORK/prove.out"
status=${PIPESTATUS[0]}
set -e
grep -q '^Result: PASS' "$WORK/prove.out" || [ "$status" -ne 0 ] || status=1

if [ "$status" -ne 0 ]; then
	# The end of the log of each failed test file (its queries, psql
	# output, diagnostics; the servers' logs are beside it).
	for name in $(sed -n 's|^test/t/\([^ ]*\)\.pl .*Wstat.*|\1|p' "$WORK/prove.out"); do
		f="$WORK/tmp_check/log/regress_log_$name"
		[ -f "$f" ] || continue
		echo "---- end of $(basename "$f") ----"
		tail -n 60 "$f"
	done
fi

# The closing line test/run_all_tests.sh counts: assertions passed and
# failed; a test file that died without a failed assertion counts as one.
total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$WORK/prove.out" | tail -n 1)
failed=0
while read -r n; do
	[ "$n" -gt 0 ] || n=1
	failed=$((failed + n))
done < <(sed -n 's/.*(Wstat: .* Failed: \([0-9]*\)).*/\1/p' "$WORK/prove.out")
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "tap: $(( ${total:-0} - failed < 0 ? 0 : ${total:-0} - failed )) passed, $failed failed"
exit "$status"
