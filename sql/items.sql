-- Item tables bound to their model: fm_materialize_items registers the
-- table (a trigger, listed by fm_item_tables); every training of the model
-- refreshes it in the training's transaction; inserted and updated rows are
-- kept current; the version column tells which training a row came from;
-- errors with their SQLSTATEs leave the previous model and vectors.
SET client_min_messages = warning;
\i sql/include/try.sql

CREATE TABLE it_users (user_id int PRIMARY KEY, gender text);
INSERT INTO it_users SELECT u, CASE WHEN u % 3 = 0 THEN 'F' ELSE 'M' END FROM generate_series(1, 30) u;
CREATE TABLE it_movies (movie_id int PRIMARY KEY, title text, genres text[],
                        bias real, embedding fm_vector, fm_version bigint);
INSERT INTO it_movies SELECT m, 'movie ' || m, ARRAY['g' || m % 3, 'h' || m % 4] FROM generate_series(1, 20) m;
CREATE TABLE it_ratings (user_id int, movie_id int, rating real);
INSERT INTO it_ratings SELECT u, m, 1 + (u * m + u + m) % 5
  FROM generate_series(1, 30) u, generate_series(1, 20) m WHERE (u * 7 + m * 3) % 4 <> 0;
CREATE VIEW it_rated AS
SELECT r.*, u.gender, m.genres FROM it_ratings r JOIN it_users u USING (user_id) JOIN it_movies m USING (movie_id);

-- rows of an item table whose vectors differ from fm_item() of a model now
CREATE FUNCTION pg_temp.differing(model text, t regclass, b name DEFAULT 'bias', e name DEFAULT 'embedding')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s m, fm_item($1, ARRAY[''movie_id'', ''genres'', ''genres''],
                  ARRAY[m.movie_id::text, m.genres[1], m.genres[2]]) f
                  WHERE m.%I IS DISTINCT FROM f.bias OR m.%I::text IS DISTINCT FROM f.embedding::text', t, b, e)
  INTO n USING model;
  RETURN n;
END $$;
-- the top 10 movies of user 3 from the item table, and from fm_predict
CREATE FUNCTION pg_temp.top10(model text, t regclass) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
  EXECUTE format('SELECT array_agg(movie_id) FROM (SELECT movie_id FROM %s
                   ORDER BY fm_score(fm_query($1, ARRAY[''user_id'', ''gender''], ARRAY[''3'', ''F'']), embedding, bias) DESC,
                            movie_id LIMIT 10) s', t) INTO r USING model;
  RETURN r;
END $$;
CREATE FUNCTION pg_temp.top10_predicted(model text) RETURNS int[] LANGUAGE sql AS $$
  SELECT array_agg(movie_id) FROM (
    SELECT movie_id FROM it_movies m
     ORDER BY fm_predict(model, ARRAY['user_id', 'gender', 'movie_id', 'genres', 'genres'],
                         ARRAY['3', 'F', m.movie_id::text, m.genres[1], m.genres[2]]) DESC, movie_id
     LIMIT 10) s
$$;

SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it', k => 4, epochs => 3, seed => 1);

-- registration: rows filled, the table listed, the key is the primary key
SELECT fm_materialize_items('it', 'it_movies', version_column => 'fm_version') AS materialized;
SELECT * FROM fm_item_tables ORDER BY model, item_table::text;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'it_movies'::regclass AND NOT tgisinternal;
SELECT pg_temp.differing('it', 'it_movies') AS differing,
       count(*) FILTER (WHERE fm_version = fm_model_version('it')) AS current_version
  FROM it_movies;
-- an unregistered copy (register => false), with its version column
CREATE TABLE it_copy AS SELECT movie_id, genres, NULL::real AS bias, NULL::fm_vector AS embedding,
                               NULL::bigint AS fm_version FROM it_movies;
SELECT fm_materialize_items('it', 'it_copy', version_column => 'fm_version', register => false) AS copied;
SELECT count(*) AS registrations FROM fm_item_tables WHERE item_table = 'it_copy'::regclass;
SELECT count(*) AS triggers_on_copy FROM pg_trigger WHERE tgrelid = 'it_copy'::regclass;

