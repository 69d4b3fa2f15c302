-- Feature kinds in training (README "Numeric and weighted features"): the
-- type defaults, feature_kinds, what x each kind gives (exact fits with
-- round numbers), what is stored, the errors with their SQLSTATEs, and the
-- readers that must read a row alike: validation, catalogue, fm_evaluate.
SET client_min_messages = warning;
\i sql/include/try.sql

CREATE TABLE tf (y float8, u int, price float8, cnt int, tags jsonb, genres text[], title text);
INSERT INTO tf
SELECT 1 + x % 5, x % 6, (x % 4) * 25.0, x % 3, jsonb_build_object('a', (x % 2) * 0.5, 'b', 1.5),
       ARRAY['g' || x % 2, 'h' || x % 3], 't' || x % 2
  FROM generate_series(1, 300) x;

-- the defaults: integer and text categorical, float8 numeric, jsonb weighted, arrays 1/len
SELECT n_features FROM fm_train_from_table('tf', 'y', ARRAY['u', 'price', 'tags', 'genres', 'title'], 'tf',
                                           k => 2, epochs => 3);
SELECT features, feature_kinds FROM fm_model WHERE model = 'tf';
-- a numeric column is one feature, value ''; a weighted column's keys are its values
SELECT feature, value FROM fm_feature WHERE model = 'tf' ORDER BY feature, value;
-- overridden: an integer count as numeric, an array 1 each, a float as categorical
SELECT n_features FROM fm_train_from_table('tf', 'y', ARRAY['cnt', 'genres', 'price'], 'tf2', k => 2, epochs => 3,
                                           feature_kinds => '{"cnt": "numeric", "genres": "each", "price": "categorical"}');
SELECT features, feature_kinds FROM fm_model WHERE model = 'tf2';
SELECT feature, count(*) AS n_values FROM fm_feature WHERE model = 'tf2' GROUP BY feature ORDER BY feature;

