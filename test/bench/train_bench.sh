#!/usr/bin/env bash
# Training benchmark (a command, not a test): seconds per epoch and
# ratings x epochs per second of fm_train_from_table for k = 8, 32, 64, 120
# on MovieLens 100K and on a generated 10-million-row table of the same
# shape; peak training memory; time reading through SPI vs. iterating.
# Medians over REPEAT runs (default 3).
#
#   sudo test/bench/train_bench.sh [--rows N] [--repeat R] [--epochs E]
#
# Uses a throwaway cluster.  MovieLens comes from test/movielens/fetch_data.sh
# (the shared copy, a download, or the generated sample).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ROWS=10000000
REPEAT=3
EPOCHS=10
KS=(8 32 64 120)
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		--epochs) EPOCHS=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done


# train TABLE K EPOCHS -> "read_s train_s memory_mb rows" from the trainer's final NOTICE
train_once() {
	psql -qX -d bench -c "SELECT 1 FROM fm_train_from_table('$1', 'rating',
		ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
		'bench', k => $2, epochs => $3, validation_fraction => 0)" 2>&1 >/dev/null |
		sed -nE 's/.*read ([0-9]+) rows in ([0-9.]+) s[^,]*, trained [0-9]+ [a-z]+ in ([0-9.]+) s.*memory ([0-9.]+) MB.*/\2 \3 \4 \1/p'
}

bench_table() {	# bench_table TABLE LABEL EPOCHS REPEAT
	local table=$1 label=$2 epochs=$3 repeat=$4 k r out reads trains mem rows
	for k in "${KS[@]}"; do
		reads=() trains=()
		for r in $(seq "$repeat"); do
			out=$(train_once "$table" "$k" "$epochs")
			read -r rd tr mem rows <<<"$out"
			reads+=("$rd"); trains+=("$tr")
		done
		local read_med train_med
		read_med=$(printf '%s\n' "${reads[@]}" | median)
		train_med=$(printf '%s\n' "${trains[@]}" | median)
		awk -v l="$label" -v k="$k" -v e="$epochs" -v rd="$read_med" -v tr="$train_med" -v m="$mem" -v n="$rows" \
			'BEGIN { printf "| %s | %d | %s | %.3f | %.0f | %.2f | %.0f |\n", l, k, n, tr / e, n * e / tr, rd, m }'
	done
}

build_and_install
start_cluster "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 1h"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
"$FMREC_ROOT/test/movielens/load.sh" "$("$FMREC_ROOT/test/movielens/fetch_data.sh")" bench >/dev/null

log "generating a $ROWS-row table shaped like MovieLens (users, movies, metadata, genres)"
generate_ratings bench big "$ROWS"
log "benchmarking (median of $REPEAT runs, $EPOCHS epochs each; 1 run on the big table)"
echo
echo "| data | k | ratings | s / epoch | ratings x epochs / s | SPI read s | training memory MB |"
echo "|---|---|---|---|---|---|---|"
bench_table ratings_with_meta "MovieLens 100K" "$EPOCHS" "$REPEAT"

bench_table big "generated" 1 1
