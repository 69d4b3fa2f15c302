-- schema.sql -- the MovieLens tables, created afresh on every load.
--
-- Run by load.sh inside one transaction together with load_<format>.sql and
-- finish.sql, so a failed load leaves the previous tables untouched.
--
-- Keys are added by finish.sql once the rows are in: building an index and
-- validating a foreign key in one pass each is much faster than checking
-- 500,000 split rows one trigger call at a time.  The end result:
--   users(user_id) PK            movies(movie_id) PK
--   ratings(user_id, movie_id) PK, FKs to users and movies, index on movie_id
--   ratings_split(fold, user_id, movie_id) PK, FK to ratings
--
-- No CASCADE on purpose: if someone built their own view on these tables, the
-- load stops with PostgreSQL's "other objects depend on it" error instead of
-- silently dropping their work.  Drop (or recreate) such objects yourself.

-- keep the output to the row counts: no "does not exist, skipping" notices
SET client_min_messages = warning;

DROP VIEW  IF EXISTS public.ratings_with_meta;
DROP TABLE IF EXISTS public.ratings_split;
DROP TABLE IF EXISTS public.ratings;
DROP TABLE IF EXISTS public.movies;
DROP TABLE IF EXISTS public.users;

CREATE TABLE public.users (
    user_id    int  NOT NULL,
    age        int  NULL,            -- exact age in 100K; NULL in 1M, which only has an age code
    age_group  text NOT NULL         -- the MovieLens 1M buckets, for both formats
        CHECK (age_group IN ('Under 18', '18-24', '25-34', '35-44', '45-49', '50-55', '56+')),
    gender     text NOT NULL CHECK (gender IN ('M', 'F')),
    occupation text NOT NULL,        -- names; 100K and 1M use different vocabularies
    zip        text                  -- text: some are not numbers (e.g. Canadian codes)
);

CREATE TABLE public.movies (
    movie_id int    NOT NULL,
    title    text   NOT NULL,        -- UTF-8, with the year, e.g. 'Toy Story (1995)'
    genres   text[] NOT NULL         -- in the data set's own order, e.g. {Animation,Children's,Comedy}
);

CREATE TABLE public.ratings (
    user_id  int         NOT NULL,
    movie_id int         NOT NULL,
    rating   real        NOT NULL CHECK (rating BETWEEN 0.5 AND 5),
    rated_at timestamptz NOT NULL
);

-- The cross-validation folds shipped with 100K (u1..u5.base/.test).  Empty
-- when the data set has none (1M).  Each fold splits all ratings in two:
-- part 'base' to train on, part 'test' (20%) to evaluate on.
CREATE TABLE public.ratings_split (
    fold     int  NOT NULL,
    part     text NOT NULL CHECK (part IN ('base', 'test')),
    user_id  int  NOT NULL,
    movie_id int  NOT NULL,
    rating   real NOT NULL
);
