-- The main job: train a factorization machine on MovieLens inside
-- PostgreSQL and use it.  Run by test/main_job.sh after load.sh; every block
-- prints the SQL that produced it (psql --echo-queries).
--   psql -v method=sgd -f demo.sql
\set ON_ERROR_STOP on
\pset footer off
\if :{?method}
\else
\set method sgd
\endif
SET client_min_messages = warning;

\echo
\echo '=== 0. Held-out ratings: the official u1 test fold when the data has it, else a 10% sample'
\set ECHO queries
CREATE TABLE heldout AS
SELECT user_id, movie_id, rating FROM ratings_split WHERE fold = 1 AND part = 'test';
INSERT INTO heldout
SELECT user_id, movie_id, rating FROM ratings
 WHERE NOT EXISTS (SELECT 1 FROM heldout)
   AND abs(hashtext(user_id || ':' || movie_id)) % 10 = 0;
CREATE TABLE training AS
SELECT r.* FROM ratings_with_meta r
 WHERE NOT EXISTS (SELECT 1 FROM heldout h WHERE h.user_id = r.user_id AND h.movie_id = r.movie_id);
ALTER TABLE training ADD PRIMARY KEY (user_id, movie_id);
ANALYZE training, heldout;
SELECT (SELECT count(*) FROM training) AS training_ratings, (SELECT count(*) FROM heldout) AS heldout_ratings;
\set ECHO none

\echo
\echo '=== 1. Train (one NOTICE per epoch), then the RMSE on the held-out ratings'
SET client_min_messages = notice;
\set ECHO queries
SELECT model, method, k, epochs, rows_used, n_features,
       round(train_rmse::numeric, 4) AS train_rmse, round(validation_rmse::numeric, 4) AS validation_rmse,
       round(seconds::numeric, 1) AS seconds
  FROM fm_train_from_table('training', 'rating',
         ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
         'movielens', method => :'method');
\set ECHO none
SET client_min_messages = warning;
\set ECHO queries
SELECT round(sqrt(avg((h.rating - fm_predict('movielens',
           ARRAY['user_id', 'age_group', 'gender', 'occupation', 'movie_id']
             || array_fill('genres'::text, ARRAY[cardinality(m.genres)]),
           ARRAY[u.user_id::text, u.age_group, u.gender, u.occupation, m.movie_id::text] || m.genres)) ^ 2))::numeric, 4)
       AS heldout_rmse
  FROM heldout h JOIN users u USING (user_id) JOIN movies m USING (movie_id);
\set ECHO none

\echo
\echo '=== Materialise each movie''s bias and embedding (movie + its genres) for exact ranking by fm_score'
\set ECHO queries
ALTER TABLE movies ADD COLUMN bias real, ADD COLUMN embedding fm_vector;
SELECT fm_materialize_items('movielens', 'movies') AS movies_updated;
\set ECHO none

\echo
\echo '=== 2. Cold start: top-10 for new users known only by metadata'
\set ECHO queries
SELECT title, round(fm_score(fm_query('movielens', ARRAY['gender', 'age_group'], ARRAY['M', '18-24']),
                             embedding, bias)::numeric, 3) AS score
  FROM movies
 ORDER BY fm_score(fm_query('movielens', ARRAY['gender', 'age_group'], ARRAY['M', '18-24']), embedding, bias) DESC
 LIMIT 10;
SELECT title, round(fm_score(fm_query('movielens', ARRAY['gender', 'age_group'], ARRAY['F', '50-55']),
                             embedding, bias)::numeric, 3) AS score
  FROM movies
 ORDER BY fm_score(fm_query('movielens', ARRAY['gender', 'age_group'], ARRAY['F', '50-55']), embedding, bias) DESC
 LIMIT 10;
\set ECHO none

\echo
\echo '=== 3. Top-10 for an existing user (user 42), excluding movies they already rated'
\set ECHO queries
SELECT user_id, age_group, gender, occupation,
       (SELECT count(*) FROM training t WHERE t.user_id = u.user_id) AS rated
  FROM users u WHERE user_id = 42;
