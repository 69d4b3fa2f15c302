#!/usr/bin/env bash
# Cost of the canonical order (a command, not a test): the seconds
# fm_train_from_table spends putting the rows it read in their canonical
# order (feature ids by column and value, rows sorted; src/core/dataset.c),
# next to the seconds of one training epoch, on MovieLens 100K u1.base and
# on a generated table of --rows rows (default 1,000,000) shaped like
# MovieLens.  Medians of --repeat runs (default 5), the tables and methods
# interleaved; the ratio is taken from the medians of the same run.
#
#   test/bench/canonical_bench.sh [--rows N] [--repeat R]
#
# Uses a throwaway cluster.  MovieLens 100K is read from $FMREC_MOVIELENS_DIR
# or ../shared/data/movielens-100k; without it only the generated table runs.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ROWS=1000000
REPEAT=5
# method:k; k = 8 is the worst case for the ratio (the cheapest epoch), 64 is sgd's default
RUNS=(sgd:8 sgd:64 als:8)
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done


# train TABLE METHOD K -> "rows canonical_s epoch_s" from the trainer's final NOTICE (one epoch)
train_once() {
	psql -qX -d bench -c "SELECT 1 FROM fm_train_from_table('$1', 'rating',
		ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
		'bench', k => $3, epochs => 1, method => '$2', validation_fraction => 0)" 2>&1 >/dev/null |
		sed -nE 's/.*read ([0-9]+) rows in [0-9.]+ s \(([0-9.]+) s of it canonical order\), trained 1 [a-z]+ in ([0-9.]+) s.*/\1 \2 \3/p'
}

build_and_install
start_cluster "shared_buffers = 512MB" "max_wal_size = 4GB"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"

TABLES=()
data=$(movielens_dir)
if [ -n "$data" ] && [ -f "$data/u1.base" ]; then
	"$FMREC_ROOT/test/movielens/load.sh" "$data" bench >/dev/null
	psql -qX -v ON_ERROR_STOP=1 -d bench -c "CREATE TABLE u1_base AS
		SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
		 WHERE s.fold = 1 AND s.part = 'base'"
	TABLES+=(u1_base)
else
	log "MovieLens 100K with u1.base not found (set FMREC_MOVIELENS_DIR): only the generated table runs"
fi

log "generating a $ROWS-row table shaped like MovieLens"
generate_ratings bench generated "$ROWS" "VACUUM ANALYZE generated;"
TABLES+=(generated)

declare -A canon epoch nrows
for r in $(seq "$REPEAT"); do
	for t in "${TABLES[@]}"; do
		for m in "${RUNS[@]}"; do
			read -r n c e <<<"$(train_once "$t" "${m%%:*}" "${m#*:}")"
			[ -n "${e:-}" ] || die "no summary NOTICE from training $t with $m"
			nrows[$t]=$n
			canon[$t,$m]+="$c "
			epoch[$t,$m]+="$e "
		done
	done
done

echo
echo "| data | rows | method | k | canonical order s | one epoch s | ratio |"
echo "|---|---|---|---|---|---|---|"
for t in "${TABLES[@]}"; do
	for m in "${RUNS[@]}"; do
		c=$(printf '%s\n' ${canon[$t,$m]} | median)
		e=$(printf '%s\n' ${epoch[$t,$m]} | median)
		awk -v t="$t" -v n="${nrows[$t]}" -v m="${m%%:*}" -v k="${m#*:}" -v c="$c" -v e="$e" \
			'BEGIN { printf "| %s | %d | %s | %d | %.3f | %.3f | %.2f |\n", t, n, m, k, c, e, (e > 0 ? c / e : 0) }'
	done
done
