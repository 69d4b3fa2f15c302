#!/usr/bin/env bash
# Random-query crash test: Debian's sqlsmith sends a bounded number of random
# queries built from fmrec's functions, operators and tables to a throwaway
# cluster holding MovieLens 100K, a trained model, materialised items with an
# fm_ivf index and a tracked table.  Asserts that
#   1. the server never crashed or restarted (no "terminated by signal" or
#      "server process ... was terminated" in the log, same postmaster pid),
#   2. no ERROR with SQLSTATE XX000 (internal error) was raised from one of
#      fmrec's source files (the log is verbose: "LOCATION: fn, file.c:line"),
#   3. sqlsmith ran its queries to the end.
# Other XX000 errors (raised inside PostgreSQL's own files) are listed, since
# fmrec code may be their cause, but do not fail the test.
#
# Aiming sqlsmith at fmrec: sqlsmith reads the functions it may call from
# "pg_proc", unqualified, while it names every function it calls with its
# schema.  Its role therefore gets the search_path smith_catalog, pg_catalog,
# where smith_catalog.pg_proc is a view listing only fmrec's functions (its
# set-returning ones shown as plain functions, so that sqlsmith calls them
# too: in a select list).  Half of the queries run as a second role with
# force_parallel_mode = regress and free parallelism, so that fmrec's
# functions also run in parallel workers (fm_sum's states cross processes;
# a function wrongly labelled PARALLEL SAFE fails).  --exclude-catalog
# drops pg_catalog's and information_schema's tables; the roles, not
# superusers, see fmrec's tables, MovieLens' movies and users, and a table of
# awkward values (vectors of other and of 16,000 dimensions, NaN and
# infinite biases, unknown and empty model names, relation 0, system column
# names, ...) that sqlsmith's column references pick up (its constants are
# only small integers, booleans and NULLs).  sqlsmith runs each query in a
# transaction it rolls back, with a 1 s statement timeout.
#
#   test/sqlsmith_test.sh          (root or the cluster's user; installs sqlsmith)
#   FMREC_SQLSMITH_QUERIES=60000 FMREC_SQLSMITH_SEED=7 test/sqlsmith_test.sh
#   (FMREC_SQLSMITH_LOG_ALL=1 logs every query; FMREC_SQLSMITH_KEEP_LOG=FILE
#   keeps a copy of the server log)
#
# Without MovieLens (../shared/data/movielens-100k or $FMREC_MOVIELENS_DIR)
# it loads the generated sample of test/movielens/generate_sample.sh and says
# so.  Starts and stops its own cluster.  Prints "sqlsmith: N passed, N failed".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.sh"

QUERIES=${FMREC_SQLSMITH_QUERIES:-12000}
SEED=${FMREC_SQLSMITH_SEED:-12}
DB=fmrec_sqlsmith
ROLE=fmrec_smith
passed=0 failed=0

check() {	# check DESCRIPTION COMMAND...: passes when the command succeeds
	local description=$1
	shift
	if "$@"; then
		echo "ok: $description"; passed=$((passed + 1))
	else
		echo "not ok: $description"; failed=$((failed + 1))
	fi
}

ensure_packages sqlsmith
WORK=$(mktemp -d /tmp/fmrec-sqlsmith.XXXXXX)
chmod 755 "$WORK"
trap 'stop_cluster; rm -rf "$WORK"' EXIT
start_cluster "log_error_verbosity = verbose" "log_min_error_statement = error" ${FMREC_SQLSMITH_LOG_ALL:+"log_statement = all"} \
	"log_line_prefix = '%m [%p] %e '" "log_min_messages = warning"
LOG=$FMREC_CLUSTER_DIR/server.log
postmaster_pid() { head -n 1 "$FMREC_CLUSTER_DIR/data/postmaster.pid"; }
pid_before=$(postmaster_pid)

