-- Parallel training (fmrec.max_parallel_workers_per_training): sgd and adam
-- with two workers are as accurate as serial (Hogwild: not bit-identical);
-- als with one or two workers gives the serial model bit for bit (runs of
-- features that share no row); the default setting trains small tables
-- serially.  The cancel and SIGKILL cases are in test/t/120_parallel_training.pl.
SET client_min_messages = warning;	-- NOTICEs carry timings and worker counts
SET max_parallel_maintenance_workers = 2;

-- 36,000 ratings: users and items of the same parity like each other, a
-- group per user and one or two genres per item (a multi-valued column,
-- whose features share rows: parallel als sweeps them on the leader)
CREATE TABLE par_ratings AS
SELECT u AS user_id, i AS item_id, 'grp' || (u % 5) AS grp,
       CASE WHEN i % 3 = 0 THEN ARRAY['g' || (i % 4), 'h' || (i % 5)] ELSE ARRAY['g' || (i % 4)] END AS genres,
       (CASE WHEN (u + i) % 2 = 0 THEN 4 ELSE 2 END + ((u * 7 + i * 3) % 5 - 2) * 0.25)::real AS rating
  FROM generate_series(1, 300) u, generate_series(1, 240) i
 WHERE (u * 31 + i * 17) % 2 = 0;

-- a model's exact bits
CREATE FUNCTION par_state(m text) RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(feature || '/' || value || '/' || encode(float4send(bias), 'hex')
                        || '/' || encode(fm_vector_send(embedding), 'hex'),
                        ',' ORDER BY feature COLLATE "C", value COLLATE "C"))
    FROM fm_feature WHERE model = m
$$;

-- trains model m with the given workers and returns its validation RMSE;
-- extra_columns and validation for the numeric column's case below
CREATE FUNCTION par_train(m text, method text, workers int, k int, epochs int,
                          extra_columns text[] DEFAULT '{}', validation double precision DEFAULT 0.1)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
  rmse double precision;
BEGIN
  PERFORM set_config('fmrec.max_parallel_workers_per_training', workers::text, true);
  SELECT validation_rmse INTO rmse
    FROM fm_train_from_table('par_ratings', 'rating',
                             ARRAY['user_id', 'item_id', 'grp', 'genres'] || extra_columns, m,
                             method => method, k => k, epochs => epochs, validation_fraction => validation);
  RETURN rmse;
END $$;

SHOW fmrec.max_parallel_workers_per_training;

-- sgd: serial, then Hogwild with two workers
SELECT par_train('sgd0', 'sgd', 0, 8, 20) AS serial_rmse \gset
SELECT par_train('sgd2', 'sgd', 2, 8, 20) AS parallel_rmse \gset
SELECT :serial_rmse < 0.40 AS serial_learns, :parallel_rmse < 0.40 AS parallel_learns,
       abs(:parallel_rmse - :serial_rmse) < 0.02 AS same_quality;

-- adam likewise
SELECT par_train('adam0', 'adam', 0, 8, 20) AS serial_rmse \gset
SELECT par_train('adam2', 'adam', 2, 8, 20) AS parallel_rmse \gset
SELECT :serial_rmse < 0.40 AS serial_learns, :parallel_rmse < 0.40 AS parallel_learns,
       abs(:parallel_rmse - :serial_rmse) < 0.02 AS same_quality;
SELECT par_train('sgd0', 'sgd', 0, 8, 20) AS serial_rmse \gset

-- the default (-1) trains a table under a million rows serially: bit for bit
SELECT par_train('sgd_default', 'sgd', -1, 8, 20) = :serial_rmse AS default_same_rmse,
       par_state('sgd_default') = par_state('sgd0') AS default_same_bits;

-- als: serial, one worker, two workers: the same model to the bit
SELECT par_train('als0', 'als', 0, 4, 8) AS als_rmse \gset
SELECT par_train('als1', 'als', 1, 4, 8) = :als_rmse AS one_worker_same_rmse,
       par_train('als2', 'als', 2, 4, 8) = :als_rmse AS two_workers_same_rmse,
       :als_rmse < 0.40 AS als_learns;
SELECT par_state('als1') = par_state('als0') AS one_worker_same_bits,
       par_state('als2') = par_state('als0') AS two_workers_same_bits,
       (SELECT count(*) FROM fm_feature WHERE model = 'als2') AS features;

-- a numeric column (its x in the weights array, not the palette) and a 30%
-- validation split (too many rows to partition in memory: the training rows
-- are read through the row index): the segment holds both arrays, parallel
-- sgd is as accurate as serial, parallel als gives the serial bits
ALTER TABLE par_ratings ADD COLUMN activity float8;
UPDATE par_ratings SET activity = user_id * 0.0131 + item_id * 0.00107;
SELECT par_train('sgdi0', 'sgd', 0, 8, 20, '{activity}', 0.3) AS serial_rmse \gset
SELECT par_train('sgdi2', 'sgd', 2, 8, 20, '{activity}', 0.3) AS parallel_rmse \gset
SELECT :serial_rmse < 0.40 AS serial_learns, :parallel_rmse < 0.40 AS parallel_learns,
       abs(:parallel_rmse - :serial_rmse) < 0.02 AS same_quality;
SELECT par_train('alsi0', 'als', 0, 4, 8, '{activity}', 0.3) AS als_rmse \gset
SELECT par_train('alsi2', 'als', 2, 4, 8, '{activity}', 0.3) = :als_rmse AS two_workers_same_rmse,
       par_state('alsi2') = par_state('alsi0') AS two_workers_same_bits,
       :als_rmse < 0.40 AS als_learns;

-- mcmc has no parallel form: the setting changes nothing
SELECT par_train('mcmc0', 'mcmc', 0, 4, 5) = par_train('mcmc2', 'mcmc', 2, 4, 5) AS mcmc_same_rmse,
       par_state('mcmc0') = par_state('mcmc2') AS mcmc_same_bits;

SET fmrec.max_parallel_workers_per_training = -2;

SELECT fm_drop_model(m) FROM unnest(ARRAY['sgd0', 'sgd2', 'adam0', 'adam2', 'sgd_default', 'als0', 'als1', 'als2', 'mcmc0', 'mcmc2', 'sgdi0', 'sgdi2', 'alsi0', 'alsi2']) m;
DROP FUNCTION par_train(text, text, int, int, int, text[], double precision);
DROP FUNCTION par_state(text);
DROP TABLE par_ratings;
