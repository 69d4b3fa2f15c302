-- serving_micro.sql - the measurements behind three design decisions of
-- issue #6, without pgbench or network round trips: per-call costs measured
-- as the time of one statement that makes many calls.
--
--   psql -X -f test/bench/serving_micro.sql    (from the repository root,
--                                               in a database with fmrec)
--
-- Needs test/bench/build/serving_gen (built by serving_bench.sh).  Creates
-- and drops micro_* tables.
\set ON_ERROR_STOP 1
\pset footer off
SET max_parallel_workers_per_gather = 0;
SET client_min_messages = warning;

DROP TABLE IF EXISTS micro_q, micro_q16, micro_tiny, micro_tiny_untracked, micro_short, micro_1682, micro_100k, micro_1m;
CREATE TABLE micro_q (u bigint, bias real, q fm_vector);
\copy micro_q FROM PROGRAM 'test/bench/build/serving_gen 200 120 2 fm_vector' (FORMAT binary)
CREATE TABLE micro_1682 (id bigint, bias real, embedding fm_vector);
\copy micro_1682 FROM PROGRAM 'test/bench/build/serving_gen 1682 120 1 fm_vector' (FORMAT binary)
CREATE TABLE micro_100k (id bigint, bias real, embedding fm_vector);
\copy micro_100k FROM PROGRAM 'test/bench/build/serving_gen 100000 120 1 fm_vector' (FORMAT binary)
CREATE TABLE micro_1m (id bigint, bias real, embedding fm_vector);
\copy micro_1m FROM PROGRAM 'test/bench/build/serving_gen 1000000 120 1 fm_vector' (FORMAT binary)
CREATE TABLE micro_tiny AS SELECT * FROM micro_1682 WHERE id <= 100;
ALTER TABLE micro_tiny ADD PRIMARY KEY (id);
CREATE TABLE micro_tiny_untracked AS SELECT * FROM micro_tiny;
ALTER TABLE micro_tiny_untracked ADD PRIMARY KEY (id);
-- 16 dimensions: stored with a 1-byte varlena header
CREATE TABLE micro_q16 (u bigint, bias real, q fm_vector);
\copy micro_q16 FROM PROGRAM 'test/bench/build/serving_gen 200 16 2 fm_vector' (FORMAT binary)
CREATE TABLE micro_short (id bigint, bias real, embedding fm_vector);
\copy micro_short FROM PROGRAM 'test/bench/build/serving_gen 1000000 16 1 fm_vector' (FORMAT binary)
VACUUM ANALYZE micro_q, micro_q16, micro_1682, micro_100k, micro_1m, micro_tiny, micro_tiny_untracked, micro_short;
SELECT fm_topk_track('micro_tiny'), fm_topk_track('micro_1682'), fm_topk_track('micro_100k'), fm_topk_track('micro_1m');

-- A statement's wall time in ms, best of `runs`.
CREATE FUNCTION pg_temp.best_ms(sql text, runs int DEFAULT 5) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; best numeric := 'Infinity';
BEGIN
  FOR i IN 1 .. runs LOOP
    t0 := clock_timestamp();
    EXECUTE sql;
    best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
  RETURN round(best, 3);
END $$;

\echo '1. Cache validation: cost per fm_topk call on 100 items (20,000 calls in one statement)'
-- untracked: all calls share the statement's snapshot, so no version query;
-- tracked: one SPI index probe of fm_topk_version per call
-- (k depends on g so that every (g, q) pair is a call of its own)
SELECT round(pg_temp.best_ms($$SELECT count(*) FROM generate_series(1, 100) g, micro_q q,
         LATERAL fm_topk(q.q, 'micro_tiny_untracked', 10 + g * 0) t$$, 3) / 20000 * 1000, 2) AS untracked_us_per_call,
       round(pg_temp.best_ms($$SELECT count(*) FROM generate_series(1, 100) g, micro_q q,
         LATERAL fm_topk(q.q, 'micro_tiny', 10 + g * 0) t$$, 3) / 20000 * 1000, 2) AS tracked_us_per_call;
\echo '   writer side: 2,000 single-row UPDATEs (one statement each), with and without the trigger'
CREATE FUNCTION pg_temp.updates(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 2000 LOOP
    EXECUTE format('UPDATE %s SET bias = bias WHERE id = $1', t) USING 1 + i % 100;
  END LOOP;
END $$;
SELECT round(pg_temp.best_ms($$SELECT pg_temp.updates('micro_tiny_untracked')$$, 3) / 2, 2) AS untracked_us_per_update,
       round(pg_temp.best_ms($$SELECT pg_temp.updates('micro_tiny')$$, 3) / 2, 2) AS tracked_us_per_update;

\echo '2. sgemv against the fm_vec_dot loop: ms per warm fm_topk call (200 queries in one statement), 120 dimensions'
SELECT fm_topk_cache_reset();
SELECT count(*) FROM micro_q, LATERAL fm_topk(q, 'micro_1682', 10) t;
SELECT count(*) FROM micro_q, LATERAL fm_topk(q, 'micro_100k', 10) t;
SET fmrec.topk_cache_size = '2GB';
SELECT count(*) FROM micro_q, LATERAL fm_topk(q, 'micro_1m', 10) t;
CREATE FUNCTION pg_temp.per_call(items text, kernel text) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('fmrec.topk_kernel', kernel, true);
  RETURN round(pg_temp.best_ms(format($f$SELECT count(*) FROM micro_q, LATERAL fm_topk(q, %L, 10) t$f$, items), 5) / 200, 4);
END $$;
SELECT n AS items, pg_temp.per_call(t, 'blas') AS sgemv_ms, pg_temp.per_call(t, 'loop') AS loop_ms
  FROM (VALUES ('micro_1682', 1682), ('micro_100k', 100000), ('micro_1m', 1000000)) v(t, n);

\echo '3. fm_score per row: in place vs detoast copy (1M rows of 16 dimensions, 1-byte headers, serial)'
-- fm_dot still uses PG_DETOAST_DATUM (a palloc and a copy per row); its
-- ORDER BY adds one float8 + real per row (a few ns)
SELECT pg_temp.best_ms($$SELECT id FROM micro_short
         ORDER BY fm_score((SELECT q FROM micro_q16 WHERE u = 1), embedding, bias) DESC LIMIT 10$$) AS fm_score_in_place_ms,
       pg_temp.best_ms($$SELECT id FROM micro_short
         ORDER BY fm_dot((SELECT q FROM micro_q16 WHERE u = 1), embedding) + bias DESC LIMIT 10$$) AS fm_dot_copy_ms,
       pg_temp.best_ms($$SELECT id FROM micro_short ORDER BY bias DESC LIMIT 10$$) AS scan_and_sort_only_ms;

\echo '4. COST 1 keeps the 1M-row serving query under jit_above_cost; what JIT would add per query'
RESET max_parallel_workers_per_gather;
SELECT pg_temp.best_ms($$SELECT id FROM micro_1m
         ORDER BY fm_score((SELECT q FROM micro_q WHERE u = 1), embedding, bias) DESC LIMIT 10$$) AS default_plan_ms,
       pg_temp.best_ms($$SET LOCAL jit_above_cost = 0; SELECT id FROM micro_1m
         ORDER BY fm_score((SELECT q FROM micro_q WHERE u = 1), embedding, bias) DESC LIMIT 10$$) AS with_jit_ms;

DROP TABLE micro_q, micro_q16, micro_tiny, micro_tiny_untracked, micro_short, micro_1682, micro_100k, micro_1m;
