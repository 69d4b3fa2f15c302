-- load_1m.sql -- MovieLens 1M: ratings.dat, users.dat, movies.dat.
--
-- load.sh has already split the '::'-separated files into tab-separated
-- UTF-8 in :workdir (ratings.tsv, users.tsv, movies.tsv); here they are read
-- into temporary staging tables shaped like the files, then turned into the
-- final tables.

-- \copy reads client-side paths relative to psql's working directory and
-- does not expand psql variables, hence the \cd.  (:workdir, not :'workdir':
-- \cd would keep the quotes.)
\cd :workdir

-- ratings.dat: UserID::MovieID::Rating::Timestamp (unix seconds, UTC)
CREATE TEMP TABLE stage_ratings (user_id int, movie_id int, rating real, ts bigint) ON COMMIT DROP;
\copy stage_ratings FROM 'ratings.tsv'

-- users.dat: UserID::Gender::Age::Occupation::Zip-code, age and occupation
-- as codes, decoded with the tables below (from the 1M README).
CREATE TEMP TABLE stage_users (user_id int, gender text, age_code int, occupation_code int, zip text) ON COMMIT DROP;
\copy stage_users FROM 'users.tsv'

-- movies.dat: MovieID::Title::Genres, genres separated by '|'
CREATE TEMP TABLE stage_movies (movie_id int, title text, genres text) ON COMMIT DROP;
\copy stage_movies FROM 'movies.tsv'

-- A code is the lower bound of its bucket.
CREATE TEMP TABLE age_code_1m (code int PRIMARY KEY, age_group text NOT NULL) ON COMMIT DROP;
INSERT INTO age_code_1m VALUES
    (1, 'Under 18'), (18, '18-24'), (25, '25-34'), (35, '35-44'),
    (45, '45-49'), (50, '50-55'), (56, '56+');

CREATE TEMP TABLE occupation_code_1m (code int PRIMARY KEY, name text NOT NULL) ON COMMIT DROP;
INSERT INTO occupation_code_1m VALUES
    (0, 'other'), (1, 'academic/educator'), (2, 'artist'), (3, 'clerical/admin'),
    (4, 'college/grad student'), (5, 'customer service'), (6, 'doctor/health care'),
    (7, 'executive/managerial'), (8, 'farmer'), (9, 'homemaker'), (10, 'K-12 student'),
    (11, 'lawyer'), (12, 'programmer'), (13, 'retired'), (14, 'sales/marketing'),
    (15, 'scientist'), (16, 'self-employed'), (17, 'technician/engineer'),
    (18, 'tradesman/craftsman'), (19, 'unemployed'), (20, 'writer');

-- Inner joins would silently drop users with an unknown code; fail instead.
DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(DISTINCT format('user %s: age code %s, occupation code %s',
                                      s.user_id, s.age_code, s.occupation_code), '; ')
      INTO bad
      FROM stage_users AS s
      LEFT JOIN age_code_1m AS a ON a.code = s.age_code
      LEFT JOIN occupation_code_1m AS o ON o.code = s.occupation_code
     WHERE a.code IS NULL OR o.code IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'users.dat has unknown codes: %', bad;
    END IF;
END
$$;

INSERT INTO public.users (user_id, age, age_group, gender, occupation, zip)
SELECT s.user_id,
       NULL,                      -- 1M only gives the bucket, not the age
       a.age_group,
       upper(s.gender),
       o.name,
       NULLIF(s.zip, '')
FROM stage_users AS s
JOIN age_code_1m AS a ON a.code = s.age_code
JOIN occupation_code_1m AS o ON o.code = s.occupation_code;

INSERT INTO public.movies (movie_id, title, genres)
SELECT movie_id,
       title,
       string_to_array(genres, '|')   -- '' (no genre listed) gives '{}'
FROM stage_movies;

INSERT INTO public.ratings (user_id, movie_id, rating, rated_at)
SELECT user_id, movie_id, rating, to_timestamp(ts)
FROM stage_ratings;