-- retraining refreshes the registered table in its transaction (one NOTICE
-- per table, not shown: the training's own NOTICEs print timings; see
-- t/095_items.pl); the copy is stale, and its version column says so
SELECT fm_model_version('it') AS v1 \gset
SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it', k => 4, epochs => 4, seed => 2);
SELECT fm_model_version('it') > :v1 AS new_version,
       pg_temp.differing('it', 'it_movies') AS registered_differing,
       (SELECT count(*) FROM it_movies WHERE fm_version = fm_model_version('it')) AS registered_current,
       pg_temp.differing('it', 'it_copy') AS copy_differing,
       (SELECT count(*) FROM it_copy WHERE fm_version IS DISTINCT FROM fm_model_version('it')) AS copy_detectably_stale;
-- the issue's stale top-10 cannot happen: the registered table ranks as fm_predict
SELECT pg_temp.top10('it', 'it_movies') = pg_temp.top10_predicted('it') AS top10_exact,
       pg_temp.top10('it', 'it_movies') = pg_temp.top10('it', 'it_copy') AS copy_ranks_the_same;

-- a rolled back retraining leaves the old model and the old vectors
CREATE TEMP TABLE it_before AS SELECT movie_id, bias, embedding::text AS e, fm_version FROM it_movies;
BEGIN;
SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it', k => 4, epochs => 2, seed => 3);
SELECT count(*) AS changed_inside FROM it_movies m JOIN it_before b USING (movie_id) WHERE m.bias IS DISTINCT FROM b.bias;
ROLLBACK;
SELECT count(*) AS changed_after_rollback FROM it_movies m JOIN it_before b USING (movie_id)
 WHERE m.bias IS DISTINCT FROM b.bias OR m.embedding::text <> b.e OR m.fm_version <> b.fm_version;

-- the trigger: an inserted row gets its vectors (whatever it said), an
-- update of a feature column recomputes them, any other update keeps them
INSERT INTO it_movies (movie_id, title, genres, bias, embedding) VALUES
  (21, 'new', ARRAY['g1', 'h2'], 99, '[1,1,1,1]'), (22, 'unknown genres', ARRAY['x', 'y'], NULL, NULL);
UPDATE it_movies SET genres = ARRAY['g2', 'h0'] WHERE movie_id = 1;
SELECT pg_temp.differing('it', 'it_movies') AS differing,
       count(*) FILTER (WHERE fm_version = fm_model_version('it')) AS current_version, count(*) AS movies
  FROM it_movies;
UPDATE it_movies SET title = 'renamed', bias = 0 WHERE movie_id = 2;
SELECT bias FROM it_movies WHERE movie_id = 2;
COPY it_movies (movie_id, title, genres) FROM stdin;
23	copied	{g0,h1}
\.
SELECT pg_temp.differing('it', 'it_movies') AS differing_besides_movie_2;

-- the implicit method: a second model registered on the same table, other columns
ALTER TABLE it_movies ADD COLUMN imp_bias real, ADD COLUMN imp_embedding fm_vector;
CREATE VIEW it_watched AS SELECT r.user_id, r.movie_id, r.rating, u.gender, m.genres
  FROM it_ratings r JOIN it_users u USING (user_id) JOIN it_movies m USING (movie_id);
SELECT model FROM fm_train_from_table('it_watched', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it_imp', method => 'ials', k => 4, epochs => 3,
                                      item_features => ARRAY['movie_id', 'genres'], items => 'it_movies');
SELECT fm_materialize_items('it_imp', 'it_movies', 'imp_bias', 'imp_embedding', key_column => 'movie_id') AS materialized;
SELECT model FROM fm_train_from_table('it_watched', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it_imp', method => 'ials', k => 4, epochs => 4, seed => 7,
                                      item_features => ARRAY['movie_id', 'genres'], items => 'it_movies');
SELECT pg_temp.differing('it_imp', 'it_movies', 'imp_bias', 'imp_embedding') AS imp_differing,
       pg_temp.differing('it', 'it_movies') AS it_differing_besides_movie_2;
SELECT * FROM fm_item_tables ORDER BY model, item_table::text;

-- a renamed table stays registered and refreshed
ALTER TABLE it_movies RENAME TO it_films;
SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it', k => 4, epochs => 3, seed => 4);
SELECT item_table, pg_temp.differing('it', 'it_films') AS differing FROM fm_item_tables WHERE model = 'it';

