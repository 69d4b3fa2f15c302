#!/usr/bin/env bash
# Parallel training and cache-friendly epochs (a command, not a test):
# seconds per epoch of fm_train_from_table on a generated table shaped like
# MovieLens (7 non-zeros per row), for
#   sgd k 64: shuffled and grouped order, each serial and with 1 and 2
#             parallel workers besides the leader;
#   als k 8:  serial, 1 and 2 workers (bit-identical models).
# The configurations run interleaved, REPEAT times; the table prints each
# one's median seconds per epoch (epochs 2..E: the first pays the page
# faults of the fresh memory) and its ratio to the serial run of its method
# measured in the same invocation.  The machine's load average is printed:
# on a shared 2-core machine compare ratios, not times.
#
#   sudo test/bench/parallel_bench.sh [--rows N] [--repeat R] [--epochs E]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ROWS=2000000
REPEAT=3
EPOCHS=3
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		--epochs) EPOCHS=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done


# run METHOD K ORDER WORKERS -> mean seconds of epochs 2..E (from the NOTICEs)
run() {
	psql -qX -d bench -c "SET fmrec.training_row_order = $3" \
		-c "SET fmrec.max_parallel_workers_per_training = $4" \
		-c "SELECT 1 FROM fm_train_from_table('big', 'rating',
			ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
			'bench', method => '$1', k => $2, epochs => $EPOCHS, validation_fraction => 0)" 2>&1 >/dev/null |
		sed -nE 's/.*(epoch|iteration) ([0-9]+)\/[0-9]+:.*\(([0-9.]+) s\)$/\2 \3/p' |
		awk '$1 > 1 { s += $2; n++ } END { if (n) printf "%.3f\n", s / n }'
}

build_and_install
start_cluster "shared_buffers = 512MB" "max_parallel_maintenance_workers = 2"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
log "generating a $ROWS-row table shaped like MovieLens"
generate_ratings bench big "$ROWS"

CONFIGS=("sgd 64 shuffled 0" "sgd 64 shuffled 1" "sgd 64 shuffled 2"
	"sgd 64 grouped 0" "sgd 64 grouped 1" "sgd 64 grouped 2"
	"als 8 shuffled 0" "als 8 shuffled 1" "als 8 shuffled 2")
declare -A times
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$REPEAT"); do
	for c in "${CONFIGS[@]}"; do
		times[$c]+="$(run $c) "
	done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| method | k | order | workers | s / epoch (median of $REPEAT) | speed-up vs serial shuffled |"
echo "|---|---|---|---|---|---|"
for c in "${CONFIGS[@]}"; do
	read -r method k order workers <<<"$c"
	med=$(printf '%s\n' ${times[$c]} | median)
	base=$(printf '%s\n' ${times["$method $k shuffled 0"]} | median)
	awk -v m="$method" -v k="$k" -v o="$order" -v w="$workers" -v t="$med" -v b="$base" \
		'BEGIN { printf "| %s | %d | %s | %d | %.2f | %.2fx |\n", m, k, o, w, t, b / t }'
done
