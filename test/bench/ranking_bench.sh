#!/usr/bin/env bash
# Ranking benchmark (a command, not a test): precision, recall and NDCG@10 of
# fmrec's models beside honest baselines on MovieLens 100K, all measured by
# fm_evaluate's protocol (relevant = test rating >= 4; candidates = every
# movie the user did not rate in training), on fold u1 and as the mean over
# the five official folds; a cold-start table (a fifth of the users, chosen
# by a hash of their id, held out of training entirely and ranked from age
# group, gender and occupation only); and the time of one fm_evaluate call
# on u1, the C version against the PL/pgSQL one it replaced.
#
#   test/bench/ranking_bench.sh [--folds "1 2 3 4 5"] [--repeat 3]
#
# Rankers:
#   most popular             fm_evaluate_popularity (number of ratings in train)
#   most popular in group    the same within the user's age group x gender
#   item-kNN                 cosine, 200 neighbours (test/bench/ranking_baselines.py)
#   EASE                     Steck 2019, lambda tuned on a validation split of u1.base
#   fmrec <method>           fm_train_from_table defaults, features user_id, movie_id,
#                            age_group, gender, occupation, genres; sgd always, ials and
#                            bpr when this build's fm_train_from_table accepts them
# item-kNN and EASE are written as fmrec models (user embedding = the user's
# 0/1 row, item embedding = a column of the item-item matrix, biases 0) and
# evaluated by fm_evaluate too.  Their positives are the ratings >= 4;
# EASE's lambda is chosen on a 10 % validation split of u1.base, never on a
# test fold, and reused for every fold.  Uses a throwaway cluster and numpy
# (python3-numpy, installed with apt-get if missing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/common.sh"

FOLDS="1 2 3 4 5"
REPEAT=3
while [ $# -gt 0 ]; do
	case $1 in
		--folds) FOLDS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done
FEATURES="ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres']"
COLD_FEATURES="ARRAY['age_group', 'gender', 'occupation']"
PY=/usr/bin/python3
BASELINES="$HERE/ranking_baselines.py"

data=$(movielens_dir)
if [ -z "$data" ] || [ ! -f "$data/u1.base" ]; then
	echo "MovieLens 100K not found (\$FMREC_MOVIELENS_DIR or ../shared/data/movielens-100k): nothing to measure"
	exit 0
