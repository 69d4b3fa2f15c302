#!/usr/bin/env bash
# Scheduled retraining with pg_cron while the application keeps serving.
#
# A throwaway cluster with shared_preload_libraries = 'pg_cron'; a cron job
# retrains the model every minute (Debian 12 ships pg_cron 1.4, whose finest
# schedule is one minute) while pgbench runs the top-10 query in a loop.
# Each pgbench transaction reads the top-10 and checks, in the same
# snapshot, that the model it used is complete (fm_feature holds exactly
# n_features rows for it) and that the registered item table shows that
# same model (every row's version and vectors, the same top-10): a mixed
# or half-written model, or item vectors of another training, fail the
# transaction.  Then the job's source is emptied: the next run fails, the
# failure is in cron.job_run_details and the served model is untouched.
#
# Prints "cron: N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PASSED=0
FAILED=0
check() {	# check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; PASSED=$((PASSED + 1)); else echo "not ok: $what"; FAILED=$((FAILED + 1)); fi
}
sql() { psql -qXAt -d cronjob -c "$1"; }

# Waits until the job has at least $1 runs in a status of $2 (bounded: 150 s).
wait_for_runs() {
	local want=$1 statuses=$2 i
	for i in $(seq 150); do
		[ "$(sql "SELECT count(*) FROM cron.job_run_details WHERE status IN ($statuses)")" -ge "$want" ] && return 0
		sleep 1
	done
	return 1
}

ensure_packages "postgresql-$PG_MAJOR-cron"
# background workers: jobs run inside the server, no TCP login needed
start_cluster "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'cronjob'" \
	"cron.use_background_workers = on"
createdb cronjob
psql -qX -d cronjob <<'SQL'
CREATE EXTENSION fmrec;
CREATE EXTENSION pg_cron;
SET client_min_messages = warning;
-- a small ratings table with structure, and an item table to serve from
CREATE TABLE ratings AS
SELECT u AS user_id, i AS item_id, CASE WHEN (u + i) % 3 = 0 THEN 5 ELSE 2 END::real AS rating
  FROM generate_series(1, 300) u, generate_series(1, 200) i WHERE (u * 31 + i * 17) % 4 = 0;
SELECT 1 FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id'], 'shop', k => 16, epochs => 5);
CREATE TABLE items AS SELECT i AS item_id, NULL::real AS bias, NULL::fm_vector AS embedding,
                             NULL::bigint AS fm_version FROM generate_series(1, 200) i;
-- registered: every retraining refreshes it in its own transaction
SELECT fm_materialize_items('shop', 'items', version_column => 'fm_version');
SQL
first_trained=$(sql "SELECT trained_at FROM fm_model WHERE model = 'shop'")
first_version=$(sql "SELECT version FROM fm_model WHERE model = 'shop'")
sql "SELECT cron.schedule('retrain-shop', '* * * * *', \$\$SELECT fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id'], 'shop', k => 16, epochs => 5)\$\$)" >/dev/null

# The serving transaction: top-10 for a user, and the completeness check.
cat >"$FMREC_CLUSTER_DIR/serve.sql" <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT (SELECT count(*) FROM fm_feature f WHERE f.model = 'shop') = m.n_features AS complete
  FROM fm_model m WHERE m.model = 'shop' \gset
\if :complete
\else
SELECT 1 / 0 AS model_is_incomplete;
\endif
SELECT value FROM fm_feature WHERE model = 'shop' AND feature = 'item_id'
 ORDER BY fm_score(fm_query('shop', ARRAY['user_id'], ARRAY['7']), embedding, bias) DESC LIMIT 10;
-- the registered item table shows the same model: every row carries the
-- model's version and its item's vectors, and its top-10 is the model's
SELECT count(*) = 0 AS items_current
  FROM items i JOIN fm_model m ON m.model = 'shop'
  LEFT JOIN fm_feature f ON f.model = 'shop' AND f.feature = 'item_id' AND f.value = i.item_id::text
 WHERE i.fm_version IS DISTINCT FROM m.version
    OR (f.value IS NOT NULL AND (i.bias IS DISTINCT FROM f.bias OR i.embedding::text IS DISTINCT FROM f.embedding::text)) \gset