-- row order does not matter with numeric and weighted columns either (the
-- scale is a max, the rows' canonical order compares weights)
CREATE VIEW tf_shuffled AS SELECT * FROM tf ORDER BY md5(y::text || u || price), cnt DESC;
SELECT 1 AS trained FROM fm_train_from_table('tf_shuffled', 'y', ARRAY['u', 'price', 'tags', 'genres', 'title'], 'tf_shuffled',
                                             k => 2, epochs => 3);
SELECT count(*) AS same_parameters
  FROM fm_feature a JOIN fm_feature b USING (feature, value)
 WHERE a.model = 'tf' AND b.model = 'tf_shuffled' AND a.bias = b.bias AND a.embedding = b.embedding;

-- numeric: y = 2 + 0.04 price is fitted exactly; trained on price / 100,
-- the stored bias is per unit of the raw price (serving multiplies by it)
CREATE TABLE num (price float8, y float8);
INSERT INTO num SELECT p, 2 + 0.04 * p FROM unnest(ARRAY[0, 50, 100, 100, 25]) p;
INSERT INTO num VALUES (NULL, 2);	-- absent
SELECT round(train_rmse::numeric, 3) AS train_rmse
  FROM fm_train_from_table('num', 'y', ARRAY['price'], 'num', method => 'als', k => 1, epochs => 50,
                           regularization => 1e-6, validation_fraction => 0);
SELECT round(m.w0::numeric, 3) AS w0, f.value = '' AS value_empty, round(f.bias::numeric, 4) AS bias
  FROM fm_model m JOIN fm_feature f USING (model) WHERE model = 'num';
-- a validation relation is read with the training scale: price 75 predicts 5
CREATE TABLE num_valid AS SELECT 75::float8 AS price, 5::float8 AS y;
SELECT round(validation_rmse::numeric, 3) AS validation_rmse
  FROM fm_train_from_table('num', 'y', ARRAY['price'], 'num', method => 'als', k => 1, epochs => 50,
                           regularization => 1e-6, validation => 'num_valid');
-- numeric (not only float) columns default to numeric too; real too
CREATE TABLE num2 AS SELECT price::numeric AS price, y::real AS y, price::real AS p4 FROM num;
SELECT 1 AS trained FROM fm_train_from_table('num2', 'y', ARRAY['price', 'p4'], 'num2', k => 1, epochs => 1);
SELECT feature_kinds FROM fm_model WHERE model = 'num2';

-- weighted: x = the weight; w0 = 0, w_a = 2, w_b = 3 fit exactly; a weight
-- of 0 is absent (c has no feature row)
CREATE TABLE wt (tags jsonb, y float8);
INSERT INTO wt VALUES ('{"a": 0.5}', 1), ('{"a": 2}', 4), ('{"b": 1}', 3), ('{"b": 1}', 3), ('{}', 0), ('{"c": 0}', 0);
SELECT round(train_rmse::numeric, 3) AS train_rmse
  FROM fm_train_from_table('wt', 'y', ARRAY['tags'], 'wt', method => 'als', k => 1, epochs => 50,
                           regularization => 1e-6, validation_fraction => 0);
SELECT round(m.w0::numeric, 3) AS w0, f.value, round(f.bias::numeric, 3) AS bias
  FROM fm_model m JOIN fm_feature f USING (model) WHERE model = 'wt' ORDER BY f.value;

-- each vs categorical: {a} and {a,a} are x_a = 1 and 2 with 'each' (fit
-- exactly: w_a = 2, w_b = 1), but both x_a = 1 as categorical (1/len each,
-- repeats adding up), which cannot tell targets 2 and 4 apart
CREATE TABLE arr (g text[], y float8);
INSERT INTO arr VALUES ('{a}', 2), ('{a,a}', 4), ('{b}', 1), ('{b,b}', 2), ('{}', 0);
SELECT round(train_rmse::numeric, 3) AS each_rmse
  FROM fm_train_from_table('arr', 'y', ARRAY['g'], 'arr', method => 'als', k => 1, epochs => 50,
                           regularization => 1e-6, validation_fraction => 0, feature_kinds => '{"g": "each"}');
SELECT round(m.w0::numeric, 3) AS w0, f.value, round(f.bias::numeric, 3) AS bias
  FROM fm_model m JOIN fm_feature f USING (model) WHERE model = 'arr' ORDER BY f.value;
SELECT round(train_rmse::numeric, 3) AS categorical_rmse	-- sqrt((1 + 1 + 0.25 + 0.25 + 0) / 5)
  FROM fm_train_from_table('arr', 'y', ARRAY['g'], 'arr', method => 'als', k => 1, epochs => 50,
                           regularization => 1e-6, validation_fraction => 0);

-- ---- errors: each with its SQLSTATE, and the previous model kept ----
SELECT trained_at AS kept_at FROM fm_model WHERE model = 'tf' \gset
SELECT cols, kinds, pg_temp.try(format($f$SELECT fm_train_from_table('tf', 'y', %s, 'tf', k => 2, epochs => 1,
                                                  feature_kinds => %L)$f$, cols, kinds))
  FROM (VALUES
  ($$ARRAY['u']$$, '["numeric"]'),
  ($$ARRAY['u']$$, '"numeric"'),
  ($$ARRAY['u']$$, '{"nope": "numeric"}'),
  ($$ARRAY['u']$$, '{"price": "numeric"}'),
  ($$ARRAY['u']$$, '{"u": "fuzzy"}'),
  ($$ARRAY['u']$$, '{"u": 1}'),
  ($$ARRAY['title']$$, '{"title": "numeric"}'),
  ($$ARRAY['title']$$, '{"title": "weighted"}'),
  ($$ARRAY['genres']$$, '{"genres": "weighted"}'),
  ($$ARRAY['genres']$$, '{"genres": "numeric"}'),
  ($$ARRAY['u']$$, '{"u": "each"}'),
  ($$ARRAY['tags']$$, '{"tags": "numeric"}'),
  ($$ARRAY['u']$$, '{}')) t(cols, kinds);
-- bad values: NaN/Inf numbers (22003), jsonb that is not an object or a weight that is not a number (22023)
CREATE TABLE bad (y float8, price float8, amount numeric, tags jsonb);
INSERT INTO bad SELECT x, x, x, '{"a": 1}' FROM generate_series(1, 20) x;
SELECT q, pg_temp.try(format($f$UPDATE bad SET %s WHERE y = 7; SELECT fm_train_from_table('bad', 'y', ARRAY['price', 'amount', 'tags'], 'tf', k => 2, epochs => 1)$f$, q))
  FROM (VALUES
  ($$price = 'NaN'$$),
  ($$price = '-Infinity'$$),
  ($$price = 7, amount = 'NaN'$$),
  ($$amount = 1e300$$),
  ($$amount = 7, tags = '[1, 2]'$$),
  ($$tags = '3'$$),
  ($$tags = '{"a": "NaN"}'$$),
  ($$tags = '{"a": "1"}'$$),
  ($$tags = '{"a": null}'$$),
  ($$tags = '{"a": {"b": 1}}'$$),
  ($$tags = '{"a": 1e400}'$$),
  ($$tags = jsonb_build_object(repeat('k', 2001), 1)$$)) t(q);
SELECT trained_at = :'kept_at' AS previous_model_kept, feature_kinds FROM fm_model WHERE model = 'tf';
-- a validation relation must offer each column with a type its kind reads
CREATE TABLE num_valid_text AS SELECT '75'::text AS price, 5::float8 AS y;
SELECT pg_temp.try($$SELECT fm_train_from_table('num', 'y', ARRAY['price'], 'num', validation => 'num_valid_text')$$);

-- ---- implicit feedback: item features from the catalogue ----
CREATE TABLE shows (i int PRIMARY KEY, tfidf jsonb, year float8);
INSERT INTO shows SELECT x, jsonb_build_object('k' || x % 3, 0.25 * (1 + x % 4), 'common', 0.1), 1990 + x
  FROM generate_series(1, 12) x;
CREATE TABLE views (u int, i int, r real);
INSERT INTO views SELECT u, i, 1 FROM generate_series(1, 20) u, generate_series(1, 11) i WHERE (u + i) % 3 = 0;
SELECT rows_used, n_features
  FROM fm_train_from_table('views', 'r', ARRAY['u', 'i', 'tfidf', 'year'], 'imp', method => 'ials', k => 2,
                           epochs => 2, item_features => ARRAY['i', 'tfidf', 'year'], items => 'shows');
SELECT feature_kinds FROM fm_model WHERE model = 'imp';
SELECT feature, value FROM fm_feature WHERE model = 'imp' AND feature IN ('tfidf', 'year') ORDER BY 1, 2;
SELECT pg_temp.try($$SELECT fm_train_from_table('views', 'r', ARRAY['u', 'i', 'tfidf'], 'imp', method => 'ials',
                     item_features => ARRAY['i', 'tfidf'], items => 'shows', feature_kinds => '{"i": "numeric"}')$$);
UPDATE shows SET tfidf = '"drama"' WHERE i = 5;
SELECT pg_temp.try($$SELECT fm_train_from_table('views', 'r', ARRAY['u', 'i', 'tfidf'], 'imp', method => 'ials',
                     item_features => ARRAY['i', 'tfidf'], items => 'shows')$$);

-- ---- fm_evaluate reads the user and item rows by the model's kinds ----
CREATE TABLE e_users (user_id int PRIMARY KEY, age float8);
INSERT INTO e_users SELECT x, 15 + x * 3 FROM generate_series(1, 20) x;
CREATE TABLE e_items (movie_id int PRIMARY KEY, tags jsonb, g text[]);
INSERT INTO e_items SELECT x, jsonb_build_object('t' || x % 3, 0.5 + x % 2, 'u' || x % 2, 1), ARRAY['a', 'b', 'c' || x % 2]
  FROM generate_series(1, 15) x;
CREATE TABLE e_ratings AS
SELECT u.user_id, i.movie_id, ((u.user_id * 7 + i.movie_id * 3) % 5 + 1)::real AS rating
  FROM e_users u, e_items i WHERE (u.user_id + i.movie_id) % 2 = 0;
CREATE VIEW e_meta AS SELECT r.*, u.age, i.tags, i.g FROM e_ratings r JOIN e_users u USING (user_id) JOIN e_items i USING (movie_id);
SELECT 1 AS trained FROM fm_train_from_table('e_meta', 'rating', ARRAY['user_id', 'age', 'movie_id', 'tags', 'g'], 'ev',
                                             k => 3, epochs => 20, feature_kinds => '{"g": "each"}');
-- the same predictions computed in SQL from fm_feature, x as the kinds say
CREATE VIEW e_x AS
SELECT r.user_id, r.movie_id, 'user_id' AS feature, r.user_id::text AS value, 1::float8 AS x FROM e_ratings r
UNION ALL SELECT r.user_id, r.movie_id, 'movie_id', r.movie_id::text, 1 FROM e_ratings r
UNION ALL SELECT r.user_id, r.movie_id, 'age', '', u.age FROM e_ratings r JOIN e_users u USING (user_id)
UNION ALL SELECT r.user_id, r.movie_id, 'tags', t.key, t.value::float8
  FROM e_ratings r JOIN e_items i USING (movie_id), jsonb_each_text(i.tags) t
UNION ALL SELECT r.user_id, r.movie_id, 'g', e, 1 FROM e_ratings r JOIN e_items i USING (movie_id), unnest(i.g) e;
CREATE VIEW e_sql AS
SELECT x.user_id, x.movie_id, greatest(m.target_min, least(m.target_max,
       m.w0 + sum(x.x * f.bias) + 0.5 * (fm_dot(fm_sum(f.embedding * x.x::real), fm_sum(f.embedding * x.x::real))
                                           - sum(x.x * x.x * fm_dot(f.embedding, f.embedding))))) AS p
  FROM e_x x JOIN fm_feature f ON f.model = 'ev' AND (f.feature, f.value) = (x.feature, x.value)
  JOIN fm_model m ON m.model = 'ev' GROUP BY x.user_id, x.movie_id, m.target_min, m.target_max, m.w0;
SELECT abs(e.rmse - (SELECT sqrt(avg((s.p - r.rating) ^ 2)) FROM e_sql s JOIN e_ratings r USING (user_id, movie_id))) < 1e-4
       AS same_rmse_as_sql, e.test_rows
  FROM fm_evaluate('ev', 'e_ratings', 'e_ratings', 'e_users', 'e_items', k => 5) e;
-- a model's kind that the table's column cannot hold
CREATE TABLE e_users_text (user_id int PRIMARY KEY, age text);
INSERT INTO e_users_text SELECT user_id, age::text FROM e_users;
SELECT pg_temp.try($$SELECT * FROM fm_evaluate('ev', 'e_ratings', 'e_ratings', 'e_users_text', 'e_items')$$);