fi
ensure_packages python3-numpy
build_and_install
start_cluster
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'stop_cluster; rm -rf "$WORK"' EXIT
DB=ranking
createdb "$DB"
q() { psql -qXAt -F ' ' -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "CREATE EXTENSION fmrec"
"$HERE/../movielens/load.sh" "$data" "$DB" >/dev/null

log "preparing folds $FOLDS and the cold-start split"
for f in $FOLDS; do
	q <<-SQL
	CREATE TABLE train_$f AS SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
	 WHERE s.fold = $f AND s.part = 'base';
	CREATE TABLE test_$f AS SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
	 WHERE s.fold = $f AND s.part = 'test';
	SQL
	q -c "\\copy (SELECT user_id, movie_id, rating FROM train_$f ORDER BY user_id, movie_id) TO '$WORK/train_$f.tsv'"
done
q <<-SQL
CREATE TABLE cold_train AS SELECT * FROM ratings_with_meta WHERE abs(hashtext(user_id::text)) % 5 <> 0;
CREATE TABLE cold_test AS SELECT * FROM ratings_with_meta WHERE abs(hashtext(user_id::text)) % 5 = 0;
SQL
q -c "\\copy (SELECT movie_id FROM movies ORDER BY movie_id) TO '$WORK/items.tsv'"
q -c "\\copy (SELECT user_id FROM users ORDER BY user_id) TO '$WORK/users.tsv'"
N_ITEMS=$(q -c "SELECT count(*) FROM movies")

# metrics SQL -> "P R NDCG" (4 decimals) of an fm_evaluate-style call
metrics() { q -c "SELECT round(precision_at_k::numeric, 4), round(recall_at_k::numeric, 4), round(ndcg_at_k::numeric, 4) FROM $1"; }

# Which implicit methods this build trains: try each on a tiny table.
q -c "CREATE TABLE probe AS SELECT * FROM train_1 WHERE user_id <= 20"
IMPLICIT=()
declare -A IMPLICIT_ARGS
for method in ials bpr; do
	probe_error=""
	for args in ", item_features => ARRAY['movie_id', 'genres'], items => 'movies'" ""; do
		if probe_error=$(q -c "SET client_min_messages = warning" \
			-c "SELECT 1 FROM fm_train_from_table('probe', 'rating', $FEATURES, 'probe', method => '$method'$args)" \
			2>&1 >/dev/null); then
			IMPLICIT+=("$method")
			IMPLICIT_ARGS[$method]=$args
			probe_error=""
			break
		fi
	done
	[ -z "$probe_error" ] || log "not measuring $method: $(head -n 1 <<<"$probe_error")"
done
log "fmrec methods: sgd ${IMPLICIT[*]:-} (ials/bpr are measured when fm_train_from_table accepts them)"

# baseline_model NAME METHOD FOLD POSITIVES LAMBDA: item-kNN or EASE as an fmrec model
baseline_model() {
	"$PY" "$BASELINES" write "$2" "$WORK/train_$3.tsv" "$WORK/items.tsv" "$WORK/users.tsv" \
		"$1" "$4" "$5" "$WORK/$1.tsv"
	q <<-SQL
	INSERT INTO fm_model VALUES ('$1', '$2', $N_ITEMS, 0, 1, 5, 'train_$3', 'rating',
	  ARRAY['user_id', 'movie_id'], '{}', 1, 0, 0, 0, NULL, NULL, 0, now());
	\\copy fm_feature FROM '$WORK/$1.tsv'
	SQL
	rm -f "$WORK/$1.tsv"
}

log "tuning item-kNN and EASE on a validation split of u1.base"
read -r KNN_POS KNN_LAMBDA KNN_VAL < <("$PY" "$BASELINES" tune knn "$WORK/train_1.tsv" "$WORK/items.tsv" 2>/dev/null)
read -r EASE_POS EASE_LAMBDA EASE_VAL < <("$PY" "$BASELINES" tune ease "$WORK/train_1.tsv" "$WORK/items.tsv" 2>/dev/null)
log "item-kNN: positives $KNN_POS (validation NDCG@10 $KNN_VAL); EASE: positives $EASE_POS, lambda $EASE_LAMBDA (validation NDCG@10 $EASE_VAL)"

declare -A RESULT	# RESULT[ranker,fold] = "P R NDCG"
RANKERS=("most popular" "most popular in age group x gender" "item-kNN (cosine, 200 neighbours)" "EASE (lambda $EASE_LAMBDA)" "fmrec sgd")
for method in "${IMPLICIT[@]}"; do RANKERS+=("fmrec $method"); done
for f in $FOLDS; do
	log "fold $f"
	RESULT["most popular,$f"]=$(metrics "fm_evaluate_popularity('test_$f', 'train_$f', 'movies')")
	RESULT["most popular in age group x gender,$f"]=$(metrics "fm_evaluate_popularity('test_$f', 'train_$f', 'movies', group_by => ARRAY['age_group', 'gender'], user_table => 'users')")
	baseline_model "knn_$f" knn "$f" "$KNN_POS" 0
	RESULT["item-kNN (cosine, 200 neighbours),$f"]=$(metrics "fm_evaluate('knn_$f', 'test_$f', 'train_$f', 'users', 'movies')")
	baseline_model "ease_$f" ease "$f" "$EASE_POS" "$EASE_LAMBDA"
	RESULT["EASE (lambda $EASE_LAMBDA),$f"]=$(metrics "fm_evaluate('ease_$f', 'test_$f', 'train_$f', 'users', 'movies')")
	for method in sgd "${IMPLICIT[@]}"; do
		q -c "SET client_min_messages = warning" -c "SELECT 1 FROM fm_train_from_table('train_$f', 'rating', $FEATURES,
			'${method}_$f', method => '$method'${IMPLICIT_ARGS[$method]:-})" >/dev/null
		RESULT["fmrec $method,$f"]=$(metrics "fm_evaluate('${method}_$f', 'test_$f', 'train_$f', 'users', 'movies')")
	done
done

