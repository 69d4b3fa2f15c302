-- fm_sum and fm_avg, serial and parallel.
\i sql/include/try.sql

SELECT fm_sum(v), fm_avg(v) FROM (VALUES ('[1,2]'::fm_vector), ('[3,4]'), (NULL)) t(v);
SELECT fm_sum(v) IS NULL AS empty_sum, fm_avg(v) IS NULL AS empty_avg
  FROM (SELECT '[1]'::fm_vector WHERE false) t(v);
SELECT fm_sum(v) IS NULL AS all_null FROM (VALUES (NULL::fm_vector)) t(v);
SELECT pg_temp.try($$SELECT fm_sum(v) FROM (VALUES ('[1,2]'::fm_vector), ('[1,2,3]')) t(v)$$);
SELECT pg_temp.try($$SELECT fm_sum(v) FROM (VALUES ('[3e38]'::fm_vector), ('[3e38]')) t(v)$$);
-- the mean of large values does not overflow: the state is double precision
SELECT fm_avg(v) FROM (VALUES ('[3e38]'::fm_vector), ('[3e38]')) t(v);
-- per group: the cold-start query vector of each context
SELECT g, fm_sum(v) FROM (VALUES ('a', '[1,0]'::fm_vector), ('a', '[0,1]'), ('b', '[5,5]')) t(g, v)
 GROUP BY g ORDER BY g;

-- parallel aggregation: partial aggregates in workers, combined in the leader
CREATE TABLE agg_big (id int, v fm_vector(4));
INSERT INTO agg_big SELECT i, ARRAY[1, i % 7, -(i % 3), 0.5]::real[] FROM generate_series(1, 200000) i;
ANALYZE agg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT fm_sum(v), fm_avg(v) FROM agg_big;
SELECT fm_sum(v), fm_avg(v) FROM agg_big;
RESET ALL;
-- the serial plan gives the same answer
SET max_parallel_workers_per_gather = 0;
SELECT fm_sum(v), fm_avg(v) FROM agg_big;
RESET ALL;
DROP TABLE agg_big;
