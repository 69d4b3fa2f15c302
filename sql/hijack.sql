-- No object a user plants in a schema they can write may run inside fmrec.
--
-- 1. Read every SQL and PL/pgSQL body of the extension from the catalog and
--    list the names it calls without a schema: there must be none.
-- 2. For every function and operator name those bodies use, plant in public
--    and in the caller's own schema functions and operators of that name
--    with every signature pg_catalog has for it (concrete types for
--    polymorphic ones) and all-text variants (what an untyped literal would
--    prefer); a plant that runs raises an error.  The caller's search_path
--    puts both schemas before pg_catalog, so that SQL built in C without a
--    schema would pick them too.
-- 3. Call every fmrec function, in one transaction, and check with
--    track_functions that each was called: none may fail.
-- The lists are computed from the catalog, so the test follows the code.
\i sql/include/try.sql
SET client_min_messages = warning;

-- 1. unqualified calls in the bodies
CREATE TEMP TABLE fmrec_bodies AS
SELECT p.oid::regprocedure AS fn,
       -- comments are not code
       regexp_replace(p.prosrc, '--[^\n]*', '', 'g') AS body
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'fmrec'
 WHERE p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'));
SELECT count(*) >= 5 AS bodies_found FROM fmrec_bodies;

-- words followed by "(" with no schema before them, less the SQL syntax
-- that looks like a call (keywords, column alias lists, PL/pgSQL)
CREATE TEMP TABLE sql_syntax(word) AS VALUES
  ('if'), ('in'), ('exists'), ('values'), ('and'), ('or'), ('not'), ('as'), ('on'),
  ('using'), ('over'), ('from'), ('coalesce'), ('greatest'), ('least'), ('nullif'),
  ('when'), ('then'), ('lateral'), ('filter'), ('cast'), ('operator'), ('set'),
  ('conflict'), ('into'), ('table'), ('with'), ('select'), ('where'), ('returning'),
  ('array'), ('row'), ('materialized'), ('join'), ('by'), ('elsif'), ('return'), ('query');
SELECT b.fn, m[1] AS unqualified_call
  FROM fmrec_bodies b,
       regexp_matches(b.body, '(?:^|[^A-Za-z0-9_$."])([A-Za-z_][A-Za-z0-9_$]*)\s*\(', 'g') AS m
 WHERE lower(m[1]) NOT IN (SELECT word FROM sql_syntax)
   -- table aliases with column lists: "AS u(f, v)", "f(name, ord)" after AS
   AND b.body !~ ('\mAS\s+' || m[1] || '\s*\(')
 ORDER BY 1, 2;

-- every operator written without OPERATOR(schema.op), after removing what
-- only looks like one: string literals, format() placeholders, PL/pgSQL's
-- "OPTION = value", "GET DIAGNOSTICS x =" and ":=", "SELECT *", "count(*)",
-- UPDATE's "SET x ="
CREATE FUNCTION pg_temp.operator_code(body text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
	       regexp_replace(regexp_replace(body,
	         'OPERATOR\([a-z_@.]+\.[^)]+\)', ' ', 'g'),
	         '''([^'']|'''')*''', ' ', 'g'),
	         '%([0-9]+\$)?[sIL%]', ' ', 'g'),
	         '\m(ERRCODE|MESSAGE|HINT|DETAIL|DIAGNOSTICS\s+[a-z_]+)\s*=|:=', ' ', 'g'),
	         '\(\s*\*\s*\)|\*\s+(FROM|INTO)\M', ' ', 'g'),
	         '\mSET\s*(\([^)]*\)|[a-z_]+)\s*=', ' ', 'g'),
	         '::|\$[a-z]*\$|\$[0-9]+', ' ', 'g')
$$;
SELECT b.fn, m[1] AS unqualified_operator
  FROM fmrec_bodies b,
       regexp_matches(pg_temp.operator_code(b.body), '([-+*/<>=~!@#%^&|`?]+)', 'g') AS m
 ORDER BY 1, 2;

-- 2. the plants
CREATE ROLE regress_fmrec_planter;
GRANT CREATE ON SCHEMA public TO regress_fmrec_planter;
SELECT current_user AS caller \gset
CREATE SCHEMA :"caller";

-- a plant: its body raises
CREATE FUNCTION pg_temp.plant_sql(schema_name text, fn text, args text[], result regtype) RETURNS text
LANGUAGE sql AS $$
	SELECT format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
	              schema_name, fn, array_to_string(args, ', '), result,
	              format('BEGIN RAISE EXCEPTION ''planted %s.%s(%s) ran''; END', schema_name, fn,
	                     array_to_string(args, ', ')))
