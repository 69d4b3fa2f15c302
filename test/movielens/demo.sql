-- The main job: train factorization machines on MovieLens inside
-- PostgreSQL and use them.  Run by test/main_job.sh after load.sh; every
-- block prints the SQL that produced it (psql --echo-queries).
--
-- Two models of the same features:
--   movielens_top  method 'ials': learns which movies people like (a rating
--                  of 4 or 5 is a positive, the evaluation's own definition,
--                  every other movie of the catalogue a weak negative); it
--                  makes the top-10s;
--   movielens      method :'method' (default sgd): learns the ratings; it
--                  predicts a rating.
--   psql -v method=sgd -f demo.sql
\set ON_ERROR_STOP on
\pset footer off
\if :{?method}
\else
\set method sgd
\endif
SET client_min_messages = warning;

\echo
\echo '=== 0. Held-out ratings: the official u1 test fold when the data has it, else a 10% sample;'
\echo '       for cold start, a fifth of the users (by a hash of their id) held out of training entirely'
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
CREATE TABLE cold_training AS SELECT * FROM ratings_with_meta WHERE abs(hashtext(user_id::text)) % 5 <> 0;
CREATE TABLE cold_test AS SELECT user_id, movie_id, rating FROM ratings WHERE abs(hashtext(user_id::text)) % 5 = 0;
ANALYZE training, heldout, cold_training, cold_test;
SELECT (SELECT count(*) FROM training) AS training_ratings, (SELECT count(*) FROM heldout) AS heldout_ratings,
       (SELECT count(DISTINCT user_id) FROM cold_test) AS cold_start_users;
\set ECHO none

\echo
\echo '=== 1. The ranking model: implicit feedback (one NOTICE per epoch with the validation NDCG@10)'
SET client_min_messages = notice;
\set ECHO queries
SELECT model, method, k, epochs, rows_used, n_features, round(validation_ndcg::numeric, 4) AS validation_ndcg,
       round(seconds::numeric, 1) AS seconds
  FROM fm_train_from_table('training', 'rating',
         ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
         'movielens_top', method => 'ials',
         item_features => ARRAY['movie_id', 'genres'], items => 'movies', positive_threshold => 4);
\set ECHO none

\echo
\echo '=== 2. The rating model, then its RMSE on the held-out ratings'
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
SELECT round(rmse::numeric, 4) AS heldout_rmse
  FROM fm_evaluate('movielens', test => 'heldout', train => 'training',
                   user_table => 'users', item_table => 'movies');
\set ECHO none

\echo
\echo '=== Materialise each movie''s bias and embedding of the ranking model (movie + its genres)'
\set ECHO queries
ALTER TABLE movies ADD COLUMN bias real, ADD COLUMN embedding fm_vector;
SELECT fm_materialize_items('movielens_top', 'movies') AS movies_updated;
\set ECHO none

\echo
\echo '=== 3. Cold start: top-10 for new users known only by metadata'
\set ECHO queries
SELECT title, round(fm_score(fm_query('movielens_top', ARRAY['gender', 'age_group'], ARRAY['M', '18-24']),
                             embedding, bias)::numeric, 3) AS score
  FROM movies
 ORDER BY fm_score(fm_query('movielens_top', ARRAY['gender', 'age_group'], ARRAY['M', '18-24']), embedding, bias)
          DESC NULLS LAST
 LIMIT 10;
SELECT title, round(fm_score(fm_query('movielens_top', ARRAY['gender', 'age_group'], ARRAY['F', '50-55']),
                             embedding, bias)::numeric, 3) AS score
  FROM movies
 ORDER BY fm_score(fm_query('movielens_top', ARRAY['gender', 'age_group'], ARRAY['F', '50-55']), embedding, bias)
          DESC NULLS LAST
 LIMIT 10;
\set ECHO none

\echo
\echo '=== 4. Top-10 for an existing user (user 42), excluding movies they already rated'
\set ECHO queries
SELECT user_id, age_group, gender, occupation,
       (SELECT count(*) FROM training t WHERE t.user_id = u.user_id) AS rated
  FROM users u WHERE user_id = 42;
-- One table, the query vector and the rated ids as sub-selects: fmrec's
-- top-N scan answers it without sorting the movies.
SELECT title, round(fm_score(q, embedding, bias)::numeric, 3) AS score
  FROM movies,
       LATERAL (SELECT (SELECT fm_query('movielens_top', ARRAY['user_id', 'age_group', 'gender', 'occupation'],
                                        ARRAY[user_id::text, age_group, gender, occupation])
                          FROM users WHERE user_id = 42) AS q) me
 WHERE movie_id <> ALL (ARRAY(SELECT movie_id FROM training WHERE user_id = 42))
 ORDER BY fm_score(q, embedding, bias) DESC NULLS LAST
 LIMIT 10;
\set ECHO none

\echo
\echo '=== 5. The 10 movies most similar to movie 1 by the cosine of their embeddings'
\set ECHO queries
SELECT m.title, round(fm_cosine(m.embedding, t.embedding)::numeric, 3) AS cosine
  FROM movies m, movies t
 WHERE t.movie_id = 1 AND m.movie_id <> t.movie_id
 ORDER BY fm_cosine(m.embedding, t.embedding) DESC NULLS LAST
 LIMIT 10;
\set ECHO none
SELECT title AS "(movie 1 is)" FROM movies WHERE movie_id = 1;

\echo
\echo '=== 6. A predicted rating for one (user, movie) pair, from the rating model'
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
\echo '=== 7. Ranking quality (relevant = rated >= 4; candidates = movies not rated in training), one protocol:'
\echo '       warm: the held-out ratings of known users; cold start: users held out entirely, ranked from'
\echo '       age group, gender and occupation only (the ranking model retrained without them)'
SELECT 1 FROM fm_train_from_table('cold_training', 'rating',
         ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
         'movielens_top_cold', method => 'ials',
         item_features => ARRAY['movie_id', 'genres'], items => 'movies', positive_threshold => 4) \g /dev/null
\set ECHO queries
SELECT ranker, round(precision_at_k::numeric, 4) AS "P@10", round(recall_at_k::numeric, 4) AS "R@10",
       round(ndcg_at_k::numeric, 4) AS "NDCG@10", evaluated_users AS users
  FROM (SELECT 'warm: fmrec ials (ranking model)' AS ranker, e.*
          FROM fm_evaluate('movielens_top', 'heldout', 'training', 'users', 'movies') e
        UNION ALL
        SELECT 'warm: fmrec ' || :'method' || ' (rating model)', e.*
          FROM fm_evaluate('movielens', 'heldout', 'training', 'users', 'movies') e
        UNION ALL
        SELECT 'warm: most popular by count', e.*
          FROM fm_evaluate_popularity('heldout', 'training', 'movies', user_table => 'users') e
        UNION ALL
        SELECT 'cold: fmrec ials from metadata', e.*
          FROM fm_evaluate('movielens_top_cold', 'cold_test', 'cold_training', 'users', 'movies',
                           user_features => ARRAY['age_group', 'gender', 'occupation']) e
        UNION ALL
        SELECT 'cold: most popular by count', e.*
          FROM fm_evaluate_popularity('cold_test', 'cold_training', 'movies', user_table => 'users') e
        UNION ALL
        SELECT 'cold: most popular in age group x gender', e.*
          FROM fm_evaluate_popularity('cold_test', 'cold_training', 'movies',
                                      group_by => ARRAY['age_group', 'gender'], user_table => 'users') e) q;
\set ECHO none
