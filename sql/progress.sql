-- Training you can watch: fm_model.history, fmrec.training_notices, and the
-- view fm_training_progress as the training's own backend sees it (a
-- function in the source query reads it while the rows are read).  Other
-- sessions watching a running training: test/t/110_progress.pl.
SET client_min_messages = warning;	-- per-epoch NOTICEs carry timings
\i sql/include/try.sql
SELECT fm_dims('[1]') AS loaded;	-- loads fmrec (its settings)
-- The view needs shared memory: on PostgreSQL 15 and 16 only with
-- shared_preload_libraries = 'fmrec' (progress_1.out: without, where the
-- view is empty and warns, and its part of the test is skipped).
SELECT current_setting('server_version_num')::int >= 170000
       OR 'fmrec' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
       AS progress_available \gset

-- 60 users x 200 items, every cell: 12,000 rows, more than one fetch batch
CREATE TABLE pr_ratings AS
SELECT u AS user_id, i AS item_id, 'g' || (i % 5) AS genre, ARRAY['t' || (i % 3)] AS tags,
       (1 + (u * 7 + i * 3) % 5)::real AS rating
  FROM generate_series(1, 60) u, generate_series(1, 200) i;
CREATE TABLE pr_items AS SELECT DISTINCT item_id, genre FROM pr_ratings;

-- ---- fm_model.history: one entry per epoch, the same keys for every method ----
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_sgd', k => 2, epochs => 3);
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_adam', k => 2, epochs => 2, method => 'adam');
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_als', k => 2, epochs => 2, method => 'als');
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_mcmc', k => 2, epochs => 4, method => 'mcmc');
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id', 'genre'], 'pr_ials',
       k => 2, epochs => 2, method => 'ials', item_features => ARRAY['item_id', 'genre'], items => 'pr_items');
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id', 'genre'], 'pr_bpr',
       k => 2, epochs => 2, method => 'bpr', item_features => ARRAY['item_id', 'genre'], items => 'pr_items');
-- without validation: validation_rmse is null
SELECT method, epochs FROM fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_noval', k => 2, epochs => 2,
       validation_fraction => 0);

SELECT m.model, m.method, m.epochs, jsonb_typeof(m.history) AS type, jsonb_array_length(m.history) AS entries,
       bool_and(e.value ?& ARRAY['epoch', 'train_rmse', 'validation_rmse', 'train_loss', 'validation_ndcg', 'seconds']
                AND (SELECT count(*) FROM jsonb_object_keys(e.value)) = 6) AS six_keys,
       array_agg((e.value->>'epoch')::int ORDER BY e.ordinality) = array_agg(e.ordinality::int ORDER BY e.ordinality) AS numbered,
       string_agg(DISTINCT concat_ws(',', jsonb_typeof(e.value->'train_rmse'), jsonb_typeof(e.value->'validation_rmse'),
                                     jsonb_typeof(e.value->'train_loss'), jsonb_typeof(e.value->'validation_ndcg')), ';') AS measured,
       bool_and((e.value->>'seconds')::float8 >= 0) AS seconds_ok
  FROM fm_model m, jsonb_array_elements(m.history) WITH ORDINALITY e
 WHERE m.model LIKE 'pr\_%'
 GROUP BY m.model, m.method, m.epochs ORDER BY m.model;

-- the last entry is the epoch the model kept (exact: the numbers round-trip;
-- the train RMSE of an SGD or Adam epoch is progressive, each row's error
-- taken before its update, while fm_model.train_rmse is measured after)
SELECT model, (history->-1->>'validation_rmse')::float8 = validation_rmse AS validation_matches,
       CASE WHEN method = 'als' THEN (history->-1->>'train_rmse')::float8 = train_rmse
            ELSE (history->-1->>'train_rmse')::float8 BETWEEN train_rmse * 0.8 AND train_rmse * 1.5 END AS train_close
  FROM fm_model WHERE model IN ('pr_sgd', 'pr_adam', 'pr_als') ORDER BY model;