$$;

-- names of the functions and operators fmrec's bodies use
CREATE TEMP TABLE used_functions AS
SELECT DISTINCT lower(m[1]) AS name
  FROM fmrec_bodies b, regexp_matches(b.body, '([A-Za-z_][A-Za-z0-9_]*)\s*\(', 'g') AS m
 WHERE lower(m[1]) NOT IN (SELECT word FROM sql_syntax);
CREATE TEMP TABLE used_operators AS
SELECT DISTINCT m[1] AS name
  FROM fmrec_bodies b, regexp_matches(b.body, 'OPERATOR\([a-z_@.]+\.([^)]+)\)', 'g') AS m
UNION SELECT '='
UNION SELECT '<>';

-- signatures to plant: pg_catalog's own (concrete types for polymorphic
-- ones), and all-text of each arity
CREATE TEMP TABLE concrete AS
SELECT poly::regtype, concrete::regtype FROM (VALUES
  ('anyarray', 'text[]'), ('anycompatiblearray', 'text[]'), ('anyelement', 'text'),
  ('anycompatible', 'text'), ('anynonarray', 'text'), ('"any"', 'text')) v(poly, concrete);
CREATE TEMP TABLE plant_signatures AS
SELECT DISTINCT f.name, s.args, s.result
  FROM used_functions f
  JOIN pg_proc p ON p.proname = f.name AND p.pronamespace = 'pg_catalog'::regnamespace
                AND p.prokind = 'f' AND p.proargtypes::oid[] <> '{}'
  CROSS JOIN LATERAL (
    SELECT array_agg(coalesce(c.concrete, t.typ)::text ORDER BY t.ord) AS args,
           coalesce((SELECT concrete FROM concrete WHERE poly = p.prorettype::regtype), p.prorettype::regtype) AS result
      FROM unnest(p.proargtypes::regtype[]) WITH ORDINALITY AS t(typ, ord)
      LEFT JOIN concrete c ON c.poly = t.typ) s
 WHERE NOT (s.args && ARRAY['internal', 'cstring', 'record', '"char"'])
   AND s.result NOT IN ('internal'::regtype, 'record'::regtype, 'trigger'::regtype, 'void'::regtype)
   AND NOT p.proretset
UNION
SELECT DISTINCT f.name, array_fill('text'::text, ARRAY[p.pronargs]), 'text'::regtype
  FROM used_functions f
  JOIN pg_proc p ON p.proname = f.name AND p.pronamespace = 'pg_catalog'::regnamespace
                AND p.prokind = 'f' AND p.pronargs > 0;
-- the statements, then run as the planter (public) and as the caller
CREATE TEMP TABLE plant_statements AS
SELECT 'public' AS schema_name, pg_temp.plant_sql('public', name, args, result) AS sql FROM plant_signatures
UNION ALL
SELECT current_user, pg_temp.plant_sql(current_user, name, args, result) FROM plant_signatures
UNION ALL
-- operators: every pg_catalog signature of each symbol fmrec uses
SELECT 'public', pg_temp.plant_sql('public', 'planted_op_' || n, ARRAY[l::text, r::text], res)
       || format('; CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)',
                 oprname, l, r, 'planted_op_' || n)
  FROM (SELECT op.oprname, op.oprleft::regtype AS l, op.oprright::regtype AS r, op.oprresult::regtype AS res,
               row_number() OVER (ORDER BY op.oid) AS n
          FROM pg_operator op JOIN used_operators u ON u.name = op.oprname
         WHERE op.oprnamespace = 'pg_catalog'::regnamespace AND op.oprleft <> 0
           AND op.oprleft::regtype::text NOT LIKE 'any%' AND op.oprright::regtype::text NOT LIKE 'any%'
           AND op.oprresult::regtype::text NOT IN ('internal')) o;
DO $$
DECLARE
	planter text[] := ARRAY(SELECT sql FROM plant_statements WHERE schema_name = 'public');
	own text[] := ARRAY(SELECT sql FROM plant_statements WHERE schema_name <> 'public');
	stmt text;
BEGIN
	FOREACH stmt IN ARRAY own LOOP
		BEGIN EXECUTE stmt;
		EXCEPTION WHEN duplicate_function OR duplicate_object OR invalid_function_definition
		               OR datatype_mismatch OR feature_not_supported OR invalid_object_definition THEN NULL;
		END;
	END LOOP;
	SET LOCAL ROLE regress_fmrec_planter;
	FOREACH stmt IN ARRAY planter LOOP
		BEGIN EXECUTE stmt;
		EXCEPTION WHEN duplicate_function OR duplicate_object OR invalid_function_definition
		               OR datatype_mismatch OR feature_not_supported OR invalid_object_definition THEN NULL;
		END;
	END LOOP;
	RESET ROLE;
