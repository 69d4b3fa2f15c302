-- fm_train_from_table(method => 'ials'): implicit feedback, served by the
-- existing path; every bad input is an ERROR with its SQLSTATE and leaves
-- the previous model untouched.
SET client_min_messages = warning;
\i sql/include/try.sql

-- users 1..30 in two groups; items 1..12 with a genre array; item 12 is
-- rated by nobody.  Users of group 'a' watch the odd items, 'b' the even.
CREATE TABLE people (u int PRIMARY KEY, grp text);
INSERT INTO people SELECT x, CASE WHEN x % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 30) x;
CREATE TABLE things (i int PRIMARY KEY, genres text[]);
INSERT INTO things SELECT x, ARRAY['g' || x % 2, 'h' || x % 3] FROM generate_series(1, 12) x;
CREATE TABLE watched (u int, i int, rating real);
INSERT INTO watched
SELECT p.u, t.i, 1 + (p.u + t.i) % 5
  FROM people p JOIN things t ON (t.i % 2 = 1) = (p.grp = 'a') AND t.i < 12 AND (p.u * 7 + t.i) % 3 <> 0;
CREATE VIEW watched_meta AS SELECT w.*, p.grp, t.genres FROM watched w JOIN people p USING (u) JOIN things t USING (i);

SELECT model, method, k, rows_used, n_features, train_rmse IS NULL AS no_rmse,
       validation_ndcg BETWEEN 0 AND 1 AS ndcg_in_range
  FROM fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'grp', 'i', 'genres'], 'imp',
                           method => 'ials', k => 4, epochs => 5,
                           item_features => ARRAY['i', 'genres'], items => 'things');
SELECT method, (params->>'unobserved_weight')::float8 AS unobserved_weight, params ? 'popularity_exponent' AS has_beta, params->'item_features' AS item_features,
       params->>'items' AS items, (params->>'validation_ndcg_at_10')::float8 BETWEEN 0 AND 1 AS ndcg_stored
  FROM fm_model WHERE model = 'imp';
-- the item nobody rated has its feature row (its id and its genres)
SELECT feature, value FROM fm_feature WHERE model = 'imp' AND feature = 'i' AND value = '12';

-- served unchanged: group 'a' (odd items) gets odd items on top, 'b' even ones
WITH items AS (SELECT t.i, f.bias, f.embedding
                 FROM things t, fm_item('imp', ARRAY['i', 'genres', 'genres'],
                                        ARRAY[t.i::text, t.genres[1], t.genres[2]]) f)
SELECT g.grp, array_agg(top.i % 2 ORDER BY top.i) AS parity_of_top3
  FROM (VALUES ('a'), ('b')) g(grp),
       LATERAL (SELECT i FROM items
                 ORDER BY fm_score(fm_query('imp', ARRAY['grp'], ARRAY[g.grp]), embedding, bias) DESC
                 LIMIT 3) top
 GROUP BY g.grp ORDER BY g.grp;

-- the same seed gives the same model bits
SELECT (fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'grp', 'i', 'genres'], 'imp2',
                           method => 'ials', k => 4, epochs => 5,
                           item_features => ARRAY['i', 'genres'], items => 'things')).model = 'imp2' AS trained;
SELECT count(*) AS differing FROM fm_feature a JOIN fm_feature b USING (feature, value)
 WHERE a.model = 'imp' AND b.model = 'imp2' AND (a.bias <> b.bias OR a.embedding::text <> b.embedding::text);

-- the same rows and catalogue stored in another order give the same model bits
CREATE TABLE things_reversed AS SELECT * FROM things ORDER BY i DESC;
CREATE TABLE watched_reversed AS SELECT * FROM watched_meta ORDER BY u DESC, i DESC;
SELECT (fm_train_from_table('watched_reversed', 'rating', ARRAY['u', 'grp', 'i', 'genres'], 'imp4',
                            method => 'ials', k => 4, epochs => 5,
                            item_features => ARRAY['i', 'genres'], items => 'things_reversed')).model = 'imp4' AS trained;
SELECT count(*) AS features, count(*) FILTER (WHERE a.bias <> b.bias OR a.embedding::text <> b.embedding::text) AS differing
  FROM fm_feature a JOIN fm_feature b USING (feature, value)
 WHERE a.model = 'imp' AND b.model = 'imp4';