data=$(movielens_dir)
if [ -z "$data" ]; then
	echo "sqlsmith: MovieLens 100K not found (looked in \$FMREC_MOVIELENS_DIR and ../shared/data/movielens-100k): using the generated sample instead"
	data=$WORK/sample
	"$FMREC_ROOT/test/movielens/generate_sample.sh" "$data" >/dev/null
fi

createdb "$DB"
psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION fmrec"
"$FMREC_ROOT/test/movielens/load.sh" "$data" "$DB" >/dev/null
log "training the model, materialising the items, building the fm_ivf index"
psql -qX -v ON_ERROR_STOP=1 -d "$DB" -v role="$ROLE" -v prole="${ROLE}_parallel" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT 1 FROM fm_train_from_table('ratings_with_meta', 'rating',
	ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
	'smith', k => 4, epochs => 3);
SELECT 1 FROM fm_train_from_table('ratings_with_meta', 'rating', ARRAY['user_id', 'movie_id'],
	'smith_als', k => 2, epochs => 2, method => 'als');
ALTER TABLE movies ADD COLUMN bias real, ADD COLUMN embedding fm_vector;
SELECT fm_materialize_items('smith', 'movies');
CREATE INDEX movies_ivf ON movies USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 8);
SELECT fm_topk_track('movies');
-- An untracked copy of the items with rows of other kinds: NULLs, a NaN and
-- an infinite bias, a vector of another dimension.
CREATE TABLE items (id bigint PRIMARY KEY, embedding fm_vector, bias real, note text);
INSERT INTO items SELECT movie_id, embedding, bias, title FROM movies;
INSERT INTO items VALUES (100001, NULL, NULL, 'null'), (100002, '[1,2,3,4]', 'NaN', 'nan bias'),
	(100003, '[1,2]', 1, 'short'), (100004, '[3e38,-3e38,0,0]', 'Infinity', 'infinite bias');
-- Awkward values of the types fmrec's functions take.
CREATE TABLE awkward (
	model text, feature text[], value text[], vec fm_vector, vec2 fm_vector, bias real,
	n integer, big bigint, x double precision, rel regclass, col name, cols name[],
	reals real[], doubles double precision[], ints integer[], ids bigint[], flag boolean);
INSERT INTO awkward VALUES
	('smith', ARRAY['user_id', 'gender'], ARRAY['42', 'F'], '[0.1,0.2,0.3,0.4]', '[1,1,1,1]', 0.5,
	 10, 10, 0.5, 'movies', 'embedding', ARRAY['user_id', 'movie_id'], '{1,2,3,4}', '{1,2,3,4}',
	 '{1,2,3,4}', '{1,2,3}', true),
	('smith_als', ARRAY['movie_id'], ARRAY['1'], '[1,2]', '[3,4]', -1,
	 0, 0, 0, 'items', 'bias', ARRAY['genres'], '{}', '{NaN}', '{}', '{}', false),
	('no such model', ARRAY[]::text[], ARRAY[]::text[], '[0]', '[1]', 'NaN',
	 -1, -1, 'NaN', 0, 'movie_id', ARRAY[]::name[], '{NaN,Infinity}', '{1e300,-1e300}',
	 '{2147483647}', '{-1,0,9223372036854775807}', NULL),
	('', ARRAY['user_id', NULL], ARRAY[NULL, '1'], '[3e38,-3e38,1e-45,0]', '[0,0,0,0]',
	 'Infinity', 2147483647, 9223372036854775807, 'Infinity', 'awkward', 'ctid',
	 ARRAY['rating', 'no_such_column'], NULL, NULL, NULL, NULL, true),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	('smith', ARRAY['movie_id', 'genres', 'genres'], ARRAY['1', 'Animation', 'Comedy'],
	 array_fill(1.0::real, ARRAY[16000])::fm_vector, '[1,2,3,4,5]', 1e30,
	 -2147483648, -9223372036854775808, -1e308, 'pg_class', 'relname', ARRAY['relname'],
	 array_fill(0.0::real, ARRAY[3]), '{}', '{0}', '{1,2,2,3}', false);