END $$;
SELECT count(*) > 100 AS many_planted,
       count(*) FILTER (WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'cardinality') > 0 AS cardinality_planted,
       count(*) FILTER (WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'format') > 0 AS format_planted
  FROM pg_proc p WHERE p.pronamespace IN ('public'::regnamespace, :'caller'::regnamespace)
   AND p.prosrc LIKE '%planted%';
SELECT count(*) > 20 AS operators_planted FROM pg_operator WHERE oprnamespace = 'public'::regnamespace
   AND oprcode::text LIKE '%planted_op_%';
-- a plant does run when a caller names it: the trap is armed
SELECT pg_temp.try($$SELECT public.cardinality(ARRAY['a']::text[])$$);

-- 3. every fmrec function, called with the plants first in the search path
-- (the data first, with the normal search path; the statements below name
-- their own operators with OPERATOR(pg_catalog.x), or the trap would catch
-- the test itself)
CREATE TABLE h_ratings (user_id int, movie_id int, gender text, genres text[], rating real);
INSERT INTO h_ratings
SELECT u, m, CASE WHEN u % 2 = 0 THEN 'F' ELSE 'M' END, ARRAY['g' || (m % 3), 'h' || (m % 2)], 1 + (u * m) % 5
  FROM generate_series(1, 30) u, generate_series(1, 20) m WHERE (u + m) % 3 = 0;
CREATE TABLE h_users AS SELECT DISTINCT user_id, gender FROM h_ratings;
CREATE TABLE h_movies AS SELECT DISTINCT movie_id AS id, movie_id, genres FROM h_ratings;
ALTER TABLE h_movies ADD COLUMN bias real, ADD COLUMN embedding fm_vector, ADD COLUMN fm_version bigint;
SET search_path = "$user", public, pg_catalog;
SET track_functions = 'all';
BEGIN;
SELECT model, method, k FROM fm_train_from_table('h_ratings', 'rating',
       ARRAY['user_id', 'movie_id', 'gender', 'genres'], 'h_model', k => 4, epochs => 3);
SELECT fm_materialize_items('h_model', 'h_movies', version_column => 'fm_version');
SELECT count(*) AS registered FROM fm_item_tables WHERE model OPERATOR(pg_catalog.=) 'h_model';
SELECT fm_dims(fm_fold_in('h_model', '{"gender": "F"}', ARRAY[3, 6], ARRAY[5, 1]::real[])) AS fold_in_dims;
UPDATE h_movies SET genres = ARRAY['g0', 'h0'] WHERE movie_id OPERATOR(pg_catalog.=) 1;
SELECT model FROM fm_train_from_table('h_ratings', 'rating',
       ARRAY['user_id', 'movie_id', 'gender', 'genres'], 'h_model', k => 4, epochs => 3);
SELECT count(*) AS current FROM h_movies WHERE fm_version OPERATOR(pg_catalog.=) fm_model_version('h_model');
SELECT fm_unregister_items('h_model', 'h_movies');
SELECT fm_predict('h_model', ARRAY['user_id', 'movie_id'], ARRAY['1', '2']) IS NOT NULL AS predicted;
SELECT fm_dims(fm_query('h_model', ARRAY['gender'], ARRAY['F'])) AS query_dims;
SELECT (fm_item('h_model', ARRAY['movie_id'], ARRAY['2'])).bias IS NOT NULL AS item;
SELECT fm_predict('h_model', '{"user_id": 1, "movie_id": 2, "genres": ["g1"]}') IS NOT NULL AS predicted_jsonb;
SELECT fm_predict('h_model', u, m) IS NOT NULL AS predicted_rows
  FROM h_users u, h_movies m WHERE u.user_id OPERATOR(pg_catalog.=) 1 AND m.movie_id OPERATOR(pg_catalog.=) 2;
SELECT pg_catalog.cardinality(fm_predict_batch('h_model', ARRAY['{"user_id": 1}', '{"movie_id": 2}']::jsonb[])) AS batch;
SELECT fm_dims(fm_query('h_model', '{"gender": "F"}')) AS query_jsonb_dims;
SELECT (fm_item('h_model', '{"movie_id": 2}')).bias IS NOT NULL AS item_jsonb;
SELECT (_fm_model_row('h_model')).k;
SELECT (_fm_description_sql('h_model', 'h_movies', 'i')).features_sql IS NOT NULL AS described;
SELECT evaluated_users OPERATOR(pg_catalog.>) 0 AS evaluated FROM fm_evaluate('h_model', 'h_ratings', 'h_ratings', 'h_users', 'h_movies');
SELECT evaluated_users OPERATOR(pg_catalog.>) 0 AS cold_evaluated FROM fm_evaluate('h_model', 'h_ratings',
       'h_ratings', 'h_users', 'h_movies', user_features => ARRAY['gender']);
