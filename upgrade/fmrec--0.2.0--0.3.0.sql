-- fmrec 0.2.0 -> 0.3.0 (ALTER EXTENSION fmrec UPDATE).  Written by hand; the
-- result must equal a fresh 0.3.0 install (test/t/080_upgrade.pl compares
-- the catalogs, comments included).
\echo Use "ALTER EXTENSION fmrec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- fm_model: feature kinds, training versions, the per-epoch curve ----
CREATE SEQUENCE @extschema@.fm_model_version_seq;
COMMENT ON SEQUENCE @extschema@.fm_model_version_seq IS 'numbers the trainings: fm_model.version';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_model_version_seq', '');
GRANT USAGE ON SEQUENCE @extschema@.fm_model_version_seq TO PUBLIC;
ALTER TABLE @extschema@.fm_model
	ADD COLUMN feature_kinds text[],
	ADD COLUMN version bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.fm_model_version_seq'::pg_catalog.regclass),
	ADD COLUMN history jsonb;

-- ---- [features] numeric and weighted features ----
-- fm_train_from_table gains its last argument feature_kinds (fm_model.feature_kinds
-- was added above).
DROP FUNCTION @extschema@.fm_train_from_table(regclass, name, name[], text, integer, integer, text,
	double precision, double precision, double precision, double precision, bigint, regclass, name[],
	regclass, double precision, double precision, double precision);
-- NULL for a hyper-parameter means "the method's default" (see README).
-- Runs with the caller's privileges (not SECURITY DEFINER).
CREATE FUNCTION fm_train_from_table(
	source              regclass,
	target              name,
	features            name[],
	model               text,
	k                   integer DEFAULT NULL,
	epochs              integer DEFAULT NULL,
	method              text DEFAULT 'sgd',
	learning_rate       double precision DEFAULT NULL,
	regularization      double precision DEFAULT NULL,
	init_stdev          double precision DEFAULT NULL,
	validation_fraction double precision DEFAULT 0.1,
	seed                bigint DEFAULT 42,
	validation          regclass DEFAULT NULL,
	item_features       name[] DEFAULT NULL,
	items               regclass DEFAULT NULL,
	positive_threshold  double precision DEFAULT NULL,
	unobserved_weight   double precision DEFAULT NULL,
	confidence          double precision DEFAULT NULL,
	feature_kinds       jsonb DEFAULT NULL)
	RETURNS fm_train_result
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fm_train_from_table IS
	'trains a degree-2 factorization machine on a table and stores it in fm_model/fm_feature; '
	'method ials learns a ranking from implicit feedback: item_features names the item columns '
	'(the first is the item key), items the catalogue (one row per item), positive_threshold which '
	'rows are positives (NULL: all), unobserved_weight the weight of every unobserved pair, '
	'confidence how a positive''s target raises its weight (1 + confidence * target); '
	'feature_kinds {"column": "kind"} overrides how a column is read: categorical, each, numeric '
	'or weighted (defaults: jsonb weighted, real/double precision/numeric numeric, else categorical)';


-- ---- [serving] serving calls in C ----
-- fm_predict and fm_item become C (same arguments: CREATE OR REPLACE keeps
-- what depends on them); their PL/pgSQL helpers go; the jsonb, row and
-- batch forms are new.
CREATE OR REPLACE FUNCTION @extschema@.fm_predict(model text, feature text[], value text[]) RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_arrays' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.fm_item(model text, feature text[], value text[],
                        OUT bias real, OUT embedding @extschema@.fm_vector)
	AS 'MODULE_PATHNAME', 'fm_item_arrays' LANGUAGE C STABLE PARALLEL SAFE;
DROP FUNCTION @extschema@._fm_query_compute(text, text[], text[]);
DROP FUNCTION @extschema@._fm_feature_sums(text, text[], text[]);
DROP FUNCTION @extschema@._fm_features_of(text, text[], text[]);
DROP FUNCTION @extschema@._fm_zero_vector(integer);

CREATE FUNCTION @extschema@.fm_predict(model text, context jsonb) RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_predict(text, jsonb) IS
	'full FM prediction for a context given as a jsonb object {"feature": value, ...}, clipped to the training target range';
