-- Parallel iALS and BPR (fmrec.max_parallel_workers_per_training): iALS's
-- sweeps are shared by entity blocks, the spanning features' sums added in
-- block order, so one or two workers give the serial model bit for bit;
-- BPR is Hogwild, as accurate as serial but not deterministic.  The cancel
-- and SIGKILL cases are in test/t/120_parallel_training.pl.
SET client_min_messages = warning;	-- NOTICEs carry timings and worker counts
SET max_parallel_maintenance_workers = 2;

-- 36,000 ratings of 240 items, one or two genres each (a multi-valued
-- column: x = 1/2), a group per user and a real-valued activity; users and
-- items of the same parity like each other
CREATE TABLE pi_items AS
SELECT i AS item_id,
       CASE WHEN i % 3 = 0 THEN ARRAY['g' || (i % 4), 'h' || (i % 5)] ELSE ARRAY['g' || (i % 4)] END AS genres
  FROM generate_series(1, 240) i;
CREATE TABLE pi_ratings AS
SELECT u AS user_id, t.item_id, 'grp' || (u % 5) AS grp, (u % 7) * 0.25 AS activity, t.genres,
       (CASE WHEN (u + t.item_id) % 2 = 0 THEN 4 ELSE 2 END)::real AS rating
  FROM generate_series(1, 300) u, pi_items t
 WHERE (u * 31 + t.item_id * 17) % 2 = 0;

-- a model's exact bits
CREATE FUNCTION pi_state(m text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_catalog.md5(pg_catalog.string_agg(feature || '/' || value || '/' || pg_catalog.encode(pg_catalog.float4send(bias), 'hex')
                        || '/' || pg_catalog.encode(fm_vector_send(embedding), 'hex'),
                        ',' ORDER BY feature COLLATE "C", value COLLATE "C"))
    FROM fm_feature WHERE model = m
$$;

-- the validation NDCG@10 of a training with that many workers
CREATE FUNCTION pi_train(m text, method text, workers int, threshold real) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
  ndcg double precision;
BEGIN
  PERFORM pg_catalog.set_config('fmrec.max_parallel_workers_per_training', workers::text, true);
  SELECT validation_ndcg INTO ndcg
    FROM fm_train_from_table('pi_ratings', 'rating', ARRAY['user_id', 'grp', 'activity', 'item_id', 'genres'], m,
                             method => method, k => 8, epochs => 4, positive_threshold => threshold,
                             item_features => ARRAY['item_id', 'genres'], items => 'pi_items');
  RETURN ndcg;
END $$;

-- ials, every rating a positive: serial, one worker, two workers
SELECT pi_train('ials0', 'ials', 0, NULL) AS ndcg \gset
SELECT :ndcg > 0.9 AS ials_learns,
       pi_train('ials1', 'ials', 1, NULL) = :ndcg AS one_worker_same_ndcg,
       pi_train('ials2', 'ials', 2, NULL) = :ndcg AS two_workers_same_ndcg;
SELECT pi_state('ials1') = pi_state('ials0') AS one_worker_same_bits,
       pi_state('ials2') = pi_state('ials0') AS two_workers_same_bits,
       (SELECT pg_catalog.count(*) FROM fm_feature WHERE model = 'ials2') AS features;

-- liked ratings only (positive_threshold 3): fewer pairs, the same bits
SELECT pi_train('ialst0', 'ials', 0, 3) = pi_train('ialst2', 'ials', 2, 3) AS threshold_same_ndcg,
       pi_state('ialst0') = pi_state('ialst2') AS threshold_same_bits;

-- bpr: serial, then Hogwild with two workers; serial stays reproducible
SELECT pi_train('bpr0', 'bpr', 0, NULL) AS serial_ndcg \gset
SELECT pi_train('bpr2', 'bpr', 2, NULL) AS parallel_ndcg \gset
SELECT :serial_ndcg > 0.9 AS serial_learns, :parallel_ndcg > 0.9 AS parallel_learns,
       abs(:parallel_ndcg - :serial_ndcg) < 0.05 AS same_quality;
SELECT pi_train('bpr0b', 'bpr', 0, NULL) = :serial_ndcg AS serial_same_ndcg,
       pi_state('bpr0b') = pi_state('bpr0') AS serial_same_bits;

SELECT fm_drop_model(m) FROM pg_catalog.unnest(ARRAY['ials0', 'ials1', 'ials2', 'ialst0', 'ialst2', 'bpr0', 'bpr2', 'bpr0b']) m;
DROP FUNCTION pi_train(text, text, int, real);
DROP FUNCTION pi_state(text);
DROP TABLE pi_ratings, pi_items;
