#!/usr/bin/env bash
# predict_bench.sh - fm_predict over MovieLens u1.test (20,000 ratings):
# 0.2.0's PL/pgSQL fm_predict (commit 386754b, installed beside the C one in
# the scratch schema fmrec_386754b) against the C forms of 0.3.0: the same
# array call, the jsonb context, the row form and fm_predict_batch.  Prints
# the median of interleaved repetitions of each statement and its speed-up
# over the PL/pgSQL one; the "sum" column shows that every form gives the
# same predictions.
#
#   test/bench/predict_bench.sh [--repeat 5] [--k 64] [--no-install]
#
# Uses a throwaway cluster (test/lib/common.sh) and MovieLens 100K from
# test/movielens/fetch_data.sh (FMREC_MOVIELENS_DIR, the shared copy, a
# download or the generated sample).  A benchmark, not a test: nothing
# fails on a slow machine.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

REPEAT=5
K=64
INSTALL=1
while [ $# -gt 0 ]; do
	case $1 in
		--repeat) REPEAT=$2; shift 2 ;;
		--k) K=$2; shift 2 ;;
		--no-install) INSTALL=0; shift ;;
		*) die "unknown option $1" ;;
	esac
done


[ "$INSTALL" = 1 ] && build_and_install
start_cluster "shared_buffers = 256MB"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
"$FMREC_ROOT/test/movielens/load.sh" "$("$FMREC_ROOT/test/movielens/fetch_data.sh")" bench >/dev/null

log "training on u1.base (k = $K), installing 386754b's fm_predict"
psql -qX -v ON_ERROR_STOP=1 -d bench >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE u1_base AS
SELECT r.user_id, r.movie_id, r.rating, u.age_group, u.gender, u.occupation, m.genres
  FROM ratings_split r JOIN users u USING (user_id) JOIN movies m USING (movie_id)
 WHERE r.fold = 1 AND r.part = 'base';
CREATE TABLE u1_test AS
SELECT r.user_id, r.movie_id, r.rating FROM ratings_split r WHERE r.fold = 1 AND r.part = 'test';
ANALYZE u1_base, u1_test;
SELECT 1 FROM fm_train_from_table('u1_base', 'rating',
       ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'], 'movielens',
       k => $K, epochs => 10, seed => 1);
SQL
schema=$(psql -qAtX -d bench -c "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'fmrec'")
sed "s/@extschema@/$schema/g" "$FMREC_ROOT/test/bench/predict_plpgsql_386754b.sql" | psql -qX -v ON_ERROR_STOP=1 -d bench

FROM="FROM u1_test t JOIN users u USING (user_id) JOIN movies m USING (movie_id)"
ARRAYS="ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation'] || array_fill('genres'::text, ARRAY[cardinality(m.genres)]),
        ARRAY[t.user_id::text, t.movie_id::text, u.age_group, u.gender, u.occupation] || m.genres"
JSONB="jsonb_build_object('user_id', t.user_id, 'movie_id', t.movie_id, 'age_group', u.age_group,
                          'gender', u.gender, 'occupation', u.occupation, 'genres', m.genres)"
NAMES=("386754b PL/pgSQL, arrays" "C, arrays" "C, jsonb" "C, rows (u, m)" "C, fm_predict_batch (jsonb[])" "the join alone (no prediction)")
CALLS=("fmrec_386754b.fm_predict('movielens', $ARRAYS)"
	"fm_predict('movielens', $ARRAYS)"
	"fm_predict('movielens', $JSONB)"
	"fm_predict('movielens', u, m)"
	""
	"t.rating")
query() {	# query I -> the statement of case I
	if [ "$1" = 4 ]; then
		echo "SELECT (SELECT sum(p) FROM unnest(fm_predict_batch('movielens', array_agg($JSONB))) p) $FROM"
	else
		echo "SELECT sum(${CALLS[$1]}) $FROM"
	fi
}
# run I -> "ms sum"
run() {
	psql -qAtX -d bench -c '\timing on' -c "$(query "$1")" |
		awk '/^Time:/ { ms = $2 } !/^Time:/ { s = $1 } END { printf "%s %.6f\n", ms, s }'
}

log "timing: $REPEAT interleaved repetitions of ${#NAMES[@]} statements over 20,000 ratings"
declare -A TIMES SUMS
for r in $(seq "$REPEAT"); do
	for i in "${!NAMES[@]}"; do
		read -r ms s <<<"$(run "$i")"
		TIMES[$i]+="$ms "
		SUMS[$i]=$s
	done
	log "repetition $r done"
done

old=$(printf '%s\n' ${TIMES[0]} | median)
echo
echo "fm_predict over u1.test (20,000 predictions), k = $K, median of $REPEAT:"
echo
echo "| form | median ms | µs / prediction | speed-up over 386754b | sum of predictions |"
echo "|---|---|---|---|---|"
for i in "${!NAMES[@]}"; do
	med=$(printf '%s\n' ${TIMES[$i]} | median)
	awk -v n="${NAMES[$i]}" -v m="$med" -v o="$old" -v s="${SUMS[$i]}" \
		-v base="$([ "$i" = 5 ] && echo 1 || echo 0)" \
		'BEGIN { r = base ? "—" : sprintf("%.1f×", o / m)
		         printf "| %s | %.1f | %.1f | %s | %s |\n", n, m, m * 1000 / 20000, r, s }'
done