-- a partitioned table: one registration (the partitions' clones of the
-- trigger are not listed), refreshed, and rows inserted through the parent
CREATE TABLE it_parts (movie_id int, genres text[], bias real, embedding fm_vector) PARTITION BY RANGE (movie_id);
CREATE TABLE it_parts_1 PARTITION OF it_parts FOR VALUES FROM (1) TO (11);
CREATE TABLE it_parts_2 PARTITION OF it_parts FOR VALUES FROM (11) TO (100);
INSERT INTO it_parts SELECT movie_id, genres FROM it_films WHERE movie_id <= 15;
SELECT fm_materialize_items('it', 'it_parts') AS materialized;
INSERT INTO it_parts SELECT movie_id, genres FROM it_films WHERE movie_id > 15;
SELECT model, item_table, key_column FROM fm_item_tables WHERE item_table::text LIKE 'it_parts%';
SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it', k => 4, epochs => 3, seed => 8);
SELECT count(*) AS rows, pg_temp.differing('it', 'it_parts') AS differing FROM it_parts;
SELECT fm_unregister_items('it', 'it_parts') AS unregistered;
SELECT count(*) AS clones_left FROM pg_trigger WHERE tgrelid IN ('it_parts_1'::regclass, 'it_parts_2'::regclass);
DROP TABLE it_parts;

-- feature kinds: a numeric and a weighted column in the item table follow
-- the model as categorical ones do (compared with fm_item's jsonb form)
CREATE TABLE it_kmovies (movie_id int PRIMARY KEY, year float8, tags jsonb, bias real, embedding fm_vector);
INSERT INTO it_kmovies SELECT m, 1990 + m % 7, jsonb_build_object('t' || m % 3, 0.5 + (m % 4) / 4.0, 'u' || m % 2, 1)
  FROM generate_series(1, 20) m;
CREATE VIEW it_krated AS SELECT r.*, m.year, m.tags FROM it_ratings r JOIN it_kmovies m USING (movie_id);
CREATE FUNCTION pg_temp.kdiffering() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM it_kmovies m,
         fm_item('it_k', jsonb_build_object('movie_id', m.movie_id, 'year', m.year, 'tags', m.tags)) f
   WHERE m.bias IS DISTINCT FROM f.bias OR m.embedding::text IS DISTINCT FROM f.embedding::text
$$;
SELECT model FROM fm_train_from_table('it_krated', 'rating', ARRAY['user_id', 'movie_id', 'year', 'tags'],
                                      'it_k', k => 4, epochs => 3, seed => 1);
SELECT feature_kinds FROM fm_model WHERE model = 'it_k';
SELECT fm_materialize_items('it_k', 'it_kmovies') AS materialized, pg_temp.kdiffering() AS differing;
UPDATE it_kmovies SET tags = '{"t0": 2}', year = 1989.5 WHERE movie_id = 1;
INSERT INTO it_kmovies (movie_id, year, tags) VALUES (30, 2001.5, '{"t1": 0.25}');
SELECT pg_temp.kdiffering() AS differing_after_writes;
SELECT model FROM fm_train_from_table('it_krated', 'rating', ARRAY['user_id', 'movie_id', 'year', 'tags'],
                                      'it_k', k => 4, epochs => 3, seed => 2);
SELECT pg_temp.kdiffering() AS differing_after_retraining,
       (SELECT count(*) FROM it_kmovies WHERE embedding IS NULL) AS without_vectors;
SELECT fm_drop_model('it_k');
DROP VIEW it_krated;
DROP TABLE it_kmovies;

-- errors
-- only tables can be registered
CREATE VIEW it_movie_view AS SELECT * FROM it_films;
SELECT pg_temp.try($$SELECT fm_materialize_items('it', 'it_movie_view')$$) AS view_registered;
SELECT pg_temp.try($$SELECT fm_materialize_items('it', 'it_copy', version_column => 'nope')$$) AS missing_version_column,
       pg_temp.try($$SELECT fm_materialize_items('it', 'it_copy', key_column => 'nope')$$) AS missing_key_column,
       pg_temp.try($$SELECT fm_materialize_items('it', 'it_copy', register => NULL)$$) AS null_register,
       pg_temp.try($$SELECT fm_model_version('nope')$$) AS unknown_model;
CREATE TABLE it_nothing (id int, bias real, embedding fm_vector);
SELECT pg_temp.try($$SELECT fm_materialize_items('it', 'it_nothing')$$) AS no_feature_column,
       fm_materialize_items('it', 'it_nothing', register => false) AS filled_once;

-- a role that may update a table but not create triggers on it
CREATE ROLE regress_items_trainer;
GRANT SELECT ON it_ratings, it_users, it_films, it_rated TO regress_items_trainer;
GRANT SELECT, INSERT, DELETE ON fm_model, fm_feature TO regress_items_trainer;
GRANT USAGE ON SEQUENCE fm_model_version_seq TO regress_items_trainer;
CREATE TABLE it_theirs AS SELECT movie_id, genres, NULL::real AS bias, NULL::fm_vector AS embedding FROM it_copy;
GRANT SELECT, UPDATE ON it_theirs TO regress_items_trainer;
SET ROLE regress_items_trainer;
SELECT pg_temp.try($$SELECT fm_materialize_items('it', 'it_theirs')$$) AS no_trigger_privilege,
       fm_materialize_items('it', 'it_theirs', register => false) AS filled_once;
-- training 'it' refreshes it_films, which this role may not update: the
-- training fails and writes nothing
SELECT fm_model_version('it') AS v_before \gset
SELECT pg_temp.try($$SELECT fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                               'it', k => 4, epochs => 3, seed => 5)$$) AS no_update_privilege;
RESET ROLE;
SELECT fm_model_version('it') = :v_before AS model_kept, pg_temp.differing('it', 'it_films') AS differing,
       (SELECT count(*) FROM it_films WHERE fm_version <> :v_before) AS other_versions;

