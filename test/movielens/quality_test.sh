#!/usr/bin/env bash
# Quality bars on MovieLens 100K, official split u1.base -> u1.test, each
# method with its default parameters, trained on all of u1.base with u1.test
# as the validation relation: the bar applies to the validation RMSE the
# trainer reports (for MCMC, that of the averaged predictions, as libFM
# reports it).  The RMSE of the stored model (fm_evaluate) is printed too.
# Needs a running cluster (PG* variables) with fmrec installed; skips,
# saying so, when the data set is absent.
# Prints "quality: N passed, N failed, N skipped".
#
#   method  features                                              bar (test RMSE)
#   sgd     user, item, age group, gender, occupation             <= 0.935
#   adam    user, item, age group, gender, occupation             <= 0.935
#   als     user, item, age group, gender, occupation, genres     <= 0.930
#   mcmc    user, item, age group, gender, occupation, genres     <= 0.899
#
# and the same bars for sgd, adam and als trained with 2 parallel workers
# (fmrec.max_parallel_workers_per_training = 2: Hogwild for sgd/adam, whose
# models then vary from run to run; als gives the serial model).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/common.sh"

# method, bar, features, parallel workers besides the leader
BARS=(
	"sgd   0.935 user_id,movie_id,age_group,gender,occupation 0"
	"adam  0.935 user_id,movie_id,age_group,gender,occupation 0"
	"als   0.930 user_id,movie_id,age_group,gender,occupation,genres 0"
	"mcmc  0.899 user_id,movie_id,age_group,gender,occupation,genres 0"
	"sgd   0.935 user_id,movie_id,age_group,gender,occupation 2"
	"adam  0.935 user_id,movie_id,age_group,gender,occupation 2"
	"als   0.930 user_id,movie_id,age_group,gender,occupation,genres 2"
)
DB=fmrec_quality
passed=0 failed=0 skipped=0

data=$(movielens_dir)
if [ -z "$data" ] || [ ! -f "$data/u1.base" ]; then
	echo "quality: MovieLens 100K not found (looked in \$FMREC_MOVIELENS_DIR and ../shared/data/movielens-100k): skipping the RMSE bars"
	echo "quality: 0 passed, 0 failed, ${#BARS[@]} skipped"
	exit 0
fi

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
psql -qX -d "$DB" -c "CREATE EXTENSION fmrec"
"$HERE/load.sh" "$data" "$DB" >/dev/null
psql -qX -d "$DB" <<'SQL'
CREATE TABLE u1_train AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'base';
CREATE TABLE u1_test AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'test';
SQL

for bar in "${BARS[@]}"; do
	read -r method limit features workers <<<"$bar"
	features_sql="ARRAY['${features//,/\',\'}']"
	label=$method
	[ "$workers" -eq 0 ] || label="$method with $workers workers"
	out=$(psql -qXAt -F ' ' -d "$DB" -c "SET client_min_messages = warning" \
		-c "SET fmrec.max_parallel_workers_per_training = $workers" -c "
		SELECT round(validation_rmse::numeric, 4) FROM fm_train_from_table('u1_train', 'rating', $features_sql,
			'q_$method', method => '$method', validation => 'u1_test');" \
		-c "SELECT round(rmse::numeric, 4) FROM fm_evaluate('q_$method', 'u1_test', 'u1_train', 'users', 'movies', k => 1);")
	rmse=$(printf '%s\n' "$out" | sed -n 1p)
	stored=$(printf '%s\n' "$out" | sed -n 2p)
	if awk -v r="$rmse" -v l="$limit" 'BEGIN { exit !(r != "" && r <= l) }'; then
		echo "ok: $label test RMSE $rmse <= $limit (stored model: $stored)"
		passed=$((passed + 1))
	else
		echo "not ok: $label test RMSE ${rmse:-missing} > $limit (stored model: ${stored:-missing})"
		failed=$((failed + 1))
	fi
done
dropdb "$DB"
echo "quality: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
