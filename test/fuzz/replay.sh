#!/bin/sh
# Runs the fuzz harness once on every input file in DIR... (README files
# skipped), ends with "fuzz replay: N passed, M failed" and fails if M > 0
# or if there was no input at all.
#
#   replay.sh BINARY DIR...
#
# All inputs go to one process, which is fast (a sanitized process takes up
# to half a second to start on a loaded machine).  That process stops at the
# first failing input, so on failure every input is run again on its own,
# to count and show each one that fails.
set -u
bin=$1
shift
log=$(mktemp)
all_log=$(mktemp)
trap 'rm -f "$log" "$all_log"' EXIT

dirs="$*"
for dir in $dirs; do
	shift
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		case "${f##*/}" in README*) continue ;; esac
		set -- "$@" "$f"
	done
done
if [ $# -eq 0 ]; then
	echo "fuzz replay: no input found in $dirs"
	exit 1
fi

# A libFuzzer binary runs file arguments once each and does not fuzz; it and
# driver.c both print one "Executed" line per input.
if timeout 120 "$bin" "$@" >"$all_log" 2>&1 &&
	[ "$(grep -c '^Executed ' "$all_log")" -eq $# ]; then
	echo "fuzz replay: $# passed, 0 failed"
	exit 0
fi

passed=0
failed=0
for f in "$@"; do
	if timeout 60 "$bin" "$f" >"$log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAILED: $f"
		# the verdict and the top of each stack, not the whole report
		grep -E 'invariant violated|ERROR:|runtime error|SUMMARY|^ +#[0-3] ' "$log" |
			head -n 24
	fi
done
# every input passed alone, so the whole run failed for another reason
if [ "$failed" -eq 0 ]; then
	echo "FAILED: the run over all inputs at once (but each input passes alone):"
	tail -n 20 "$all_log"
	failed=1
fi
echo "fuzz replay: $passed passed, $failed failed"
exit 1