echo
echo "MovieLens 100K, fm_evaluate's protocol (relevant = test rating >= 4, candidates = movies not rated in training)"
echo
echo "| ranker | u1 P@10 | u1 R@10 | u1 NDCG@10 | mean NDCG@10 over folds $FOLDS |"
echo "|---|---|---|---|---|"
first=${FOLDS%% *}
for r in "${RANKERS[@]}"; do
	read -r p rc n <<<"${RESULT[$r,$first]}"
	mean=$(for f in $FOLDS; do echo "${RESULT[$r,$f]}"; done | awk '{ s += $3 } END { printf "%.4f", s / NR }')
	echo "| $r | $p | $rc | $n | $mean |"
done

log "cold start"
echo
echo "Cold start: users with abs(hashtext(user_id::text)) % 5 = 0 held out of training entirely (all their ratings are the test rows), ranked from age group, gender and occupation only"
echo
echo "| ranker | P@10 | R@10 | NDCG@10 | users |"
echo "|---|---|---|---|---|"
cold_users=$(q -c "SELECT evaluated_users FROM fm_evaluate_popularity('cold_test', 'cold_train', 'movies', user_table => 'users')")
row() { read -r p rc n <<<"$2"; echo "| $1 | $p | $rc | $n | $cold_users |"; }
row "most popular" "$(metrics "fm_evaluate_popularity('cold_test', 'cold_train', 'movies', user_table => 'users')")"
row "most popular in age group x gender" "$(metrics "fm_evaluate_popularity('cold_test', 'cold_train', 'movies', group_by => ARRAY['age_group', 'gender'], user_table => 'users')")"
for method in sgd "${IMPLICIT[@]}"; do
	q -c "SET client_min_messages = warning" -c "SELECT 1 FROM fm_train_from_table('cold_train', 'rating', $FEATURES,
		'cold_$method', method => '$method'${IMPLICIT_ARGS[$method]:-})" >/dev/null
	row "fmrec $method" "$(metrics "fm_evaluate('cold_$method', 'cold_test', 'cold_train', 'users', 'movies', user_features => $COLD_FEATURES)")"
done

# The PL/pgSQL fm_evaluate this C one replaced, from the repository's history.
log "timing fm_evaluate: C vs the PL/pgSQL version (medians of $REPEAT interleaved runs)"
OLD_COMMIT=b8d4a82
old_sql=$(git -C "$FMREC_ROOT" show "$OLD_COMMIT:src/sql/35_evaluate.sql" 2>/dev/null || true)
seconds() { q -c '\timing on' -c "SELECT count(*) FROM $1" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | awk '{ printf "%.3f\n", $1 / 1000 }'; }
echo
echo "| fm_evaluate on u1 (model: fmrec sgd, k 10), median of $REPEAT | seconds |"
echo "|---|---|"
new_times=() old_times=()
have_old=0
if [ -n "$old_sql" ]; then
	python3 -c '
import sys
s = sys.stdin.read()
a = s.index("CREATE FUNCTION fm_evaluate(")
b = s.index("COMMENT ON FUNCTION fm_evaluate(")
print(s[a:b].replace("CREATE FUNCTION fm_evaluate(", "CREATE FUNCTION fm_evaluate_plpgsql(").replace("@extschema@", "public"))
' <<<"$old_sql" >"$WORK/old.sql" && q -f "$WORK/old.sql" >/dev/null 2>&1 && have_old=1
fi
for _ in $(seq "$REPEAT"); do
	new_times+=("$(seconds "fm_evaluate('sgd_$first', 'test_$first', 'train_$first', 'users', 'movies')")")
	[ $have_old = 1 ] && old_times+=("$(seconds "fm_evaluate_plpgsql('sgd_$first', 'test_$first', 'train_$first', 'users', 'movies')")")
done
new=$(printf '%s\n' "${new_times[@]}" | median)
if [ $have_old = 1 ]; then
	old=$(printf '%s\n' "${old_times[@]}" | median)
	echo "| PL/pgSQL (commit $OLD_COMMIT) | $old |"
else
	echo "| PL/pgSQL (commit $OLD_COMMIT) | not available (no git history) |"
fi
echo "| C (src/fm_evaluate.c) | $new |"
