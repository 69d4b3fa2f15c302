-- finish.sql -- common to both formats: the splits, the view, comments,
-- statistics, and the row counts that load.sh prints.

\cd :workdir

-- splits.tsv: fold | part | user id | movie id | rating (empty for 1M)
\copy public.ratings_split (fold, part, user_id, movie_id, rating) FROM 'splits.tsv'

-- Keys and indexes, now that the rows are in (see schema.sql for why).
-- These also catch broken input: a duplicate rating, a rating of an unknown
-- movie, a split row that is not a rating.
ALTER TABLE public.users   ADD PRIMARY KEY (user_id);
ALTER TABLE public.movies  ADD PRIMARY KEY (movie_id);
ALTER TABLE public.ratings ADD PRIMARY KEY (user_id, movie_id),
    ADD FOREIGN KEY (user_id)  REFERENCES public.users,
    ADD FOREIGN KEY (movie_id) REFERENCES public.movies;
-- "who rated this movie" is the other common access path
CREATE INDEX ratings_movie_id_idx ON public.ratings (movie_id);
ALTER TABLE public.ratings_split ADD PRIMARY KEY (fold, user_id, movie_id),
    ADD FOREIGN KEY (user_id, movie_id) REFERENCES public.ratings;

-- One row per rating with the features a recommender uses, so a model can be
-- trained from a single query.  Keep the column list stable: callers may
-- rely on its order.
CREATE VIEW public.ratings_with_meta AS
SELECT r.user_id, r.movie_id, r.rating, u.age_group, u.gender, u.occupation, m.genres
FROM public.ratings AS r
JOIN public.users   AS u USING (user_id)
JOIN public.movies  AS m USING (movie_id);

-- Record where the data came from, so nobody mistakes the generated sample
-- for MovieLens (or the other way round).
COMMENT ON TABLE public.users         IS :'source';
COMMENT ON TABLE public.movies        IS :'source';
COMMENT ON TABLE public.ratings       IS :'source';
COMMENT ON TABLE public.ratings_split IS :'source';

-- Fresh planner statistics: the next thing to run is usually a big join.
ANALYZE public.users, public.movies, public.ratings, public.ratings_split;

\pset tuples_only on
\pset format unaligned
SELECT format('%-14s %8s rows', name, n)
FROM (VALUES (1, 'users',         (SELECT count(*) FROM public.users)),
             (2, 'movies',        (SELECT count(*) FROM public.movies)),
             (3, 'ratings',       (SELECT count(*) FROM public.ratings)),
             (4, 'ratings_split', (SELECT count(*) FROM public.ratings_split)))
     AS t(ord, name, n)
ORDER BY ord;