-- a threshold: only ratings >= 4 are positives
SELECT rows_used, validation_ndcg IS NULL AS no_validation
  FROM fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'i'], 'imp3', method => 'ials', k => 2,
                           epochs => 2, item_features => ARRAY['i'], items => 'things',
                           positive_threshold => 4, validation_fraction => 0, confidence => 0.5,
                           unobserved_weight => 0.2);

-- method 'bpr': the same arguments, a pairwise ranking loss; the same served path
SELECT method, epochs, validation_ndcg BETWEEN 0 AND 1 AS ndcg_in_range, train_rmse IS NULL AS no_rmse
  FROM fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'grp', 'i', 'genres'], 'bpr',
                           method => 'bpr', k => 4, epochs => 40, learning_rate => 0.1,
                           item_features => ARRAY['i', 'genres'], items => 'things');
WITH items AS (SELECT t.i, f.bias, f.embedding
                 FROM things t, fm_item('bpr', ARRAY['i', 'genres', 'genres'],
                                        ARRAY[t.i::text, t.genres[1], t.genres[2]]) f)
SELECT g.grp, array_agg(top.i % 2 ORDER BY top.i) AS parity_of_top3
  FROM (VALUES ('a'), ('b')) g(grp),
       LATERAL (SELECT i FROM items
                 ORDER BY fm_score(fm_query('bpr', ARRAY['grp'], ARRAY[g.grp]), embedding, bias) DESC
                 LIMIT 3) top
 GROUP BY g.grp ORDER BY g.grp;
SELECT pg_temp.try($$SELECT fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'i'], 'bpr',
                     method => 'bpr', item_features => ARRAY['i'], items => 'things', unobserved_weight => 0.1)$$);
SELECT pg_temp.try($$SELECT fm_train_from_table('watched_meta', 'rating', ARRAY['u', 'i'], 'bpr',
                     method => 'bpr', item_features => ARRAY['i'])$$);

-- bad input
SELECT trained_at AS kept_at FROM fm_model WHERE model = 'imp' \gset
CREATE TABLE things_partial AS SELECT * FROM things WHERE i <= 5;
CREATE TABLE things_empty (i int, genres text[]);
CREATE TABLE things_nokey AS SELECT * FROM things UNION ALL SELECT NULL, ARRAY['g0'];
CREATE TABLE things_twice AS SELECT * FROM things UNION ALL SELECT 3, ARRAY['g0'];
CREATE TABLE things_nogenres AS SELECT i FROM things;
CREATE TABLE things_arraykey (i int[], genres text[]);
CREATE VIEW watched_nullitem AS SELECT u, CASE WHEN u = 7 THEN NULL ELSE i END AS i, rating, grp FROM watched_meta;
CREATE VIEW watched_arraykey AS SELECT u, ARRAY[i] AS i, rating FROM watched;
SELECT q, pg_temp.try(format($f$SELECT fm_train_from_table(%s)$f$, q)) FROM (VALUES
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i']$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', item_features => ARRAY['i'], items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'sgd', positive_threshold => 4$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['genres'], items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i', 'i'], items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY[]::name[], items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i', NULL], items => 'things'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things_partial'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things_empty'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things_nokey'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things_twice'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i', 'genres'], 'imp', method => 'ials', item_features => ARRAY['i', 'genres'], items => 'things_nogenres'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'no_such_table'$$),
  ($$'watched_nullitem', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things'$$),
  ($$'watched_arraykey', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things_arraykey'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', positive_threshold => 6$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', positive_threshold => 'Infinity'$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', unobserved_weight => 0$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', confidence => -1$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', learning_rate => 0.1$$),
  ($$'watched_meta', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials', item_features => ARRAY['i'], items => 'things', validation => 'watched'$$)) t(q);
-- the pairs, contexts and the sweep's caches are charged to the training budget
CREATE TABLE many AS SELECT x % 2000 AS u, x % 12 + 1 AS i, 1::real AS rating FROM generate_series(1, 40000) x;
SET fmrec.max_training_memory = '1MB';
SELECT pg_temp.try($$SELECT fm_train_from_table('many', 'rating', ARRAY['u', 'i'], 'imp', method => 'ials',
                     item_features => ARRAY['i'], items => 'things')$$) ~ '^53200' AS over_budget;
RESET fmrec.max_training_memory;
-- nothing was written: the first model is as it was
SELECT trained_at = :'kept_at' AS kept FROM fm_model WHERE model = 'imp';
