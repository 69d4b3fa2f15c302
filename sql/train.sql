-- fm_train_from_table: summary, model tables, determinism, serving invariant.
SET client_min_messages = warning;	-- per-epoch NOTICEs carry timings
\i sql/include/try.sql

-- A small ratings table with structure: users of group 'a' like even
-- items, group 'b' odd ones; every item has one or two genres.
CREATE TABLE ratings (user_id int, item_id int, grp text, genres text[], rating real);
INSERT INTO ratings
SELECT u, i, CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END,
       CASE WHEN i % 3 = 0 THEN ARRAY['x', 'y'] ELSE ARRAY['z'] END,
       CASE WHEN (u + i) % 2 = 0 THEN 4.5 ELSE 1.5 END + ((u * 7 + i * 3) % 5 - 2) * 0.1
  FROM generate_series(1, 60) u, generate_series(1, 40) i
 WHERE (u * 13 + i * 7) % 3 <> 0;

SELECT model, method, k, epochs, rows_used, rows_skipped, n_features,
       train_rmse < 0.5 AS fits_train, validation_rmse < 0.7 AS generalises
  FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                           'small', k => 8, epochs => 40, seed => 1);
SELECT model, method, k, epochs, rows_used, n_features, features, source, target,
       target_min, target_max, params->>'seed' AS seed, trained_at <= clock_timestamp() AS trained
  FROM fm_model;
SELECT feature, count(*), bool_and(fm_dims(embedding) = 8) AS dims_ok
  FROM fm_feature WHERE model = 'small' GROUP BY feature ORDER BY feature;

-- adam trains too
SELECT method, validation_rmse < 0.7 AS generalises
  FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                           'small_adam', method => 'adam', k => 8, epochs => 40, seed => 1);

-- deterministic for a seed: the same model bit for bit; another seed differs
SELECT 1 FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                                  'small_again', k => 8, epochs => 40, seed => 1);
SELECT 1 FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                                  'small_seed2', k => 8, epochs => 40, seed => 2);
SELECT b.model, count(*) AS features,
       count(*) FILTER (WHERE a.bias = b.bias AND a.embedding = b.embedding) AS identical,
       (SELECT w0 FROM fm_model WHERE model = 'small') = (SELECT w0 FROM fm_model WHERE model = b.model) AS same_w0
  FROM fm_feature a JOIN fm_feature b USING (feature, value)
 WHERE a.model = 'small' AND b.model IN ('small_again', 'small_seed2')
 GROUP BY b.model ORDER BY b.model;

-- fm_predict evaluates the stored model exactly as training did: with no
-- validation split, the RMSE of fm_predict over the table is the train RMSE
CREATE TEMP TABLE full_fit AS
SELECT * FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                                  'full', k => 8, epochs => 20, validation_fraction => 0);
SELECT validation_rmse IS NULL AS no_validation,
       abs(train_rmse - (SELECT sqrt(avg((rating - fm_predict('full',
              ARRAY['user_id', 'item_id', 'grp'] || array_fill('genres'::text, ARRAY[cardinality(genres)]),
              ARRAY[user_id::text, item_id::text, grp] || genres)) ^ 2)) FROM ratings)) < 1e-4 AS predict_matches
  FROM full_fit;
-- predictions are clipped to the target range seen in training
SELECT min(p) >= 1.3 AND max(p) <= 4.7 AS clipped FROM (
  SELECT fm_predict('full', ARRAY['user_id', 'item_id'], ARRAY[u::text, i::text]) AS p
    FROM generate_series(1, 60) u, generate_series(1, 40) i) s;
-- unknown values contribute nothing: a wholly unknown row predicts w0
SELECT fm_predict('full', ARRAY['user_id'], ARRAY['no such user']) = (SELECT w0 FROM fm_model WHERE model = 'full')
       AS unknown_is_w0;

-- Serving invariant: for a user context, ORDER BY fm_score(query, item
-- embedding, item bias) ranks items as the full fm_predict does.  fm_item()
-- materialises each item's bias and embedding (absorbing its genres).
CREATE TABLE items AS
SELECT i AS item_id, CASE WHEN i % 3 = 0 THEN ARRAY['x', 'y'] ELSE ARRAY['z'] END AS genres
  FROM generate_series(1, 40) i;
ALTER TABLE items ADD COLUMN bias real, ADD COLUMN embedding fm_vector(8);
UPDATE items SET (bias, embedding) = (
  SELECT f.bias, f.embedding FROM fm_item('full',
    ARRAY['item_id'] || array_fill('genres'::text, ARRAY[cardinality(genres)]),
    ARRAY[item_id::text] || genres) f);
CREATE TEMP TABLE invariant AS
SELECT u AS user_id, item_id,
       fm_score(fm_query('full', ARRAY['user_id', 'grp'], ARRAY[u::text, CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END]),
                embedding, bias) AS score,
       fm_predict('full',
                  ARRAY['user_id', 'grp', 'item_id'] || array_fill('genres'::text, ARRAY[cardinality(genres)]),
                  ARRAY[u::text, CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END, item_id::text] || genres) AS predicted
  FROM items, generate_series(1, 60, 7) u;