SELECT (history->-1->>'validation_ndcg')::float8 = (params->>'validation_ndcg_at_10')::float8 AS ndcg_matches
  FROM fm_model WHERE model = 'pr_ials';
-- a failed retraining keeps the previous model and its history
SELECT pg_temp.try($$SELECT fm_train_from_table('pr_ratings', 'rating', ARRAY['user_id', 'item_id'], 'pr_sgd', k => 2, epochs => 3, learning_rate => 1e30)$$);
SELECT jsonb_array_length(history) AS entries FROM fm_model WHERE model = 'pr_sgd';

-- ---- the training's own row, seen from its source query ----
\if :progress_available
CREATE FUNCTION pr_seen() RETURNS boolean LANGUAGE sql VOLATILE AS $$
	SELECT set_config('pr.seen', coalesce((
	       SELECT concat_ws(' | ', phase, model, method, epoch || '/' || epochs, 'rows ' || rows_read,
	                        coalesce(coalesce(train_rmse, validation_rmse, train_loss, validation_ndcg)::text, 'no metric yet'),
	                        CASE WHEN started_at <= changed_at AND changed_at <= clock_timestamp() THEN 'times ok' END)
	         FROM fm_training_progress WHERE pid = pg_backend_pid()), 'no row'), false) IS NOT NULL
$$;
CREATE VIEW pr_watched AS SELECT * FROM pr_ratings WHERE pr_seen();
SELECT epochs FROM fm_train_from_table('pr_watched', 'rating', ARRAY['user_id', 'item_id'], 'pr_seen', k => 2, epochs => 3);
SELECT current_setting('pr.seen') AS seen_while_reading;
SELECT epochs FROM fm_train_from_table('pr_watched', 'rating', ARRAY['user_id', 'item_id', 'genre'], 'pr_seen_ials',
       k => 2, epochs => 2, method => 'ials', item_features => ARRAY['item_id', 'genre'], items => 'pr_items');
SELECT current_setting('pr.seen') AS seen_while_reading;
-- gone after the training
SELECT count(*) AS own_rows FROM fm_training_progress WHERE pid = pg_backend_pid();

-- gone after an error: in a subtransaction (try) and at top level (the
-- last row divides by zero)
CREATE VIEW pr_failing AS SELECT * FROM pr_ratings WHERE pr_seen() AND 1 / (12000 - user_id * item_id) IS NOT NULL;
SELECT pg_temp.try($$SELECT fm_train_from_table('pr_failing', 'rating', ARRAY['user_id', 'item_id'], 'pr_fail', epochs => 2)$$);
SELECT count(*) AS own_rows FROM fm_training_progress WHERE pid = pg_backend_pid();
SELECT epochs FROM fm_train_from_table('pr_failing', 'rating', ARRAY['user_id', 'item_id'], 'pr_fail', epochs => 2);
SELECT count(*) AS own_rows FROM fm_training_progress WHERE pid = pg_backend_pid();
SELECT count(*) AS failed_models FROM fm_model WHERE model = 'pr_fail';

-- a training started inside another (from its source query) is not shown:
-- the row stays the outer training's, also after the inner one ended
CREATE TABLE pr_small AS SELECT * FROM pr_ratings WHERE user_id <= 5;
CREATE FUNCTION pr_inner() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM fm_model WHERE model = 'pr_inner') THEN
		PERFORM fm_train_from_table('pr_small', 'rating', ARRAY['user_id', 'item_id'], 'pr_inner', k => 2, epochs => 2);
	END IF;
	RETURN pr_seen();
END $$;
CREATE VIEW pr_nested AS SELECT * FROM pr_ratings WHERE pr_inner();
SELECT epochs FROM fm_train_from_table('pr_nested', 'rating', ARRAY['user_id', 'item_id'], 'pr_outer', k => 2, epochs => 3);
SELECT current_setting('pr.seen') AS seen_after_inner;
SELECT model, jsonb_array_length(history) AS entries FROM fm_model WHERE model IN ('pr_inner', 'pr_outer') ORDER BY model;
SELECT count(*) AS own_rows FROM fm_training_progress WHERE pid = pg_backend_pid();