-- a registered table that lost a column: the training fails, naming it
CREATE TABLE it_lossy AS SELECT movie_id, genres, NULL::real AS bias, NULL::fm_vector AS embedding,
                                NULL::bigint AS v FROM it_copy;
SELECT fm_materialize_items('it', 'it_lossy', version_column => 'v') AS materialized;
ALTER TABLE it_lossy DROP COLUMN v;
SELECT pg_temp.try($$SELECT fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                               'it', k => 4, epochs => 3, seed => 6)$$) AS lost_column;
SELECT fm_model_version('it') = :v_before AS model_kept;
SELECT pg_temp.try($$INSERT INTO it_lossy VALUES (1, ARRAY['g1'])$$) AS insert_lost_column;
ALTER TABLE it_lossy ADD COLUMN v bigint;
ALTER TABLE it_lossy RENAME COLUMN movie_id TO id;
SELECT pg_temp.try($$SELECT fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                               'it', k => 4, epochs => 3, seed => 6)$$) AS lost_key_column;
SELECT fm_unregister_items('it', 'it_lossy') AS unregistered;

-- a model deleted behind fmrec's back: inserts say so
CREATE TABLE it_orphan AS SELECT movie_id, genres, NULL::real AS bias, NULL::fm_vector AS embedding FROM it_copy;
SELECT model FROM fm_train_from_table('it_rated', 'rating', ARRAY['user_id', 'gender', 'movie_id', 'genres'],
                                      'it_gone', k => 2, epochs => 1);
SELECT fm_materialize_items('it_gone', 'it_orphan') AS materialized;
DELETE FROM fm_model WHERE model = 'it_gone';
SELECT pg_temp.try($$INSERT INTO it_orphan VALUES (100, ARRAY['g1'])$$) AS orphan_insert;
SELECT fm_drop_model('it_gone', if_exists => true) AS dropped;
SELECT count(*) AS orphan_registrations FROM fm_item_tables WHERE model = 'it_gone';

-- fm_drop_model removes the model's registrations; DROP TABLE removes the table's
SELECT fm_drop_model('it_imp') AS dropped;
SELECT model, item_table FROM fm_item_tables ORDER BY model, item_table::text;
DROP TABLE it_nothing, it_orphan;
DROP VIEW it_movie_view, it_rated, it_watched;
DROP TABLE it_films;
SELECT count(*) AS registrations_left FROM fm_item_tables;
DROP TABLE it_copy, it_theirs, it_lossy, it_ratings, it_users;
SELECT fm_drop_model('it');
REVOKE ALL ON fm_model, fm_feature FROM regress_items_trainer;
REVOKE ALL ON SEQUENCE fm_model_version_seq FROM regress_items_trainer;
DROP ROLE regress_items_trainer;
