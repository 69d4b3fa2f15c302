-- fm_evaluate and fm_evaluate_popularity against a brute-force SQL
-- computation of the same protocol, on a small hand-made model with many
-- tied scores; cold start; errors with their SQLSTATEs.
SET client_min_messages = warning;
\i sql/include/try.sql

-- 30 users (29 and 30 unknown to the model), 40 movies with genres (one
-- NULL, one with a NULL element, one repeating a genre, one with a genre
-- the model does not know), a movie 99 that only the test rows name.
CREATE TABLE ev_users (user_id int, gender text, age_group text);
INSERT INTO ev_users SELECT u, CASE WHEN u % 3 = 0 THEN 'F' ELSE 'M' END, 'g' || u % 4
  FROM generate_series(1, 30) u;
CREATE TABLE ev_movies (movie_id int, genres text[]);
INSERT INTO ev_movies SELECT m, CASE m WHEN 5 THEN NULL WHEN 6 THEN ARRAY['a', NULL]
                                       WHEN 7 THEN ARRAY['b', 'b', 'c'] WHEN 8 THEN ARRAY['z']
                                       ELSE ARRAY[chr(97 + m % 5), chr(97 + (m * 3) % 5)] END
  FROM generate_series(1, 40) m;
CREATE TABLE ev_ratings (user_id int, movie_id int, rating real);
INSERT INTO ev_ratings SELECT u, m, 1 + (u * m + u) % 5
  FROM generate_series(1, 31) u, generate_series(1, 40) m WHERE (u * 7 + m * 13) % 4 = 0;
CREATE TABLE ev_train AS SELECT * FROM ev_ratings WHERE (user_id + movie_id) % 5 <> 0 AND user_id <= 30;
CREATE TABLE ev_test AS SELECT * FROM ev_ratings WHERE (user_id + movie_id) % 5 = 0;
INSERT INTO ev_test VALUES (1, 99, 5), (2, 99, 2), (3, NULL, 5), (4, 10, NULL);
INSERT INTO ev_test SELECT * FROM ev_test WHERE user_id = 7 LIMIT 1;	-- a repeated row

-- The model, written by hand: coarse values make many ties.
INSERT INTO fm_model VALUES ('hand', 'sgd', 2, 3.0, 1, 5, 'ev_train', 'rating',
  ARRAY['user_id', 'movie_id', 'gender', 'genres'], '{}', 1, 0, 0, 0, NULL, NULL, 0, now());
INSERT INTO fm_feature
SELECT 'hand', f, v, round(sin(n)::numeric, 1)::real,
       ARRAY[round(sin(n * 1.7) * 2) / 2, round(cos(n * 2.3) * 2) / 2]::real[]::fm_vector
  FROM (SELECT 'user_id', u::text, u FROM generate_series(1, 28) u
        UNION ALL SELECT 'movie_id', m::text, 100 + m FROM generate_series(1, 40) m
        UNION ALL SELECT 'gender', g, 200 + ascii(g) FROM unnest(ARRAY['M', 'F']) g
        UNION ALL SELECT 'genres', chr(97 + x), 300 + x FROM generate_series(0, 4) x) AS d(f, v, n);

-- The protocol written out in SQL with fm_item, fm_score and explicit
-- formulas.  cold: users described by their gender only.
CREATE FUNCTION pg_temp.brute(k int, cold boolean, popularity text DEFAULT NULL,
                              OUT rmse float8, OUT p float8, OUT r float8, OUT n float8,
                              OUT users bigint, OUT test_rows bigint)
LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE b_items ON COMMIT DROP AS
  SELECT m.movie_id::bigint AS item, f.bias, f.embedding
    FROM ev_movies m, LATERAL fm_item('hand',
           ARRAY['movie_id'] || array_fill('genres'::text, ARRAY[coalesce(cardinality(m.genres), 0)]),
           ARRAY[m.movie_id::text] || coalesce(m.genres, '{}')) f;
  CREATE TEMP TABLE b_users ON COMMIT DROP AS
  SELECT u.user_id::bigint AS uid, u.gender, f.bias, f.embedding
    FROM ev_users u, LATERAL fm_item('hand',
           CASE WHEN cold THEN ARRAY['gender'] ELSE ARRAY['user_id', 'gender'] END,
           CASE WHEN cold THEN ARRAY[u.gender] ELSE ARRAY[u.user_id::text, u.gender] END) f;
  CREATE TEMP TABLE b_scored ON COMMIT DROP AS
  SELECT u.uid, i.item,
         CASE WHEN popularity IS NULL THEN fm_score(u.embedding, i.embedding, i.bias)
              ELSE (SELECT count(*) FROM ev_train t JOIN ev_users tu USING (user_id)
                     WHERE t.movie_id = i.item AND (popularity = 'all' OR tu.gender = u.gender)) END AS score
    FROM b_users u, b_items i
   WHERE NOT EXISTS (SELECT 1 FROM ev_train t WHERE t.user_id = u.uid AND t.movie_id = i.item);
  SELECT sqrt(avg((t.rating - greatest(1, least(5, 3.0 + u.bias + i.bias + fm_dot(u.embedding, i.embedding)))) ^ 2)),
         count(*)
    INTO rmse, test_rows
    FROM ev_test t JOIN b_users u ON u.uid = t.user_id JOIN b_items i ON i.item = t.movie_id
   WHERE t.rating IS NOT NULL;
  WITH relevant AS (
    SELECT DISTINCT t.user_id AS uid, t.movie_id AS item FROM ev_test t
     WHERE t.rating >= 4 AND t.movie_id IS NOT NULL AND t.user_id IN (SELECT uid FROM b_users)),
  ranked AS (
    SELECT s.uid, s.item, row_number() OVER (PARTITION BY s.uid ORDER BY s.score DESC, s.item) AS pos
      FROM b_scored s),
  per_user AS (
    SELECT rel.uid, rel.n_rel,
           (SELECT count(*) FROM ranked x JOIN relevant y USING (uid, item)
             WHERE x.uid = rel.uid AND x.pos <= k) AS hits,
           (SELECT coalesce(sum(1 / log(2, x.pos + 1)), 0) FROM ranked x JOIN relevant y USING (uid, item)
             WHERE x.uid = rel.uid AND x.pos <= k) AS dcg,
           (SELECT sum(1 / log(2, j + 1)) FROM generate_series(1, least(k, rel.n_rel)) j) AS ideal
      FROM (SELECT uid, count(*) AS n_rel FROM relevant GROUP BY uid) rel
     WHERE EXISTS (SELECT 1 FROM b_scored s WHERE s.uid = rel.uid))
  SELECT avg(hits::float8 / k), avg(hits::float8 / n_rel), avg(dcg / ideal), count(*)
    INTO p, r, n, users FROM per_user;
  DROP TABLE b_items, b_users, b_scored;
END $$;

CREATE FUNCTION pg_temp.same(a float8, b float8) RETURNS boolean
  LANGUAGE sql AS $$ SELECT (a IS NULL AND b IS NULL) OR abs(a - b) < 1e-9 $$;

-- warm: every user described by user_id and gender
BEGIN;
SELECT k, e.evaluated_users, e.test_rows, b.users = e.evaluated_users AS same_users,
       b.test_rows = e.test_rows AS same_rows, pg_temp.same(e.rmse, b.rmse) AS rmse_ok,
       pg_temp.same(e.precision_at_k, b.p) AS p_ok, pg_temp.same(e.recall_at_k, b.r) AS r_ok,
       pg_temp.same(e.ndcg_at_k, b.n) AS ndcg_ok, round(e.ndcg_at_k::numeric, 4) AS ndcg
  FROM unnest(ARRAY[1, 3, 10, 50]) k,
       LATERAL fm_evaluate('hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', k => k) e,
       LATERAL pg_temp.brute(k, false) b;
COMMIT;

-- cold start: users described by gender only
BEGIN;
SELECT k, e.evaluated_users, pg_temp.same(e.rmse, b.rmse) AS rmse_ok,
       pg_temp.same(e.precision_at_k, b.p) AS p_ok, pg_temp.same(e.recall_at_k, b.r) AS r_ok,
       pg_temp.same(e.ndcg_at_k, b.n) AS ndcg_ok, round(e.ndcg_at_k::numeric, 4) AS ndcg
  FROM unnest(ARRAY[1, 10]) k,
       LATERAL fm_evaluate('hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', k => k,
                           user_features => ARRAY['gender']) e,
       LATERAL pg_temp.brute(k, true) b;
COMMIT;