ANALYZE;
-- sqlsmith writes no ORDER BY: views bring the serving queries (the top-N
-- scan, the fm_ivf index scan, fm_topk) into its joins, filters and
-- lateral subqueries, which rescan them.
CREATE VIEW ranked_movies AS
SELECT movie_id, title, fm_score(fm_query('smith', ARRAY['gender', 'age_group'], ARRAY['F', '25-34']),
                                 embedding, bias) AS score
  FROM movies ORDER BY score DESC LIMIT 20;
CREATE VIEW ranked_items AS
SELECT id, note, fm_score('[1,0,0,1]', embedding, bias) AS score
  FROM items WHERE fm_dims(embedding) IS DISTINCT FROM 2
 ORDER BY score DESC NULLS FIRST LIMIT 10;
CREATE VIEW nearest_movies AS
SELECT movie_id, title
  FROM movies
 ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(fm_query('smith', ARRAY['user_id'], ARRAY['42']))
 LIMIT 20;
CREATE VIEW topk_movies AS
SELECT * FROM fm_topk(fm_query('smith', ARRAY['user_id'], ARRAY['1']), 'movies', 10, id_column => 'movie_id');

-- The role sqlsmith connects as, and the catalog it sees.
CREATE ROLE :"role" LOGIN;
-- Not the ratings (100,000 rows): random joins of them only time out; and
-- fewer tables make sqlsmith pick the awkward values more often.
GRANT ALL ON movies, users, items, awkward, fm_model, fm_feature TO :"role";
GRANT SELECT ON ranked_movies, ranked_items, nearest_movies, topk_movies TO :"role";
GRANT SELECT ON fm_topk_version TO :"role";
CREATE SCHEMA smith_catalog;
CREATE VIEW smith_catalog.pg_proc AS
SELECT p.oid, p.proname, p.pronamespace, p.prorettype, p.prokind, p.proargtypes,
       false AS proretset
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_catalog.pg_extension'::regclass
       AND d.refobjid = e.oid AND d.deptype = 'e'
 WHERE e.extname = 'fmrec';
GRANT USAGE ON SCHEMA smith_catalog TO :"role";
GRANT SELECT ON smith_catalog.pg_proc TO :"role";
ALTER ROLE :"role" SET search_path = smith_catalog, pg_catalog, public;
-- The same role with every query run in parallel workers where it can be
-- (force_parallel_mode): fm_sum's and fm_avg's partial states then cross
-- processes, and a function labelled PARALLEL SAFE that is not fails.
CREATE ROLE :"prole" LOGIN IN ROLE :"role";
ALTER ROLE :"prole" SET search_path = smith_catalog, pg_catalog, public;
ALTER ROLE :"prole" SET force_parallel_mode = regress;
ALTER ROLE :"prole" SET parallel_setup_cost = 0;
ALTER ROLE :"prole" SET parallel_tuple_cost = 0;
ALTER ROLE :"prole" SET min_parallel_table_scan_size = 0;
SQL

# What sqlsmith will read as "pg_proc": fmrec's functions, and only them.
functions=$(psql -qXAt -d "$DB" -U "$ROLE" -c "SELECT count(*) FROM pg_proc")
all_functions=$(psql -qXAt -d "$DB" -U "$ROLE" -c "SELECT count(*) FROM pg_catalog.pg_proc")
check "sqlsmith's roles see fmrec's $functions functions of $all_functions" \
	test "$functions" -gt 0 -a "$functions" -lt 100 -a "$functions" -lt "$all_functions"
