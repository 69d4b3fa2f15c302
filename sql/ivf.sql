-- fm_ivf: approximate ORDER BY fm_item_vec(e, b) <#> fm_query_vec(q) LIMIT k
SET client_min_messages = notice;
SET max_parallel_workers_per_gather = 0;
\i sql/include/try.sql

-- bias folding: fm_item_vec(e, b) . fm_query_vec(q) = fm_score(q, e, b)
SELECT fm_item_vec('[1,2]', 0.5), fm_query_vec('[3,4]');
SELECT fm_item_vec('[1,2]', 0.5) <#> fm_query_vec('[3,4]') AS neg_ip, fm_score('[3,4]', '[1,2]', 0.5);
-- a NaN or infinite bias has no item vector (an fm_vector is finite): NULL, not indexed
SELECT fm_item_vec('[1]', 'NaN') IS NULL AS nan_bias, fm_item_vec('[1]', '-Infinity') IS NULL AS inf_bias;

-- 3000 items in 12 groups (8 dimensions), 20 queries
CREATE TABLE it (id bigint, bias real, embedding fm_vector);
INSERT INTO it
SELECT i, (0.05 * sin(i * 3.3))::real,
       (SELECT array_agg(0.3 * sin((i % 12) * 1.7 + j * 2.3) + 0.05 * sin(i * 0.91 + j * 5.1))::real[]
          FROM generate_series(1, 8) j)::fm_vector
  FROM generate_series(1, 3000) i;
CREATE TABLE qs AS
SELECT u, (SELECT array_agg(sin(u * 1.3 + j * 0.7))::real[] FROM generate_series(1, 8) j)::fm_vector AS q
  FROM generate_series(1, 20) u;
CREATE INDEX it_ivf ON it USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 12);
SELECT relname, reloptions FROM pg_class WHERE relname = 'it_ivf';

-- the planner uses it for ORDER BY <#> LIMIT, and only then
EXPLAIN (COSTS OFF)
SELECT id FROM it ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[1,1,1,1,1,1,1,1]') LIMIT 10;
EXPLAIN (COSTS OFF) SELECT count(*) FROM it;

-- recall@10 of every user against the exact ORDER BY fm_score
CREATE FUNCTION pg_temp.recall(OUT recall numeric, OUT exact_values boolean) LANGUAGE sql AS $$
  WITH approx AS (
    SELECT u, t.id, t.d FROM qs, LATERAL (
      SELECT id, fm_item_vec(embedding, bias) <#> fm_query_vec(q) AS d FROM it
       ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 10) t),
  exact AS (
    SELECT u, t.id, t.s FROM qs, LATERAL (
      SELECT id, fm_score(q, embedding, bias) AS s FROM it
       ORDER BY fm_score(q, embedding, bias) DESC, id LIMIT 10) t)
  SELECT round(count(*)::numeric / (SELECT count(*) FROM exact), 2),
         -- the index returns the operator's values, which agree with fm_score
         bool_and(abs(a.d + e.s) <= 1e-6 * greatest(1, abs(e.s)))
    FROM approx a JOIN exact e USING (u, id) $$;
SET fmrec.ivf_probes = 12;          -- every list: exact
SELECT * FROM pg_temp.recall();
SET fmrec.ivf_cache_size = 0;       -- from the index pages, not the private copy
SELECT * FROM pg_temp.recall();
RESET fmrec.ivf_cache_size;
SET fmrec.ivf_probes = 1;
SELECT recall >= 0.3 AS one_probe_finds_some, recall < 1 AS one_probe_is_approximate FROM pg_temp.recall();
SET fmrec.ivf_probes = 4;
SELECT recall >= 0.8 AS four_probes_find_most FROM pg_temp.recall();

-- the private copy selects from 8-bit codes and rescores from the floats:
-- the same rows with the same values, in the same order, as the pages give,
-- at any probes, past the first batch of 64 and under a filter that
-- rejects most rows (later batches start after the last row returned)
CREATE FUNCTION pg_temp.answers() RETURNS TABLE (probes int, u int, ids bigint[], ds float8[])
LANGUAGE sql AS $$
  SELECT current_setting('fmrec.ivf_probes')::int, u, array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM (
    SELECT u, t.* FROM qs, LATERAL (
      SELECT id, d, row_number() OVER () AS n FROM (
        SELECT id, fm_item_vec(embedding, bias) <#> fm_query_vec(q) AS d FROM it
         WHERE id % 7 = u % 7
         ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 150) s) t) a
  GROUP BY u $$;
