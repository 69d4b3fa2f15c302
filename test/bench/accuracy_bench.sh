#!/usr/bin/env bash
# Accuracy benchmark (a command, not a test): test RMSE on the five official
# MovieLens 100K folds (u1..u5) for each method with fmrec's defaults, beside
# libFM-equivalent settings, and the speed of one pass at k = 64 (an SGD or
# Adam epoch, an ALS or MCMC iteration) in ratings x passes per second.
# Runs the core without PostgreSQL (test/bench/train_core_bench.c); features
# user, item, age group, gender, occupation, genres.
#
#   test/bench/accuracy_bench.sh        (MovieLens from $FMREC_MOVIELENS_DIR or ../shared)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/common.sh"

data=$(movielens_dir)
[ -n "$data" ] || { echo "MovieLens 100K not found (\$FMREC_MOVIELENS_DIR or ../shared/data/movielens-100k): nothing to measure"; exit 0; }
make -C "$HERE" -s
BENCH="$HERE/build/train_core_bench"

# run LABEL ARGS...: prints "| label | fold1..5 | mean |" (for MCMC also the stored model)
run() {
	local label=$1 out folds mean stored
	shift
	out=$(FMREC_MOVIELENS_DIR="$data" "$BENCH" --genres --all-folds "$@" 2>&1)
	folds=$(sed -nE 's/^fold [0-9]  method.* test RMSE ([0-9.]+).*/\1/p' <<<"$out" | paste -sd'|' | sed 's/|/ | /g')
	mean=$(sed -nE 's/^5-fold mean test RMSE ([0-9.]+).*/\1/p' <<<"$out" | head -n 1)
	echo "| $label | $folds | **$mean** |"
	stored=$(sed -nE 's/^fold [0-9]  posterior-mean model test RMSE ([0-9.]+).*/\1/p' <<<"$out" | paste -sd'|' | sed 's/|/ | /g')
	if [ -n "$stored" ]; then
		echo "| $label, stored model | $stored | $(awk -F' [|] ' '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.4f", s / NF }' <<<"$stored") |"
	fi
}

echo "| method (settings) | u1 | u2 | u3 | u4 | u5 | 5-fold mean |"
echo "|---|---|---|---|---|---|---|"
run "sgd (defaults: k 64, 30 epochs)" --method sgd
run "adam (defaults: k 64, 30 epochs)" --method adam
run "als (defaults: k 8, 50 iterations, reg 7)" --method als
run "als (libFM-style: k 8, 100 iterations, reg 10)" --method als --k 8 --epochs 100 --reg 10
run "mcmc (defaults: k 16, 300 iterations)" --method mcmc
run "mcmc (libFM-equivalent: k 8, 200 iterations, init 0.1)" --method mcmc --k 8 --epochs 200 --init-stdev 0.1 --burn-in 0

echo
echo "| method at k 64, fold 1 | seconds per pass | ratings x passes / s |"
echo "|---|---|---|"
for method in sgd adam als mcmc; do
	out=$(FMREC_MOVIELENS_DIR="$data" "$BENCH" --genres --fold 1 --method "$method" --k 64 --epochs 20 2>&1 | grep -E '^fold 1')
	awk -v m="$method" '{ for (i = 1; i <= NF; i++) { if ($i == "s") s = $(i - 1); if ($i == "ratings*epochs/s") r = $(i - 1) } }
		END { printf "| %s | %.4f | %s |\n", m, s / 20, r }' <<<"$out"
done