# run_sqlsmith ROLE SEED QUERIES: one sqlsmith run, its summary, its check.
run_sqlsmith() {
	local role=$1 seed=$2 queries=$3 status=0 start elapsed ran
	log "sqlsmith as $role: $queries queries, seed $seed, $functions fmrec functions"
	start=$(date +%s)
	(cd "$WORK" && timeout 900 sqlsmith --target="host=$PGHOST port=$PGPORT dbname=$DB user=$role" \
		--seed="$seed" --max-queries="$queries" --exclude-catalog --verbose) \
		>"$WORK/sqlsmith-$role.out" 2>&1 || status=$?
	elapsed=$(( $(date +%s) - start ))
	# its last report: the number of queries, then its most frequent errors
	tr '\r' '\n' <"$WORK/sqlsmith-$role.out" | awk '/^queries:/ { n = 0 } { last[n++] = $0 }
		END { for (i = 0; i < n && i < 10; i++) print last[i] }' | cut -c 1-110 | sed 's/^/    /'
	ran=$(tr '\r' '\n' <"$WORK/sqlsmith-$role.out" | sed -n 's/^queries: \([0-9]*\)$/\1/p' | tail -n 1)
	echo "sqlsmith: $role ran ${ran:-no} queries in ${elapsed}s"
	check "sqlsmith as $role ran its $queries queries to the end (exit status $status)" \
		test "$status" -eq 0 -a "${ran:-0}" -eq "$queries"
}
# Half the queries serial, half with parallel workers forced.
run_sqlsmith "$ROLE" "$SEED" $((QUERIES / 2))
run_sqlsmith "${ROLE}_parallel" $((SEED + 1)) $((QUERIES - QUERIES / 2))

# Crashes: a backend killed by a signal, or a restart of the postmaster.
crash_lines=$(grep -E 'terminated by signal|server process .* was terminated|was terminated by exception|terminating any other active server processes|database system was interrupted' "$LOG" || true)
pid_after=$(postmaster_pid 2>/dev/null || echo none)
check "no server crash or restart (postmaster $pid_before, now $pid_after)" \
	test -z "$crash_lines" -a "$pid_after" = "$pid_before"
[ -z "$crash_lines" ] || printf '%s\n' "$crash_lines" | head -n 20 | sed 's/^/    /'

# Internal errors: each ERROR line of SQLSTATE XX000 with the LOCATION and
# STATEMENT lines that follow it in the verbose log.
awk '
	/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] XX000 ERROR:/ { if (e != "") print e "\n"; e = $0; next }
	e != "" && /^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] XX000 (LOCATION|STATEMENT):/ { e = e "\n" $0; next }
	e != "" && !/^[0-9][0-9][0-9][0-9]-/ { e = e "\n" $0; next }
	e != "" { print e "\n"; e = "" }
	END { if (e != "") print e "\n" }
' "$LOG" >"$WORK/internal_errors"
sources=$(cd "$FMREC_ROOT/src" && ls *.c core/*.c | xargs -n 1 basename | paste -sd '|')
fmrec_internal=$(grep -E "LOCATION: +[A-Za-z_0-9]+, +(.*/)?($sources):[0-9]+" "$WORK/internal_errors" || true)
check "no XX000 error raised in fmrec's source files" test -z "$fmrec_internal"
if [ -s "$WORK/internal_errors" ]; then
	echo "    XX000 errors in the log ($(grep -c ' ERROR:' "$WORK/internal_errors") in all; distinct messages and locations):"
	grep -E ' (ERROR|LOCATION):' "$WORK/internal_errors" | sed -E 's/^[^]]*\] XX000 //; s/XX000: //; s/[0-9]+/N/g' \
		| paste - - | sort | uniq -c | sort -rn | head -n 20 | sed 's/^/    /'
	echo "    the first ones in full (fmrec's first):"
	{ awk -v RS= -v src="$sources" '$0 ~ ("LOCATION: +[A-Za-z_0-9]+, +(.*/)?(" src "):[0-9]+")' "$WORK/internal_errors"
	  awk -v RS= -v src="$sources" '$0 !~ ("LOCATION: +[A-Za-z_0-9]+, +(.*/)?(" src "):[0-9]+")' "$WORK/internal_errors"
	} | head -n 60 | cut -c 1-300 | sed 's/^/    /'
fi
[ -z "${FMREC_SQLSMITH_KEEP_LOG:-}" ] || cp "$LOG" "$FMREC_SQLSMITH_KEEP_LOG"
echo "sqlsmith: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