SET enable_seqscan = off;            -- the filter makes a sort look cheaper
EXPLAIN (COSTS OFF) SELECT * FROM qs, LATERAL (
  SELECT id FROM it WHERE id % 7 = u % 7
   ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 150) t;
CREATE TEMP TABLE from_copy (probes int, u int, ids bigint[], ds float8[]);
CREATE TEMP TABLE from_pages (LIKE from_copy);
DO $$
DECLARE
  target text;
  probes int;
BEGIN
  FOREACH target IN ARRAY ARRAY['from_copy', 'from_pages'] LOOP
    -- settings local to this statement's transaction
    PERFORM set_config('fmrec.ivf_cache_size', CASE target WHEN 'from_copy' THEN '1GB' ELSE '0' END, true);
    FOREACH probes IN ARRAY ARRAY[2, 5, 12] LOOP
      PERFORM set_config('fmrec.ivf_probes', probes::text, true);
      EXECUTE format('INSERT INTO %I SELECT * FROM pg_temp.answers()', target);
    END LOOP;
  END LOOP;
END $$;
SELECT probes, count(*) AS queries, min(cardinality(c.ids)) AS min_rows, max(cardinality(c.ids)) AS max_rows,
       count(*) FILTER (WHERE c.ids = g.ids AND c.ds = g.ds) AS identical
  FROM from_copy c JOIN from_pages g USING (probes, u) GROUP BY probes ORDER BY probes;
RESET enable_seqscan;
-- a query so large that the quantised products overflow: those lists are
-- scored from the floats
SET fmrec.ivf_probes = 12;
CREATE TEMP TABLE huge AS SELECT array_agg(id) AS ids FROM (SELECT id FROM it
  ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[3e38,-3e38,3e38,1,1,1,1,1]') LIMIT 20) s;
SET fmrec.ivf_cache_size = 0;
SELECT ids = (SELECT array_agg(id) FROM (SELECT id FROM it
  ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[3e38,-3e38,3e38,1,1,1,1,1]') LIMIT 20) s) AS huge_query_same,
  cardinality(ids) FROM huge;
RESET fmrec.ivf_cache_size;

-- scores that overflow into NaN (inf - inf within one float lane: 16
-- dimensions apart, both within the first 32) come last, as a sequential
-- scan sorts them, from the copy and from the pages alike
CREATE TABLE nan_items AS
SELECT i AS id, 0::real AS bias,
       (SELECT array_agg(CASE WHEN i % 2 = 0 AND j IN (1, 17) THEN 2 ELSE 0.01 * sin(i * j) END)::real[]
          FROM generate_series(1, 40) j)::fm_vector AS embedding
  FROM generate_series(1, 200) i;
CREATE INDEX nan_ivf ON nan_items USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 4);
SET fmrec.ivf_probes = 4;
CREATE FUNCTION pg_temp.nan_order(OUT ids bigint[], OUT ds float8[]) LANGUAGE sql AS $$
  SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM (
    SELECT id, d, row_number() OVER () AS n FROM (
      SELECT id, fm_item_vec(embedding, bias) <#> fm_query_vec(q) AS d FROM nan_items,
             LATERAL (SELECT (('{3e38' || repeat(',0', 15) || ',-3e38' || repeat(',0', 23) || '}')::real[])::fm_vector AS q) qq
       ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 150) s) t $$;
SET enable_seqscan = off;
CREATE TEMP TABLE nan_copy AS SELECT * FROM pg_temp.nan_order();
SET fmrec.ivf_cache_size = 0;
CREATE TEMP TABLE nan_pages AS SELECT * FROM pg_temp.nan_order();
RESET fmrec.ivf_cache_size;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE nan_seq AS SELECT * FROM pg_temp.nan_order();
RESET enable_indexscan;
-- the 100 finite rows first, then 50 of the NaN ones (which 50 is a tie)
SELECT (SELECT count(*) FROM unnest(c.ds) d WHERE d = 'NaN') AS nans,
       (SELECT bool_and(d = 'NaN') FROM unnest(c.ds[101:150]) d) AS nans_last,
       c.ids = p.ids AND c.ds = p.ds AS copy_equals_pages,
       c.ids[1:100] = s.ids[1:100] AND c.ds = s.ds AS copy_equals_seqscan
  FROM nan_copy c, nan_pages p, nan_seq s;
DROP TABLE nan_items;

-- same ids in the same order as a sequential scan when every list is probed
SET fmrec.ivf_probes = 12;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM it
          ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 10) s) =
       (SELECT array_agg(id) FROM (SELECT id FROM it
          ORDER BY fm_score(q, embedding, bias) DESC, id LIMIT 10) s) AS same_order
  FROM qs WHERE u = 3;