-- One table, the query vector and the rated ids as sub-selects: fmrec's
-- top-N scan answers it without sorting the movies.
SELECT title, round(fm_score(q, embedding, bias)::numeric, 3) AS score
  FROM movies,
       LATERAL (SELECT (SELECT fm_query('movielens', ARRAY['user_id', 'age_group', 'gender', 'occupation'],
                                        ARRAY[user_id::text, age_group, gender, occupation])
                          FROM users WHERE user_id = 42) AS q) me
 WHERE movie_id <> ALL (ARRAY(SELECT movie_id FROM training WHERE user_id = 42))
 ORDER BY fm_score(q, embedding, bias) DESC NULLS LAST
 LIMIT 10;
\set ECHO none

\echo
\echo '=== 4. The 10 movies most similar to movie 1 by the cosine of their embeddings'
\set ECHO queries
SELECT m.title, round(fm_cosine(m.embedding, t.embedding)::numeric, 3) AS cosine
  FROM movies m, movies t
 WHERE t.movie_id = 1 AND m.movie_id <> t.movie_id
 ORDER BY fm_cosine(m.embedding, t.embedding) DESC NULLS LAST
 LIMIT 10;
\set ECHO none
SELECT title AS "(movie 1 is)" FROM movies WHERE movie_id = 1;

\echo
\echo '=== 5. A predicted rating for one (user, movie) pair'
\set ECHO queries
SELECT u.user_id, m.title,
       round(fm_predict('movielens',
         ARRAY['user_id', 'age_group', 'gender', 'occupation', 'movie_id']
           || array_fill('genres'::text, ARRAY[cardinality(m.genres)]),
         ARRAY[u.user_id::text, u.age_group, u.gender, u.occupation, m.movie_id::text] || m.genres)::numeric, 2)
         AS predicted,
       h.rating AS actual_heldout_rating
  FROM users u, movies m LEFT JOIN heldout h ON h.movie_id = m.movie_id AND h.user_id = 42
 WHERE u.user_id = 42 AND m.movie_id = (SELECT min(movie_id) FROM heldout WHERE user_id = 42);
\set ECHO none

\echo
\echo '=== 6. Ranking quality on the held-out ratings (relevant = rated >= 4; candidates = movies not rated in training)'
\echo '       the model vs. a popularity baseline (mean rating damped towards the global mean by 10 pseudo-ratings)'
\set ECHO queries
CREATE TEMP TABLE quality AS
SELECT 'fmrec ' || :'method' AS ranker, round(rmse::numeric, 4) AS rmse,
       round(precision_at_k::numeric, 4) AS precision_at_10, round(recall_at_k::numeric, 4) AS recall_at_10,
       round(ndcg_at_k::numeric, 4) AS ndcg_at_10, evaluated_users
  FROM fm_evaluate('movielens', test => 'heldout', train => 'training',
                   user_table => 'users', item_table => 'movies', k => 10);
INSERT INTO quality
WITH global AS (SELECT avg(rating) AS mu FROM training),
popularity AS (
  SELECT t.movie_id, (sum(t.rating) + 10 * g.mu) / (count(*) + 10) AS score
    FROM training t, global g GROUP BY t.movie_id, g.mu),
relevant AS (
  SELECT user_id, array_agg(movie_id::bigint) AS items FROM heldout WHERE rating >= 4 GROUP BY user_id),
ranked AS (
  SELECT r.user_id, ARRAY(SELECT p.movie_id::bigint FROM popularity p
                           WHERE NOT EXISTS (SELECT 1 FROM training t
                                              WHERE t.user_id = r.user_id AND t.movie_id = p.movie_id)
                           ORDER BY p.score DESC, p.movie_id LIMIT 10) AS items
    FROM relevant r)
SELECT 'popularity', (SELECT round(sqrt(avg((h.rating - coalesce(p.score, g.mu)) ^ 2))::numeric, 4)
                        FROM heldout h CROSS JOIN global g LEFT JOIN popularity p USING (movie_id)),
       round(avg(m.precision_at_k)::numeric, 4), round(avg(m.recall_at_k)::numeric, 4),
       round(avg(m.ndcg_at_k)::numeric, 4), count(*)
  FROM ranked JOIN relevant USING (user_id),
       LATERAL fm_ranking_metrics(ranked.items, relevant.items, 10) m;
SELECT * FROM quality;
\set ECHO none
