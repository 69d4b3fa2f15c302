-- load_100k.sql -- MovieLens 100K: u.data, u.user, u.item.
--
-- load.sh has already turned the files into tab-separated UTF-8 in :workdir
-- (ratings.tsv, users.tsv, movies.tsv); here they are read into temporary
-- staging tables shaped like the files, then turned into the final tables.

-- \copy reads client-side paths relative to psql's working directory and
-- does not expand psql variables, hence the \cd.  (:workdir, not :'workdir':
-- \cd would keep the quotes.)
\cd :workdir

-- u.data: user id | item id | rating | timestamp (unix seconds, UTC)
CREATE TEMP TABLE stage_ratings (user_id int, movie_id int, rating real, ts bigint) ON COMMIT DROP;
\copy stage_ratings FROM 'ratings.tsv'

-- u.user: user id | age | gender | occupation | zip code
CREATE TEMP TABLE stage_users (user_id int, age int, gender text, occupation text, zip text) ON COMMIT DROP;
\copy stage_users FROM 'users.tsv'

-- u.item: movie id | title | release date | video release date | IMDb URL |
-- then 19 genre flags (0/1) in the order of u.genre, listed below.
CREATE TEMP TABLE stage_movies (
    movie_id int, title text, release_date text, video_date text, imdb_url text,
    g1 int, g2 int, g3 int, g4 int, g5 int, g6 int, g7 int, g8 int, g9 int, g10 int,
    g11 int, g12 int, g13 int, g14 int, g15 int, g16 int, g17 int, g18 int, g19 int
) ON COMMIT DROP;
\copy stage_movies FROM 'movies.tsv'

CREATE TEMP TABLE genre_100k (pos int PRIMARY KEY, name text NOT NULL) ON COMMIT DROP;
INSERT INTO genre_100k VALUES
    (1, 'unknown'), (2, 'Action'), (3, 'Adventure'), (4, 'Animation'),
    (5, 'Children''s'), (6, 'Comedy'), (7, 'Crime'), (8, 'Documentary'),
    (9, 'Drama'), (10, 'Fantasy'), (11, 'Film-Noir'), (12, 'Horror'),
    (13, 'Musical'), (14, 'Mystery'), (15, 'Romance'), (16, 'Sci-Fi'),
    (17, 'Thriller'), (18, 'War'), (19, 'Western');

INSERT INTO public.users (user_id, age, age_group, gender, occupation, zip)
SELECT user_id,
       age,
       -- 100K has exact ages; bucket them like 1M so both formats (and the
       -- generated sample) share one categorical feature.
       CASE WHEN age < 18 THEN 'Under 18'
            WHEN age < 25 THEN '18-24'
            WHEN age < 35 THEN '25-34'
            WHEN age < 45 THEN '35-44'
            WHEN age < 50 THEN '45-49'
            WHEN age < 56 THEN '50-55'
            ELSE '56+' END,
       upper(gender),
       occupation,
       NULLIF(zip, '')
FROM stage_users;

INSERT INTO public.movies (movie_id, title, genres)
SELECT s.movie_id,
       s.title,
       -- the flags that are 1, as genre names, in u.genre order
       ARRAY(SELECT g.name
             FROM unnest(ARRAY[s.g1, s.g2, s.g3, s.g4, s.g5, s.g6, s.g7, s.g8, s.g9, s.g10,
                               s.g11, s.g12, s.g13, s.g14, s.g15, s.g16, s.g17, s.g18, s.g19])
                  WITH ORDINALITY AS f(flag, pos)
             JOIN genre_100k AS g USING (pos)
             WHERE f.flag = 1
             ORDER BY g.pos)
FROM stage_movies AS s;

INSERT INTO public.ratings (user_id, movie_id, rating, rated_at)
SELECT user_id, movie_id, rating, to_timestamp(ts)
FROM stage_ratings;
