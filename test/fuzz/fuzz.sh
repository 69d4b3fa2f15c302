#!/usr/bin/env bash
# Fuzzes the fm_vector parsers for MINUTES minutes with one libFuzzer job,
# then prints the statistics and copies every crash into regressions/.
# Run through `make -C test/fuzz fuzz MINUTES=N`, which builds first.
#
#   fuzz.sh MINUTES [MAX_LEN]
#
# Inputs are at most MAX_LEN bytes (default 4096): the harness formats and
# parses every successful vector several times, so 16000-element inputs run
# at a few hundred per second instead of thousands, and the fuzzer would
# spend its time on them.  The limits at 16000 elements are covered by the
# generated seeds of `make replay` instead (and the same check with a small
# capacity is fuzzed).  The corpus grows in corpus-work/ (ignored by git)
# across runs; each run first copies corpus/ and regressions/ into it.  libFuzzer writes its output to build/fuzz-0.log (follow it with
# tail -f), crash inputs to build/artifacts/, and the output of its job
# supervisor (which repeats the whole log at the end) to build/fuzz-jobs.log.
# Exits non-zero if the run found anything.
set -euo pipefail
cd "$(dirname "$0")"

minutes=${1:-}
max_len=${2:-4096}
[[ "$minutes" =~ ^[1-9][0-9]*$ && "$max_len" =~ ^[1-9][0-9]*$ ]] ||
	{ echo "usage: fuzz.sh MINUTES [MAX_LEN] (positive integers)" >&2; exit 2; }

BUILD=build
LOG=$BUILD/fuzz-0.log
ARTIFACTS=$BUILD/artifacts

mkdir -p corpus-work
for f in corpus/* regressions/*; do
	[[ -f "$f" && "${f##*/}" != README* ]] && cp "$f" corpus-work/
done
rm -rf "$ARTIFACTS" "$LOG"
mkdir -p "$ARTIFACTS"

echo "fuzzing for $minutes minute(s), one job; progress: tail -f test/fuzz/$LOG"
# -jobs=1 -workers=1: a single fuzzing process (the machine is shared), run
#   to the end of the time budget or to the first crash;
# -timeout=10: an input taking 10 s is a hang (a normal one takes < 10 ms);
# -use_value_profile=1: lets the mutator climb comparisons such as the
#   dimension header against FM_VECTOR_MAX_DIM.
(
	cd "$BUILD"
	./fuzz_vectext -jobs=1 -workers=1 -max_total_time=$((minutes * 60)) \
		-max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 \
		-dict=../vectext.dict -artifact_prefix=artifacts/ ../corpus-work >fuzz-jobs.log 2>&1
) || true

[[ -f "$LOG" ]] || { echo "fuzz: libFuzzer wrote no log ($LOG)" >&2; exit 1; }

# stat_value NAME: a line "stat::NAME: VALUE" of -print_final_stats
stat_value() {
	local v
	v=$(sed -n "s/^stat::$1: *//p" "$LOG" | tail -n 1)
	echo "${v:-n/a}"
}

# the last status line ("#N ... cov: C ft: F corp: U/Sb ...") carries the coverage
status=$(grep -E '^#[0-9]+.* cov: ' "$LOG" | tail -n 1 || true)
field() {
	local v
	v=$(sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$status")
	echo "${v:-n/a}"
}

echo
echo "== fuzz statistics ($minutes minute(s))"
grep -E '^Done [0-9]+ runs' "$LOG" | tail -n 1 || true
echo "executions:   $(stat_value number_of_executed_units)"
echo "execs/s:      $(stat_value average_exec_per_sec)"
echo "coverage:     cov $(field cov), ft $(field ft)"
echo "corpus:       $(field corp) (new units this run: $(stat_value new_units_added))"
echo "peak RSS:     $(stat_value peak_rss_mb) MB"

# A name that says what the crash was: the harness's invariant, the
# sanitizer's verdict, or libFuzzer's.
slug() {
	local what
	what=$(sed -n 's/.*invariant violated: \(.*\) (fuzz_vectext.c:.*/invariant \1/p' "$LOG" | head -n 1)
	[[ -n "$what" ]] || what=$(sed -n 's/.*runtime error: //p' "$LOG" | head -n 1 | cut -d' ' -f1-5)
	[[ -n "$what" ]] || what=$(sed -n 's/^SUMMARY: [A-Za-z]*Sanitizer: \([^ ]*\).* in \([^ ]*\).*/\1 \2/p' "$LOG" | head -n 1)
	[[ -n "$what" ]] || what=$(sed -n 's/.*ERROR: [A-Za-z]*: \([a-z -]*\).*/\1/p' "$LOG" | head -n 1)
	[[ -n "$what" ]] || what=$1
	tr -cs 'A-Za-z0-9' '-' <<<"$what" | tr 'A-Z' 'a-z' | cut -c1-60 | sed 's/^-*//; s/-*$//'
}

found=0
for f in "$ARTIFACTS"/*; do
	[[ -f "$f" ]] || continue
	name=${f##*/}
	kind=${name%%-*}
	case "$kind" in
		crash | leak | timeout | oom) ;;
		*) echo "note: $f (not a failure, not copied)"; continue ;;
	esac
	found=$((found + 1))
	hash=${name##*-}
	dest="regressions/$kind-$(slug "$kind")-${hash:0:8}"
	cp "$f" "$dest"
	echo "FOUND: $f -> test/fuzz/$dest"
done

echo
if [[ $found -gt 0 ]]; then
	echo "fuzz: $found finding(s) copied into regressions/; see $LOG, fix, then make -C test/fuzz replay"
	grep -E 'invariant violated|ERROR:|runtime error|SUMMARY|^ +#[0-5] ' "$LOG" | head -n 30
	exit 1
fi
echo "fuzz: no crash, leak, timeout or out-of-memory in $minutes minute(s)"
