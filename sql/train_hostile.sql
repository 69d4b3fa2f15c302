-- fm_train_from_table on hostile sources: names that need quoting, views,
-- partitions, empty and odd targets, long values; and the security
-- contract: the trainer reads with the caller's privileges (GRANTs,
-- column privileges, row-level security) and nothing in the extension
-- runs as its owner.  (10^6 distinct values: test/t/010_large_sources.pl.)
SET client_min_messages = warning;	-- per-epoch NOTICEs carry timings
\i sql/include/try.sql
-- only the SQLSTATE, where the message is not part of the contract
CREATE FUNCTION pg_temp.sqlstate(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text;
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
  RETURN st;
END $$;

-- The regression database is shared with the other test files: tables
-- live in schema hostile, models are named h_* (and dropped at the end).
CREATE SCHEMA hostile;
SET search_path = hostile, public;

------------------------------------------------------------------------------
-- Identifiers that need quoting.  If any were spliced into SQL unquoted,
-- training would fail to parse or drop the canary table x.
------------------------------------------------------------------------------
CREATE TABLE x (canary int);
CREATE SCHEMA "My ""Schema""";
CREATE TABLE "My ""Schema"""."Ratings ""2024""" (
  "drop table x; --" int,
  "User Id" text,
  "select" text,
  "Rating ""1-5""" real);
INSERT INTO "My ""Schema"""."Ratings ""2024"""
SELECT u % 20, CASE WHEN u % 3 = 0 THEN '' ELSE 'ü' || u % 7 || ' ''"; --' END,
       CASE WHEN u % 2 = 0 THEN 'GRANT' ELSE 'grant' END, 1 + u % 5
  FROM generate_series(1, 300) u;
SELECT model, rows_used, rows_skipped, n_features
  FROM fm_train_from_table('"My ""Schema"""."Ratings ""2024"""', 'Rating "1-5"',
                           ARRAY['drop table x; --', 'User Id', 'select'],
                           $m$'); DROP TABLE x; --$m$, k => 2, epochs => 2);
-- the source is recorded quoted, so it resolves back to the same table;
-- feature names are the column names as declared
SELECT source, source::regclass = '"My ""Schema"""."Ratings ""2024"""'::regclass AS resolves,
       target, features
  FROM fm_model WHERE model = $m$'); DROP TABLE x; --$m$;
SELECT feature, count(*) AS n_values, count(*) FILTER (WHERE value = '') AS empty_values
  FROM fm_feature WHERE model = $m$'); DROP TABLE x; --$m$ GROUP BY feature ORDER BY feature COLLATE "C";
-- values that differ only in case are different features, and serving finds them
SELECT fm_predict($m$'); DROP TABLE x; --$m$, ARRAY['select'], ARRAY['GRANT'])
       <> fm_predict($m$'); DROP TABLE x; --$m$, ARRAY['select'], ARRAY['grant']) AS case_sensitive;
SELECT count(*) AS canary_still_there FROM x;
-- a name that merely looks like a qualified one is one identifier
SELECT pg_temp.try($$SELECT fm_train_from_table('"My ""Schema"""."Ratings ""2024"""', 'Rating "1-5"', ARRAY['"User Id"'], 'h_q')$$);
SELECT pg_temp.try($$SELECT fm_train_from_table('"My ""Schema"".Ratings ""2024"""', 'Rating "1-5"', ARRAY['User Id'], 'h_q')$$);

------------------------------------------------------------------------------
-- A view, a materialized view, a partitioned table, a table with a dropped
-- column: every kind of relation SELECT can read is a source.
------------------------------------------------------------------------------
CREATE TABLE base (dropped int, u int, i int, rating real);
INSERT INTO base SELECT 0, x % 30, x % 17, 1 + x % 5 FROM generate_series(1, 600) x;
ALTER TABLE base DROP COLUMN dropped;
SELECT rows_used FROM fm_train_from_table('base', 'rating', ARRAY['u', 'i'], 'h_base', k => 2, epochs => 2);
CREATE VIEW good_ratings AS SELECT u AS "user", i AS item, rating FROM base WHERE rating >= 3;
SELECT rows_used, n_features FROM fm_train_from_table('good_ratings', 'rating', ARRAY['user', 'item'], 'h_view', k => 2, epochs => 2);
SELECT source FROM fm_model WHERE model = 'h_view';
CREATE MATERIALIZED VIEW mat_ratings AS SELECT * FROM base WHERE u < 10;
SELECT rows_used FROM fm_train_from_table('mat_ratings', 'rating', ARRAY['u', 'i'], 'h_matview', k => 2, epochs => 2);

CREATE TABLE parted (u int, i int, rating real) PARTITION BY RANGE (u);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (10);
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (10) TO (30);
CREATE TABLE parted_empty PARTITION OF parted FOR VALUES FROM (30) TO (40);
INSERT INTO parted SELECT u, i, rating FROM base;
-- the partitioned table reads all partitions, a partition only itself
SELECT rows_used, n_features FROM fm_train_from_table('parted', 'rating', ARRAY['u', 'i'], 'h_parted', k => 2, epochs => 2);
SELECT rows_used FROM fm_train_from_table('parted_low', 'rating', ARRAY['u', 'i'], 'h_parted_low', k => 2, epochs => 2);
-- a partitioned table is read like a plain table of the same rows in the
-- same order (partition by partition): the same model, bit for bit
CREATE TABLE parted_copy AS SELECT * FROM parted;
SELECT 1 FROM fm_train_from_table('parted_copy', 'rating', ARRAY['u', 'i'], 'h_parted_copy', k => 2, epochs => 2);
SELECT count(*) AS features,
       count(*) FILTER (WHERE a.bias = b.bias AND a.embedding = b.embedding) AS identical
  FROM fm_feature a JOIN fm_feature b USING (feature, value)
 WHERE a.model = 'h_parted' AND b.model = 'h_parted_copy';

-- a relation that is not readable as a table
CREATE TYPE pair AS (u int, rating real);
SELECT pg_temp.try($$SELECT fm_train_from_table('pair', 'rating', ARRAY['u'], 'h_q')$$);

------------------------------------------------------------------------------
-- Nothing to train on: 0 rows (empty partition, a view filtering all),
-- only NULL targets.  An ERROR, and the model of that name is left alone.
------------------------------------------------------------------------------
SELECT trained_at AS base_at FROM fm_model WHERE model = 'h_base' \gset
SELECT pg_temp.try($$SELECT fm_train_from_table('parted_empty', 'rating', ARRAY['u'], 'h_base')$$);
CREATE VIEW no_ratings AS SELECT * FROM base WHERE false;
SELECT pg_temp.try($$SELECT fm_train_from_table('no_ratings', 'rating', ARRAY['u'], 'h_base')$$);
CREATE TABLE null_targets AS SELECT u, i, NULL::real AS rating FROM base;
SELECT pg_temp.try($$SELECT fm_train_from_table('null_targets', 'rating', ARRAY['u', 'i'], 'h_base')$$);
SELECT trained_at = :'base_at' AS base_untouched,
       (SELECT count(*) FROM fm_feature WHERE model = 'h_base') AS base_features
  FROM fm_model WHERE model = 'h_base';

------------------------------------------------------------------------------
-- NaN and infinite targets are skipped and counted (documented), for every
-- numeric type that has them; the model fits only the finite rows.
------------------------------------------------------------------------------
CREATE TABLE odd (u int, r_real real, r_float double precision, r_numeric numeric);
INSERT INTO odd SELECT x % 4, x % 4, x % 4, x % 4 FROM generate_series(1, 200) x;
INSERT INTO odd VALUES (1, 'NaN', 'NaN', 'NaN'), (2, 'Infinity', 'Infinity', 'Infinity'),
                       (3, '-Infinity', '-Infinity', '-Infinity'), (0, NULL, NULL, NULL);
SELECT t.target, r.rows_used, r.rows_skipped
  FROM unnest(ARRAY['r_real', 'r_float', 'r_numeric']) t(target),
       LATERAL fm_train_from_table('odd', t.target, ARRAY['u'], 'h_odd_' || t.target, k => 2, epochs => 2) r
 ORDER BY t.target;
-- the target range of each model is that of its finite rows
SELECT model, target_min, target_max, rows_used, rows_skipped
  FROM fm_model WHERE model LIKE 'h\_odd%' ORDER BY model;
-- a finite double beyond the range of real (training works in float4) fails
-- cleanly: numeric_value_out_of_range, and the previous model stays
INSERT INTO odd VALUES (1, 1, 1e300, 1e300);
SELECT trained_at AS odd_at FROM fm_model WHERE model = 'h_odd_r_float' \gset
SELECT pg_temp.sqlstate($$SELECT fm_train_from_table('odd', 'r_float', ARRAY['u'], 'h_odd_r_float', k => 2, epochs => 2)$$);
SELECT trained_at = :'odd_at' AS odd_untouched FROM fm_model WHERE model = 'h_odd_r_float';
-- a numeric beyond double precision cannot even be read
INSERT INTO odd VALUES (1, 1, 1, 1e400);
SELECT pg_temp.sqlstate($$SELECT fm_train_from_table('odd', 'r_numeric', ARRAY['u'], 'h_odd_r_numeric', k => 2, epochs => 2)$$);

------------------------------------------------------------------------------
-- Long text values.  fm_feature's primary key indexes the value, and a
-- btree entry holds about 2.7 kB, so a feature value may have at most 2000
-- bytes: such values train and are served; a longer one is refused while
-- the source is read (program_limit_exceeded), before any training, and
-- the previous model stays as it was.
------------------------------------------------------------------------------
CREATE TABLE docs (u int, doc text, rating real);
INSERT INTO docs SELECT x % 10, repeat(chr(65 + x % 20), 2000), 1 + x % 5 FROM generate_series(1, 200) x;
SELECT rows_used, n_features FROM fm_train_from_table('docs', 'rating', ARRAY['u', 'doc'], 'h_docs', k => 2, epochs => 2);
SELECT count(*) AS long_values, min(length(value)) AS min_length
  FROM fm_feature WHERE model = 'h_docs' AND feature = 'doc';
SELECT fm_predict('h_docs', ARRAY['doc'], ARRAY[repeat('B', 2000)])
       <> (SELECT w0 FROM fm_model WHERE model = 'h_docs') AS long_value_served;
SELECT trained_at AS docs_at FROM fm_model WHERE model = 'h_docs' \gset
CREATE TABLE huge_docs AS
SELECT x % 10 AS u, repeat(chr(65 + x % 20), 100000) AS doc, (1 + x % 5)::real AS rating
  FROM generate_series(1, 20) x;
SELECT pg_temp.try($$SELECT fm_train_from_table('huge_docs', 'rating', ARRAY['u', 'doc'], 'h_docs', k => 2, epochs => 2)$$);
SELECT trained_at = :'docs_at' AS docs_untouched, n_features FROM fm_model WHERE model = 'h_docs';

------------------------------------------------------------------------------
-- Security.  Roles are cluster-wide: regress_ prefix, dropped at the end.
------------------------------------------------------------------------------
-- read-only transactions cannot train (a standby neither: TAP test)
BEGIN READ ONLY;
SELECT pg_temp.try($$SELECT fm_train_from_table('base', 'rating', ARRAY['u'], 'h_q')$$);
ROLLBACK;

-- nothing in the extension lets a role act with the extension owner's
-- rights: no function that any role may call is SECURITY DEFINER (a
-- trigger function that only its owner may attach would be allowed), and
-- every function written in SQL or PL/pgSQL pins its search_path
SELECT count(*) > 0 AS has_functions,
       count(*) FILTER (WHERE p.prosecdef AND (p.prorettype <> 'trigger'::regtype
                                               OR has_function_privilege('public', p.oid, 'EXECUTE')))
         AS callable_security_definer,
       count(*) FILTER (WHERE l.lanname NOT IN ('c', 'internal')
                          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'))
         AS unpinned_search_path
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fmrec');
-- fm_model and fm_feature: no privileges for PUBLIC
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT') AS public_select,
       has_table_privilege('public', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS public_write
  FROM pg_class c WHERE c.oid IN ('fm_model'::regclass, 'fm_feature'::regclass) ORDER BY 1;

CREATE ROLE regress_fmrec_trainer;
CREATE ROLE regress_fmrec_reader;
GRANT USAGE ON SCHEMA hostile TO regress_fmrec_trainer, regress_fmrec_reader;
CREATE TABLE secret (tenant text, u int, i int, rating real);
INSERT INTO secret SELECT CASE WHEN x % 4 = 0 THEN 'regress_fmrec_trainer' ELSE 'other' END,
                          x % 25, x % 13, 1 + x % 5
  FROM generate_series(1, 800) x;

-- a role that may not read the source cannot train from it, whatever it
-- may do with the model tables
GRANT SELECT, INSERT, DELETE ON fm_model TO regress_fmrec_trainer;
GRANT INSERT ON fm_feature TO regress_fmrec_trainer;
SET ROLE regress_fmrec_trainer;
SELECT pg_temp.try($$SELECT fm_train_from_table('secret', 'rating', ARRAY['u', 'i'], 'h_secret')$$);
RESET ROLE;
-- column privileges: exactly the columns read must be granted
GRANT SELECT (u, rating) ON secret TO regress_fmrec_trainer;
SET ROLE regress_fmrec_trainer;
SELECT pg_temp.try($$SELECT fm_train_from_table('secret', 'rating', ARRAY['u', 'i'], 'h_secret', k => 2, epochs => 2)$$);
SELECT rows_used FROM fm_train_from_table('secret', 'rating', ARRAY['u'], 'h_secret', k => 2, epochs => 2);
RESET ROLE;

-- row-level security is applied to what the trainer reads: the trainer
-- sees its own 200 rows of 800, and the model knows only their values
GRANT SELECT ON secret TO regress_fmrec_trainer;
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON secret FOR SELECT USING (tenant = current_user);
SET ROLE regress_fmrec_trainer;
SELECT count(*) AS visible FROM secret;
SELECT rows_used, n_features FROM fm_train_from_table('secret', 'rating', ARRAY['u', 'i', 'tenant'], 'h_secret', k => 2, epochs => 2);
RESET ROLE;
SELECT value FROM fm_feature WHERE model = 'h_secret' AND feature = 'tenant';
-- a role that sees no row at all has nothing to train on
ALTER POLICY own_rows ON secret USING (tenant = current_user AND u < 0);
SET ROLE regress_fmrec_trainer;
SELECT pg_temp.try($$SELECT fm_train_from_table('secret', 'rating', ARRAY['u', 'i'], 'h_secret')$$);
RESET ROLE;
SELECT rows_used FROM fm_model WHERE model = 'h_secret';

-- a view reads its base tables with its owner's rights (plain SQL
-- semantics), unless it is security_invoker
CREATE VIEW secret_summary AS SELECT u, i, rating FROM secret WHERE tenant = 'other';
CREATE VIEW secret_invoker WITH (security_invoker = true) AS SELECT u, i, rating FROM secret WHERE tenant = 'other';
REVOKE SELECT ON secret FROM regress_fmrec_trainer;
GRANT SELECT ON secret_summary, secret_invoker TO regress_fmrec_trainer;
SET ROLE regress_fmrec_trainer;
SELECT rows_used FROM fm_train_from_table('secret_summary', 'rating', ARRAY['u', 'i'], 'h_secret_view', k => 2, epochs => 2);
SELECT pg_temp.try($$SELECT fm_train_from_table('secret_invoker', 'rating', ARRAY['u', 'i'], 'h_secret_view')$$);
RESET ROLE;

-- the model tables: training needs SELECT, INSERT, DELETE on fm_model and
-- INSERT on fm_feature (the cascade that deletes the old feature rows runs
-- as the table owner); serving needs SELECT on both
GRANT SELECT ON base TO regress_fmrec_reader;
SET ROLE regress_fmrec_reader;
SELECT pg_temp.try($$SELECT fm_train_from_table('base', 'rating', ARRAY['u'], 'h_base')$$);
SELECT pg_temp.try($$SELECT fm_predict('h_base', ARRAY['u'], ARRAY['1'])$$);
SELECT pg_temp.try($$SELECT fm_drop_model('h_base')$$);
RESET ROLE;
GRANT SELECT ON fm_model TO regress_fmrec_reader;
SET ROLE regress_fmrec_reader;
SELECT pg_temp.try($$SELECT fm_predict('h_base', ARRAY['u'], ARRAY['1'])$$);
RESET ROLE;
GRANT SELECT ON fm_feature TO regress_fmrec_reader;
SET ROLE regress_fmrec_reader;
SELECT pg_temp.try($$SELECT fm_predict('h_base', ARRAY['u'], ARRAY['1'])$$);
SELECT pg_temp.try($$SELECT 1 FROM fm_train_from_table('base', 'rating', ARRAY['u'], 'h_base')$$);
RESET ROLE;
SELECT trained_at = :'base_at' AS base_untouched FROM fm_model WHERE model = 'h_base';
-- with exactly the documented grants, a role trains and replaces a model
SET ROLE regress_fmrec_trainer;
SELECT rows_used FROM fm_train_from_table('secret_summary', 'rating', ARRAY['u', 'i'], 'h_secret_view', k => 2, epochs => 2);
SELECT pg_temp.try($$SELECT fm_drop_model('h_secret_view')$$);
SELECT pg_temp.try($$SELECT fm_predict('h_secret_view', ARRAY['u'], ARRAY['1'])$$);
RESET ROLE;

DROP OWNED BY regress_fmrec_trainer, regress_fmrec_reader;
DROP ROLE regress_fmrec_trainer, regress_fmrec_reader;
SELECT count(fm_drop_model(model)) AS models_dropped FROM fm_model
 WHERE model LIKE 'h\_%' OR model = $m$'); DROP TABLE x; --$m$;
DROP SCHEMA hostile, "My ""Schema""" CASCADE;