-- score and prediction differ by a per-user constant wherever no clipping happened
SELECT count(DISTINCT user_id) AS users,
       bool_and(spread < 1e-4) AS constant_offset
  FROM (SELECT user_id, max(predicted - score) - min(predicted - score) AS spread
          FROM invariant
         WHERE predicted > (SELECT target_min FROM fm_model WHERE model = 'full')
           AND predicted < (SELECT target_max FROM fm_model WHERE model = 'full')
         GROUP BY user_id) s;
-- so the top-10 by fm_score is the top-10 by fm_predict
SELECT count(*) AS users_with_same_top10 FROM (
  SELECT user_id,
         (array_agg(item_id ORDER BY score DESC, item_id))[1:10] AS by_score,
         (array_agg(item_id ORDER BY predicted DESC, item_id))[1:10] AS by_predict,
         bool_and(predicted > 1.3 AND predicted < 4.7) AS unclipped
    FROM invariant GROUP BY user_id) s
 WHERE by_score = by_predict OR NOT unclipped;

-- cold start: a context of metadata only gives a query vector
SELECT fm_dims(fm_query('full', ARRAY['grp'], ARRAY['a'])) AS dims,
       fm_query('full', ARRAY['grp'], ARRAY['a']) = (SELECT embedding FROM fm_feature WHERE model = 'full' AND feature = 'grp' AND value = 'a') AS is_the_embedding,
       fm_norm(fm_query('full', ARRAY['grp'], ARRAY['nobody'])) AS unknown_is_zero;

-- fm_query keeps one result per call site, not one per context: a context
-- that changes on every row grows the query's memory no more than the same
-- rows without fm_query (the cursors keep each query's ExecutorState alive
-- to be measured; generate_series' rows take the same room in both)
BEGIN;
DECLARE plain CURSOR FOR SELECT fm_norm('[1]') FROM generate_series(1, 2000) u;
MOVE ALL IN plain;
SELECT max(total_bytes) AS plain_bytes FROM pg_backend_memory_contexts WHERE name = 'ExecutorState' \gset
CLOSE plain;
DECLARE per_row CURSOR FOR SELECT fm_query('full', ARRAY['user_id'], ARRAY[u::text]) FROM generate_series(1, 2000) u;
MOVE ALL IN per_row;
SELECT max(total_bytes) - :plain_bytes < 100000 AS per_row_context_does_not_accumulate
  FROM pg_backend_memory_contexts WHERE name = 'ExecutorState';
COMMIT;
SELECT count(DISTINCT fm_query('full', ARRAY['user_id'], ARRAY[(u % 3 + 1)::text])::text) AS three_contexts_three_vectors,
       bool_and(fm_query('full', ARRAY['user_id'], ARRAY[(u % 3 + 1)::text]) =
                fm_query('full', jsonb_build_object('user_id', u % 3 + 1))) AS each_row_its_own
  FROM generate_series(1, 30) u;

-- retraining replaces the model in place; dropping removes it
SELECT trained_at AS before FROM fm_model WHERE model = 'full' \gset
SELECT 1 FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id'], 'full', k => 4, epochs => 2);
SELECT k, features, trained_at > :'before' AS newer, (SELECT count(*) FROM fm_feature WHERE model = 'full') AS features_rows
  FROM fm_model WHERE model = 'full';
SELECT fm_drop_model('full');
SELECT count(*) AS left_behind FROM fm_feature WHERE model = 'full';
SELECT pg_temp.try($$SELECT fm_drop_model('full')$$);
SELECT fm_drop_model('full', if_exists => true);

-- an explicit validation relation replaces the random split: its RMSE is
-- that of fm_predict over it, values unseen in training contributing nothing
CREATE TABLE held AS SELECT * FROM ratings WHERE user_id % 10 = 0;
CREATE TABLE fitted AS SELECT * FROM ratings WHERE user_id % 10 <> 0;
INSERT INTO held VALUES (1000, 1, 'a', ARRAY['x', 'new genre'], 3.0);
CREATE TEMP TABLE with_validation AS
SELECT * FROM fm_train_from_table('fitted', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                                  'validated', k => 8, epochs => 20, validation => 'held');
SELECT rows_used = (SELECT count(*) FROM fitted) AS trained_on_all_rows,
       abs(validation_rmse - (SELECT sqrt(avg((rating - fm_predict('validated',
              ARRAY['user_id', 'item_id', 'grp'] || array_fill('genres'::text, ARRAY[cardinality(genres)]),
              ARRAY[user_id::text, item_id::text, grp] || genres)) ^ 2)) FROM held)) < 1e-4 AS validation_is_predict_rmse,
       (SELECT count(*) FROM fm_feature WHERE model = 'validated' AND value IN ('1000', 'new genre')) AS unseen_values_stored
  FROM with_validation;
SELECT fm_drop_model('validated');

-- leave the shared regression database as we found it
DROP TABLE ratings, items, held, fitted;
SELECT count(fm_drop_model(model)) AS models_dropped FROM fm_model
 WHERE model IN ('small', 'small_adam', 'small_again', 'small_seed2');