SELECT evaluated_users OPERATOR(pg_catalog.>) 0 AS popularity_evaluated
  FROM fm_evaluate_popularity('h_ratings', 'h_ratings', 'h_movies', group_by => ARRAY['gender'], user_table => 'h_users');
SELECT precision_at_k FROM fm_ranking_metrics(ARRAY[1, 2]::bigint[], ARRAY[2]::bigint[], 2);
SELECT fm_topk_track('h_movies');
UPDATE h_movies SET bias = bias WHERE movie_id OPERATOR(pg_catalog.=) 1;
TRUNCATE h_users;
SELECT count(*) FROM fm_topk(fm_query('h_model', ARRAY['gender'], ARRAY['F']), 'h_movies', 3);
SELECT count(*) OPERATOR(pg_catalog.>) 0 AS cached FROM fm_topk_cache();
SELECT fm_topk_cache_reset();
SET LOCAL client_min_messages = error;	-- PostgreSQL 15/16 without shared_preload_libraries warn
SELECT count(*) OPERATOR(pg_catalog.>=) 0 AS progress_readable FROM fm_training_progress;
SET LOCAL client_min_messages = warning;
SELECT fm_topk_untrack('h_movies');
SELECT _fm_topk_version_mark('h_movies', false);
SELECT count(*) AS top_1 FROM (SELECT movie_id FROM h_movies
 ORDER BY fm_score(fm_query('h_model', ARRAY['gender'], ARRAY['F']), embedding, bias) DESC NULLS LAST LIMIT 1) s;
CREATE INDEX h_movies_ivf ON h_movies USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 2);
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM (SELECT movie_id FROM h_movies
 ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(fm_query('h_model', ARRAY['gender'], ARRAY['F'])) LIMIT 2) s;
SELECT fm_negative_inner_product('[1,2]', '[3,4]'), fm_dot('[1,2]', '[3,4]'), fm_cosine('[1,0]', '[1,0]'),
       fm_norm('[3,4]'), fm_vector_add('[1]', '[2]'), fm_vector_sub('[1]', '[2]'),
       fm_vector_mul_scalar('[1]', 2), fm_scalar_mul_vector(2, '[1]'), fm_vector_eq('[1]', '[1]'),
       fm_vector_ne('[1]', '[1]'), fm_vector_to_real_array('[1]'), fm_vector('[1,2]', 2, false),
       fm_vector_from_array('{1}'::real[], -1, false), fm_vector_from_array('{1}'::float8[], -1, false),
       fm_vector_from_array('{1}'::int[], -1, false), fm_vector_in('[5]', 0, -1), fm_vector_out('[6]'),
       fm_vector_send('[7]'), fm_vector_typmod_in('{3}'), fm_sum(v), fm_avg(v),
       fm_vector_lt('[1]', '[2]'), fm_vector_le('[1]', '[2]'), fm_vector_gt('[1]', '[2]'),
       fm_vector_ge('[1]', '[2]'), fm_vector_cmp('[1]', '[2]'), fm_vector_hash('[1]') IS NOT NULL,
       fm_vector_hash_extended('[1]', 1) IS NOT NULL
  FROM (VALUES ('[1]'::fm_vector), ('[3]')) t(v);
SELECT fm_drop_model('h_model');
-- which functions of fmrec were not called (the implicit ones are listed:
-- type I/O, aggregate and planner support, the index handler, which the
-- server calls directly)
SELECT p.oid::regprocedure AS not_called
  FROM pg_proc p
  JOIN pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_proc'::regclass
                   AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
  JOIN pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid AND e.extname OPERATOR(pg_catalog.=) 'fmrec'
 WHERE p.prokind OPERATOR(pg_catalog.=) 'f'
   AND coalesce(pg_catalog.pg_stat_get_xact_function_calls(p.oid), 0) OPERATOR(pg_catalog.=) 0
 ORDER BY 1;
ROLLBACK;
RESET track_functions;
RESET search_path;

DROP SCHEMA :"caller" CASCADE;
DROP OWNED BY regress_fmrec_planter;
DROP ROLE regress_fmrec_planter;