-- popularity: by number of train rows, and within the user's gender
BEGIN;
SELECT k, e.evaluated_users, e.rmse, pg_temp.same(e.precision_at_k, b.p) AS p_ok,
       pg_temp.same(e.recall_at_k, b.r) AS r_ok, pg_temp.same(e.ndcg_at_k, b.n) AS ndcg_ok,
       round(e.ndcg_at_k::numeric, 4) AS ndcg
  FROM unnest(ARRAY[1, 10]) k,
       LATERAL fm_evaluate_popularity('ev_test', 'ev_train', 'ev_movies', k => k, user_table => 'ev_users') e,
       LATERAL pg_temp.brute(k, false, 'all') b;
SELECT k, e.evaluated_users, pg_temp.same(e.precision_at_k, b.p) AS p_ok,
       pg_temp.same(e.recall_at_k, b.r) AS r_ok, pg_temp.same(e.ndcg_at_k, b.n) AS ndcg_ok,
       round(e.ndcg_at_k::numeric, 4) AS ndcg
  FROM unnest(ARRAY[1, 10]) k,
       LATERAL fm_evaluate_popularity('ev_test', 'ev_train', 'ev_movies', k => k,
                                      group_by => ARRAY['gender'], user_table => 'ev_users') e,
       LATERAL pg_temp.brute(k, false, 'gender') b;
COMMIT;
-- without user_table every test user counts (user 31 too)
SELECT evaluated_users, test_rows FROM fm_evaluate_popularity('ev_test', 'ev_train', 'ev_movies');

-- users held out of training entirely (every item is a candidate), ranked
-- from their gender; the same split for the baselines
CREATE TABLE ev_cold_train AS SELECT * FROM ev_ratings WHERE user_id % 4 <> 0;
CREATE TABLE ev_cold_test AS SELECT * FROM ev_ratings WHERE user_id % 4 = 0;
SELECT 'fm_evaluate' AS ranker, evaluated_users, round(ndcg_at_k::numeric, 4) AS ndcg
  FROM fm_evaluate('hand', 'ev_cold_test', 'ev_cold_train', 'ev_users', 'ev_movies',
                   user_features => ARRAY['gender'])
UNION ALL
SELECT 'popularity', evaluated_users, round(ndcg_at_k::numeric, 4)
  FROM fm_evaluate_popularity('ev_cold_test', 'ev_cold_train', 'ev_movies', user_table => 'ev_users')
UNION ALL
SELECT 'popularity by gender', evaluated_users, round(ndcg_at_k::numeric, 4)
  FROM fm_evaluate_popularity('ev_cold_test', 'ev_cold_train', 'ev_movies',
                              group_by => ARRAY['gender'], user_table => 'ev_users');

-- errors
-- fm_materialize_items: a relation that does not exist, NULL column names
SELECT pg_temp.try($$SELECT fm_materialize_items('hand', 0)$$),
       pg_temp.try($$SELECT fm_materialize_items('hand', 'ev_movies', NULL)$$);
CREATE TABLE ev_dup_movies AS SELECT * FROM ev_movies UNION ALL SELECT * FROM ev_movies WHERE movie_id = 3;
SELECT q, pg_temp.try(format($f$SELECT * FROM fm_evaluate(%s)$f$, q)) FROM (VALUES
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', k => 0$$),
  ($$'nope', 'ev_test', 'ev_train', 'ev_users', 'ev_movies'$$),
  ($$NULL, 'ev_test', 'ev_train', 'ev_users', 'ev_movies'$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'no_such_table'$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 0$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', user_column => 'uid'$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', target => 'stars'$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', user_features => ARRAY['age_group']$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', user_features => ARRAY['genres']$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_movies', user_features => ARRAY[NULL]::name[]$$),
  ($$'hand', 'ev_test', 'ev_train', 'ev_users', 'ev_dup_movies'$$)
) AS t(q);
SELECT q, pg_temp.try(format($f$SELECT * FROM fm_evaluate_popularity(%s)$f$, q)) FROM (VALUES
  ($$'ev_test', 'ev_train', 'ev_movies', k => -1$$),
  ($$'ev_test', 'ev_train', 'ev_movies', group_by => ARRAY['gender']$$),
  ($$'ev_test', 'ev_train', 'ev_movies', group_by => ARRAY['sex'], user_table => 'ev_users'$$),
  ($$'ev_test', 'ev_train', 'ev_movies', item_column => 'item'$$),
  ($$'ev_test', 'ev_train', 'ev_movies', target => NULL$$)
) AS t(q);
