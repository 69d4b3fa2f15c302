#!/usr/bin/env bash
# Ranking quality bar of implicit-feedback training (method 'ials'), default
# settings, on MovieLens 100K fold u1: trained on u1.base with features
# user_id, movie_id, age_group, gender, occupation, genres (movie_id and
# genres describe the item, read from the catalogue `movies`), evaluated by
# fm_evaluate on u1.test (relevant = rating >= 4; candidates = the movies the
# user did not rate in u1.base).  Bars: NDCG@10 >= 0.45 and P@10 >= 0.37.
# Needs a running cluster (PG* variables) with fmrec installed; skips,
# saying so, when the data set is absent.
# Prints "ranking quality: N passed, N failed, N skipped".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/common.sh"

NDCG_BAR=0.45
P_BAR=0.37
DB=fmrec_ranking_quality
data=$(movielens_dir)
if [ -z "$data" ] || [ ! -f "$data/u1.base" ]; then
	echo "ranking quality: MovieLens 100K not found (looked in \$FMREC_MOVIELENS_DIR and ../shared/data/movielens-100k): skipping"
	echo "ranking quality: 0 passed, 0 failed, 2 skipped"
	exit 0
fi

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
psql -qX -d "$DB" -c "CREATE EXTENSION fmrec"
"$HERE/load.sh" "$data" "$DB" >/dev/null
out=$(psql -qXAt -F ' ' -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE TABLE u1_train AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'base';
CREATE TABLE u1_test AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'test';
SELECT round(seconds::numeric, 2) FROM fm_train_from_table('u1_train', 'rating',
	ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'], 'q_ials',
	method => 'ials', item_features => ARRAY['movie_id', 'genres'], items => 'movies');
SELECT round(ndcg_at_k::numeric, 4), round(precision_at_k::numeric, 4), evaluated_users
  FROM fm_evaluate('q_ials', 'u1_test', 'u1_train', 'users', 'movies');
SQL
)
seconds=$(printf '%s\n' "$out" | sed -n 1p)
read -r ndcg precision users <<<"$(printf '%s\n' "$out" | sed -n 2p)"
echo "ials, defaults: trained in $seconds s; u1.test NDCG@10 $ndcg, P@10 $precision over $users users"
passed=0 failed=0
check() {
	local what=$1 value=$2 bar=$3
	if awk -v v="$value" -v b="$bar" 'BEGIN { exit !(v != "" && v >= b) }'; then
		echo "ok: $what $value >= $bar"; passed=$((passed + 1))
	else
		echo "not ok: $what ${value:-missing} < $bar"; failed=$((failed + 1))
	fi
}
check "NDCG@10" "$ndcg" "$NDCG_BAR"
check "P@10" "$precision" "$P_BAR"
dropdb "$DB"
echo "ranking quality: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