SELECT (SELECT array_agg(item_id::text) FROM (SELECT item_id FROM items
          ORDER BY fm_score(fm_query('shop', ARRAY['user_id'], ARRAY['7']), embedding, bias) DESC, item_id LIMIT 10) a)
     = (SELECT array_agg(value) FROM (SELECT value FROM fm_feature WHERE model = 'shop' AND feature = 'item_id'
          ORDER BY fm_score(fm_query('shop', ARRAY['user_id'], ARRAY['7']), embedding, bias) DESC, value::int LIMIT 10) b)
       AS same_top10 \gset
\if :items_current
\else
SELECT 1 / 0 AS item_table_mixes_models;
\endif
\if :same_top10
\else
SELECT 1 / 0 AS item_table_top10_differs;
\endif
COMMIT;
SQL
log "pgbench serving for 75 s while pg_cron retrains every minute"
pgbench -n -c 2 -T 75 -f "$FMREC_CLUSTER_DIR/serve.sql" cronjob >"$FMREC_CLUSTER_DIR/pgbench.log" 2>&1 &
bench_pid=$!
check "the cron job ran and succeeded" wait_for_runs 1 "'succeeded'"
wait "$bench_pid" || true
grep -E 'number of (transactions actually processed|failed transactions)|tps' "$FMREC_CLUSTER_DIR/pgbench.log" || true
processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$FMREC_CLUSTER_DIR/pgbench.log")
check "pgbench served transactions" [ "${processed:-0}" -gt 0 ]
check "no serving transaction failed or saw a half-written model" \
	bash -c "! grep -qiE 'error|aborted|failed transactions: [1-9]' '$FMREC_CLUSTER_DIR/pgbench.log'"
check "every cron run succeeded" [ "$(sql "SELECT count(*) FROM cron.job_run_details WHERE status NOT IN ('succeeded', 'running', 'starting')")" -eq 0 ]
check "fm_model.trained_at advanced" [ "$(sql "SELECT trained_at > '$first_trained' FROM fm_model WHERE model = 'shop'")" = t ]

log "a failing retraining (empty source) must leave the served model untouched"
before=$(sql "SELECT trained_at || ' ' || n_features FROM fm_model WHERE model = 'shop'")
answer_before=$(sql "SELECT string_agg(value, ',') FROM (SELECT value FROM fm_feature WHERE model = 'shop' AND feature = 'item_id' ORDER BY fm_score(fm_query('shop', ARRAY['user_id'], ARRAY['7']), embedding, bias) DESC LIMIT 10) s")
runs=$(sql "SELECT count(*) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')")
sql "TRUNCATE ratings"
wait_for_runs $((runs + 1)) "'succeeded', 'failed'" || true
check "the failed run is recorded in cron.job_run_details" \
	[ "$(sql "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed' AND return_message LIKE '%no usable rows%'")" -ge 1 ]
check "the model is unchanged after the failed run" [ "$(sql "SELECT trained_at || ' ' || n_features FROM fm_model WHERE model = 'shop'")" = "$before" ]
check "the served top-10 is unchanged" [ "$(sql "SELECT string_agg(value, ',') FROM (SELECT value FROM fm_feature WHERE model = 'shop' AND feature = 'item_id' ORDER BY fm_score(fm_query('shop', ARRAY['user_id'], ARRAY['7']), embedding, bias) DESC LIMIT 10) s")" = "$answer_before" ]
check "the registered item table still shows the served model" \
	[ "$(sql "SELECT count(*) FROM items i, fm_model m WHERE m.model = 'shop' AND i.fm_version IS DISTINCT FROM m.version")" -eq 0 ]
check "retrainings refreshed the item table (its version is not the first training's)" \
	[ "$(sql "SELECT count(DISTINCT fm_version) = 1 AND min(fm_version) > $first_version FROM items")" = t ]
sql "SELECT cron.unschedule('retrain-shop')" >/dev/null
echo "cron: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