CREATE FUNCTION @extschema@.fm_predict(model text, row1 "any", VARIADIC rows "any") RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_rows' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_predict(text, "any", "any") IS
	'full FM prediction for rows (e.g. of users and movies): their columns that are features of the model, clipped to the training target range';
CREATE FUNCTION @extschema@.fm_predict_batch(model text, contexts jsonb[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'fm_predict_batch' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_predict_batch(text, jsonb[]) IS
	'fm_predict of each jsonb context of an array (NULL for a NULL element), in one call';
CREATE FUNCTION @extschema@.fm_query(model text, context jsonb) RETURNS @extschema@.fm_vector
	AS 'MODULE_PATHNAME', 'fm_query_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_query(text, jsonb) IS
	'query vector of a user context given as a jsonb object: sum of its feature embeddings (cold start works with metadata only)';
CREATE FUNCTION @extschema@.fm_item(model text, item jsonb, OUT bias real, OUT embedding @extschema@.fm_vector)
	AS 'MODULE_PATHNAME', 'fm_item_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_item(text, jsonb) IS
	'bias and embedding of an item described by a jsonb object, for exact ORDER BY fm_score(...)';

-- ---- [fold-in] ----
-- The context (the user's metadata) is read by fm_item(model, jsonb): its
-- scalar and query vector, with the model's feature kinds; NULL and {} are
-- the empty context.
CREATE FUNCTION fm_fold_in(model text, context jsonb, items anyarray,
                           ratings real[] DEFAULT NULL,
                           regularization double precision DEFAULT NULL,
                           item_table regclass DEFAULT NULL)
	RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_fold_in(text, jsonb, anyarray, real[], double precision, regclass) IS
	'query vector of a user from the items they rated after the training (closed form against the item table''s vectors), for ORDER BY fm_score(...)';

-- ---- [items] item tables bound to their model; fm_topk fast by default ----
-- fm_materialize_items moves to a part of its own (src/sql/36_items.sql)
-- and gains version_column, key_column and register.
DROP FUNCTION @extschema@.fm_materialize_items(text, regclass, name, name);

-- The trigger of registered item tables; its arguments are (model,
-- bias_column, embedding_column, version_column or '', key_column).
-- BEFORE INSERT OR UPDATE FOR EACH ROW: an inserted row, or an updated row
-- whose values of the model's feature columns changed, gets its bias and
-- embedding (and version) computed from the current model.
CREATE FUNCTION @extschema@.fm_items_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.fm_items_trigger() IS
	'trigger of item tables registered by fm_materialize_items(): keeps new and changed item rows current';

-- The arguments of a trigger (pg_trigger.tgargs: NUL-terminated strings).
CREATE FUNCTION @extschema@._fm_trigger_args(tgargs bytea) RETURNS text[]
	AS 'MODULE_PATHNAME', 'fm_trigger_args' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._fm_trigger_args(bytea) IS
	'internal: the arguments of a trigger, from pg_trigger.tgargs';

-- One row per (model, registered item table), read from the triggers.
CREATE VIEW @extschema@.fm_item_tables AS
SELECT a[1] AS model,
       t.tgrelid::pg_catalog.regclass AS item_table,
       a[5]::pg_catalog.name AS key_column,
       a[2]::pg_catalog.name AS bias_column,
       a[3]::pg_catalog.name AS embedding_column,
       NULLIF(a[4], '')::pg_catalog.name AS version_column
  FROM pg_catalog.pg_trigger t
 CROSS JOIN LATERAL (SELECT @extschema@._fm_trigger_args(t.tgargs) AS a) args
 WHERE t.tgfoid OPERATOR(pg_catalog.=) '@extschema@.fm_items_trigger()'::pg_catalog.regprocedure
   AND t.tgnargs OPERATOR(pg_catalog.=) 5
   -- a partitioned table's trigger, not its clones on the partitions
   AND t.tgparentid OPERATOR(pg_catalog.=) 0;
COMMENT ON VIEW @extschema@.fm_item_tables IS
	'item tables registered with a model by fm_materialize_items(): every training of the model refreshes them';
GRANT SELECT ON @extschema@.fm_item_tables TO PUBLIC;

-- The number of the training a model comes from (fm_model.version): item
-- rows materialised with a version column can be compared with it.
CREATE FUNCTION @extschema@.fm_model_version(model text) RETURNS bigint
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (@extschema@._fm_model_row(model)).version
$$;
COMMENT ON FUNCTION @extschema@.fm_model_version(text) IS
	'the version (training number) of a model: what a materialised item row''s version column should hold';

-- 42703 unless every given column exists in rel.
CREATE FUNCTION @extschema@._fm_columns_must_exist(rel regclass, columns name[], hint text DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing name;
BEGIN
	SELECT c INTO missing FROM pg_catalog.unnest(columns) AS c
	 WHERE c IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
	                    WHERE a.attrelid OPERATOR(pg_catalog.=) rel
	                      AND a.attname OPERATOR(pg_catalog.=) c
	                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = pg_catalog.format('column "%s" of relation %s does not exist', missing, rel),
			HINT = coalesce(hint, '');
	END IF;
END $$;
COMMENT ON FUNCTION @extschema@._fm_columns_must_exist(regclass, name[], text) IS
	'internal: 42703 naming the first column of the list that the relation lacks';

-- Sets bias, embedding (and version) of every row of an item table from
-- the model's current parameters, through the SQL-level fm_item.  Returns
-- the number of rows updated.
CREATE FUNCTION @extschema@._fm_items_update(model text, item_table regclass, bias_column name,
                                 embedding_column name, version_column name)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
	updated bigint;
BEGIN
	d := @extschema@._fm_description_sql(model, item_table, 'i');
	IF version_column IS NULL THEN
		EXECUTE pg_catalog.format('UPDATE %s AS i SET (%I, %I) = '
		                          '(SELECT f.bias, f.embedding FROM @extschema@.fm_item($1, %s, %s) f)',
		               item_table, bias_column, embedding_column, d.features_sql, d.values_sql)
		USING model;
	ELSE
		EXECUTE pg_catalog.format('UPDATE %s AS i SET (%I, %I, %I) = '
		                          '(SELECT f.bias, f.embedding, $2 FROM @extschema@.fm_item($1, %s, %s) f)',
		               item_table, bias_column, embedding_column, version_column,
		               d.features_sql, d.values_sql)
		USING model, @extschema@.fm_model_version(model);
	END IF;
	GET DIAGNOSTICS updated = ROW_COUNT;
	RETURN updated;
END $$;
COMMENT ON FUNCTION @extschema@._fm_items_update(text, regclass, name, name, name) IS
	'internal: sets the bias, embedding and version columns of every item row from the model';

-- The column that identifies an item of the table: the given one, else the
-- single-column primary key if it is a feature of the model, else the first
-- feature of the model (in fm_model.features order) that the table has.
CREATE FUNCTION @extschema@._fm_items_key_column(model text, item_table regclass, key_column name)
	RETURNS name
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	features text[] := (@extschema@._fm_model_row(model)).features;
	result name;
BEGIN
	IF key_column IS NOT NULL THEN
		PERFORM @extschema@._fm_columns_must_exist(item_table, ARRAY[key_column]);
		RETURN key_column;
	END IF;
	SELECT a.attname INTO result
	  FROM pg_catalog.pg_index x
	  JOIN pg_catalog.pg_attribute a
	    ON a.attrelid OPERATOR(pg_catalog.=) x.indrelid AND a.attnum OPERATOR(pg_catalog.=) x.indkey[0]
	 WHERE x.indrelid OPERATOR(pg_catalog.=) item_table AND x.indisprimary
	   AND x.indnatts OPERATOR(pg_catalog.=) 1
	   AND EXISTS (SELECT 1 FROM pg_catalog.unnest(features) AS f(name)
	                WHERE f.name OPERATOR(pg_catalog.=) a.attname::pg_catalog.text);
	IF result IS NOT NULL THEN
		RETURN result;
	END IF;
	SELECT a.attname INTO result
	  FROM pg_catalog.unnest(features) WITH ORDINALITY AS f(name, ord)
	  JOIN pg_catalog.pg_attribute a
	    ON a.attrelid OPERATOR(pg_catalog.=) item_table AND a.attname OPERATOR(pg_catalog.=) f.name
	   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	 ORDER BY f.ord LIMIT 1;
	IF result IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = pg_catalog.format('relation %s has none of the feature columns of model "%s"', item_table, model),
			DETAIL = pg_catalog.format('The model''s features are %s.', pg_catalog.array_to_string(features, ', ')),
			HINT = 'Item vectors are computed from the feature columns the item table shares with the model.';
	END IF;
	RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@._fm_items_key_column(text, regclass, name) IS
	'internal: the column identifying an item (given, else a primary key that is a feature, else the first feature present)';

-- Removes the registrations of a model: on one item table, or on every
-- table (item_table => NULL).  Needs ownership of the tables (DROP
-- TRIGGER).  Returns the number of registrations removed.
CREATE FUNCTION @extschema@.fm_unregister_items(model text, item_table regclass DEFAULT NULL)
	RETURNS integer
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	n integer := 0;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'model must not be NULL';
	END IF;
	FOR r IN
		SELECT t.tgrelid::pg_catalog.regclass AS rel, t.tgname
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgfoid OPERATOR(pg_catalog.=) '@extschema@.fm_items_trigger()'::pg_catalog.regprocedure
		   AND t.tgnargs OPERATOR(pg_catalog.=) 5 AND t.tgparentid OPERATOR(pg_catalog.=) 0
		   AND (@extschema@._fm_trigger_args(t.tgargs))[1] OPERATOR(pg_catalog.=) fm_unregister_items.model
		   AND (fm_unregister_items.item_table IS NULL
		        OR t.tgrelid OPERATOR(pg_catalog.=) fm_unregister_items.item_table)
		 ORDER BY t.tgrelid
	LOOP
		EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', r.tgname, r.rel);
		n := n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.fm_unregister_items(text, regclass) IS
	'removes a model''s item-table registrations (one table, or all with item_table => NULL); trainings stop refreshing them';

-- Fills the bias and embedding columns of an item table from a model, so
-- that ORDER BY fm_score(query, embedding, bias) DESC ranks exactly as the
-- full model.  The item features are the model's feature columns present in
-- the table (e.g. movie_id and genres).  version_column (bigint), when
-- given, receives fm_model_version(model).  register (default): the table
-- is registered with the model (see fm_item_tables): every later training
-- of the model refreshes it in the training's transaction, and inserted or
-- updated rows get their vectors from the current model.  Registration
-- needs the TRIGGER privilege on a plain or partitioned table.  Returns the
-- number of rows updated.
CREATE FUNCTION @extschema@.fm_materialize_items(model text, item_table regclass,
                                     bias_column name DEFAULT 'bias',
                                     embedding_column name DEFAULT 'embedding',
                                     version_column name DEFAULT NULL,
                                     key_column name DEFAULT NULL,
                                     register boolean DEFAULT true)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	key name;
	trigger_name text;
	updated bigint;
BEGIN
	PERFORM @extschema@._fm_model_row(model);
	PERFORM @extschema@._fm_relation_must_exist(item_table);
	IF bias_column IS NULL OR embedding_column IS NULL OR register IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'bias_column, embedding_column and register must not be NULL';
	END IF;
	PERFORM @extschema@._fm_columns_must_exist(item_table, ARRAY[bias_column, embedding_column],
		pg_catalog.format('ALTER TABLE %s ADD COLUMN %I real, ADD COLUMN %I fm_vector;',
		                  item_table, bias_column, embedding_column));
	IF version_column IS NOT NULL THEN
		PERFORM @extschema@._fm_columns_must_exist(item_table, ARRAY[version_column],
			pg_catalog.format('ALTER TABLE %s ADD COLUMN %I bigint;', item_table, version_column));
	END IF;
	IF register THEN
		key := @extschema@._fm_items_key_column(model, item_table, key_column);
		SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) item_table;
		IF kind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
				MESSAGE = pg_catalog.format('cannot register "%s" with model "%s": only tables can be registered', item_table, model),
				HINT = 'Use register => false to fill the columns without registering: later trainings will not refresh them.';
		END IF;
		IF NOT pg_catalog.has_table_privilege(item_table, 'TRIGGER') THEN
			RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
				MESSAGE = pg_catalog.format('permission denied to register "%s" with model "%s"', item_table, model),
				DETAIL = 'Registering creates a trigger on the table, which needs the TRIGGER privilege.',
				HINT = 'Use register => false to fill the columns without registering: later trainings will not refresh them, or have the table''s owner register it.';
		END IF;
	ELSIF key_column IS NOT NULL THEN
		PERFORM @extschema@._fm_columns_must_exist(item_table, ARRAY[key_column]);
	END IF;
	updated := @extschema@._fm_items_update(model, item_table, bias_column, embedding_column, version_column);
	IF register THEN
		PERFORM @extschema@.fm_unregister_items(model, item_table);
		trigger_name := 'fm_items_' OPERATOR(pg_catalog.||) model;
		IF pg_catalog.octet_length(trigger_name) OPERATOR(pg_catalog.>) 63 THEN
			trigger_name := 'fm_items_' OPERATOR(pg_catalog.||) pg_catalog.md5(model);
		END IF;
		EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
		                          'EXECUTE FUNCTION @extschema@.fm_items_trigger(%L, %L, %L, %L, %L)',
		               trigger_name, item_table, model, bias_column, embedding_column,
		               coalesce(version_column, ''), key);
	END IF;
	RETURN updated;
END $$;
COMMENT ON FUNCTION @extschema@.fm_materialize_items(text, regclass, name, name, name, name, boolean) IS
	'fills an item table''s bias and embedding (and version) columns from a model and registers the table so that every training refreshes it';

-- fm_drop_model also removes the model's registrations
CREATE OR REPLACE FUNCTION @extschema@.fm_drop_model(model text, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dropped boolean;
BEGIN
	DELETE FROM @extschema@.fm_model m WHERE m.model OPERATOR(pg_catalog.=) fm_drop_model.model;
	IF NOT FOUND AND NOT if_exists THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('model "%s" does not exist', model);
	END IF;
	dropped := FOUND;
	-- its item tables (fm_item_tables): their triggers go with the model
	PERFORM @extschema@.fm_unregister_items(model);
	RETURN dropped;
END $$;
COMMENT ON FUNCTION @extschema@.fm_drop_model(text, boolean) IS 'deletes a model, its features and its item-table registrations; false (or an error) when it does not exist';

-- ---- [progress] training you can watch ----
-- One row per running training, from shared memory (src/fm_progress.c).
CREATE FUNCTION @extschema@._fm_training_progress(
	OUT pid             integer,
	OUT datname         name,
	OUT usename         name,
	OUT phase           text,            -- reading, training, writing
	OUT model           text,
	OUT method          text,
	OUT epoch           integer,         -- epochs (ALS, MCMC: iterations) done
	OUT epochs          integer,         -- epochs asked for
	OUT rows_read       bigint,          -- source, validation and items rows read so far
	OUT train_rmse      double precision,    -- of the last epoch (rating methods)
	OUT validation_rmse double precision,
	OUT train_loss      double precision,    -- ials, bpr
	OUT validation_ndcg double precision,    -- ials, bpr: NDCG@10
	OUT epoch_seconds   double precision,    -- wall time of the last epoch
	OUT started_at      timestamptz,
	OUT changed_at      timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'fm_training_progress' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._fm_training_progress() IS
	'internal: the rows of the view fm_training_progress';

CREATE VIEW @extschema@.fm_training_progress AS SELECT * FROM @extschema@._fm_training_progress();
COMMENT ON VIEW @extschema@.fm_training_progress IS
	'one row per running training: phase, epoch of epochs, rows read, the last epoch''s metrics '
	'(on PostgreSQL 15 and 16 needs shared_preload_libraries = ''fmrec'')';
GRANT SELECT ON @extschema@.fm_training_progress TO PUBLIC;