-- deterministic build: REINDEX gives the same answers at one probe
SET fmrec.ivf_probes = 1;
CREATE TABLE before AS
SELECT u, (SELECT array_agg(id) FROM (SELECT id FROM it
             ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 10) s) AS ids FROM qs;
REINDEX INDEX it_ivf;
SELECT count(*) FILTER (WHERE b.ids = (SELECT array_agg(id) FROM (SELECT id FROM it
             ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 10) s)) AS unchanged
  FROM before b JOIN qs USING (u);

-- inserts after the build are found, deleted rows are gone after VACUUM
INSERT INTO it SELECT i, 5, '[1,1,1,1,1,1,1,1]' FROM generate_series(10001, 10600) i;
SET fmrec.ivf_probes = 12;
SELECT count(*) AS new_items_first FROM (SELECT id FROM it
  ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[1,1,1,1,1,1,1,1]') LIMIT 600) s WHERE id > 10000;
DELETE FROM it WHERE id > 10300;
VACUUM it;
-- no removed rows, neither from the pages nor from the private copy made before VACUUM
SET fmrec.ivf_cache_size = 0;
SELECT count(*) AS left_after_vacuum, min(id), max(id) FROM (SELECT id FROM it
  ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[1,1,1,1,1,1,1,1]') LIMIT 600) s WHERE id > 10000;
RESET fmrec.ivf_cache_size;
SELECT count(*) AS left_after_vacuum, min(id), max(id) FROM (SELECT id FROM it
  ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[1,1,1,1,1,1,1,1]') LIMIT 600) s WHERE id > 10000;
UPDATE it SET bias = 9 WHERE id = 17;
SELECT id FROM it ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[0,0,0,0,0,0,0,0]') LIMIT 1;

-- NULLs are not indexed; a NULL query orders nothing but still returns rows
INSERT INTO it VALUES (20000, NULL, '[1,1,1,1,1,1,1,1]'), (20001, 1, NULL);
SELECT count(*) FROM (SELECT id FROM it ORDER BY fm_item_vec(embedding, bias) <#> NULL LIMIT 5) s;

-- errors: dimensions, options
SELECT pg_temp.try($$SELECT id FROM it ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec('[1,2]') LIMIT 1$$);
SELECT pg_temp.try($$INSERT INTO it VALUES (30000, 0, '[1,2,3]')$$);
SELECT pg_temp.try($$CREATE INDEX ON it USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 0)$$);
SELECT pg_temp.try($$CREATE INDEX ON it USING fm_ivf (fm_item_vec(embedding, bias)) WITH (probes = 3)$$);
CREATE TABLE mixed (v fm_vector);
INSERT INTO mixed VALUES ('[1,2]'), ('[1,2,3]');
SELECT pg_temp.try($$CREATE INDEX ON mixed USING fm_ivf (v)$$);

-- built on an empty table: one untrained list, exact until REINDEX
CREATE TABLE later (id int, embedding fm_vector);
CREATE INDEX later_ivf ON later USING fm_ivf (embedding) WITH (lists = 50);
INSERT INTO later SELECT i, ARRAY[i, 1]::real[]::fm_vector FROM generate_series(1, 300) i;
SELECT array_agg(id) FROM (SELECT id FROM later ORDER BY embedding <#> '[1,0]' LIMIT 3) s;
TRUNCATE later;
INSERT INTO later VALUES (1, '[1,2]');
SELECT id FROM later ORDER BY embedding <#> '[1,0]' LIMIT 3;

-- unlogged: the init fork is a valid empty index
CREATE UNLOGGED TABLE scratch (embedding fm_vector);
CREATE INDEX scratch_ivf ON scratch USING fm_ivf (embedding);
INSERT INTO scratch VALUES ('[1,2,3]'), ('[3,2,1]');
SELECT embedding FROM scratch ORDER BY embedding <#> '[1,0,0]' LIMIT 1;

DROP TABLE it, qs, before, mixed, later, scratch;