-- ---- privacy, as pg_stat_activity: another role sees pid, datname, usename, phase only ----
CREATE ROLE regress_progress_reader;
CREATE FUNCTION pr_seen_as_reader() RETURNS boolean LANGUAGE sql VOLATILE SECURITY DEFINER AS $$
	SELECT set_config('pr.seen', coalesce((
	       SELECT concat_ws(' | ', pid = pg_backend_pid(), datname = current_database(), usename = session_user, phase,
	                        coalesce(model, 'model hidden'), coalesce(epochs::text, 'epochs hidden'),
	                        CASE WHEN started_at IS NULL THEN 'started_at hidden' ELSE 'started_at shown' END)
	         FROM fm_training_progress WHERE pid = pg_backend_pid()), 'no row'), false) IS NOT NULL
$$;
ALTER FUNCTION pr_seen_as_reader() OWNER TO regress_progress_reader;
CREATE VIEW pr_watched_by_reader AS SELECT * FROM pr_ratings WHERE pr_seen_as_reader();
SELECT epochs FROM fm_train_from_table('pr_watched_by_reader', 'rating', ARRAY['user_id', 'item_id'], 'pr_private', k => 2, epochs => 2);
SELECT current_setting('pr.seen') AS seen_by_another_role;
GRANT pg_read_all_stats TO regress_progress_reader;
SELECT epochs FROM fm_train_from_table('pr_watched_by_reader', 'rating', ARRAY['user_id', 'item_id'], 'pr_private', k => 2, epochs => 2);
SELECT current_setting('pr.seen') AS seen_with_pg_read_all_stats;
-- everyone may read the view
SET ROLE regress_progress_reader;
SELECT count(*) AS readable FROM fm_training_progress;
RESET ROLE;
DROP VIEW pr_watched, pr_failing, pr_nested, pr_watched_by_reader;
DROP FUNCTION pr_seen(), pr_inner(), pr_seen_as_reader();
DROP ROLE regress_progress_reader;
\else
SELECT count(*) AS progress_rows FROM fm_training_progress;
CREATE TABLE pr_small AS SELECT * FROM pr_ratings WHERE user_id <= 5;
\endif

-- ---- fmrec.training_notices: how many NOTICEs (shown by SQLSTATE only: they carry timings) ----
SHOW fmrec.training_notices;
SET client_min_messages = notice;
\set VERBOSITY sqlstate
SELECT epochs FROM fm_train_from_table('pr_small', 'rating', ARRAY['user_id', 'item_id'], 'pr_notices', k => 2, epochs => 3);
SET fmrec.training_notices = 'summary';
SELECT epochs FROM fm_train_from_table('pr_small', 'rating', ARRAY['user_id', 'item_id'], 'pr_notices', k => 2, epochs => 3);
SELECT epochs FROM fm_train_from_table('pr_small', 'rating', ARRAY['user_id', 'item_id', 'genre'], 'pr_notices',
       k => 2, epochs => 3, method => 'ials', item_features => ARRAY['item_id', 'genre'], items => 'pr_items');
SET fmrec.training_notices = 'none';
SELECT epochs FROM fm_train_from_table('pr_small', 'rating', ARRAY['user_id', 'item_id'], 'pr_notices', k => 2, epochs => 3);
-- the history is kept whatever is printed
SELECT jsonb_array_length(history) AS entries FROM fm_model WHERE model = 'pr_notices';
\set VERBOSITY default
SET client_min_messages = warning;
SELECT pg_temp.try($$SET fmrec.training_notices = 'loud'$$);
RESET fmrec.training_notices;

DROP TABLE pr_ratings, pr_items, pr_small;
SELECT count(fm_drop_model(model)) AS dropped FROM fm_model WHERE model LIKE 'pr\_%';
