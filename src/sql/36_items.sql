------------------------------------------------------------------------------
-- Item tables bound to their model.  fm_materialize_items fills an item
-- table's bias and embedding columns from a model and, by default, registers
-- the table with the model.  The registration is a trigger on the item table
-- (src/fm_items.c), not a row in a table of fmrec: it follows the table
-- through renames, disappears with it, is dumped and restored with it by
-- pg_dump, keeps inserted and updated item rows current, and stores no
-- regclass in a user table (pg_upgrade refuses those).  Every training of
-- the model refreshes the registered tables in its own transaction
-- (fm_items_refresh, called by fm_store_write): readers see the old model
-- with the old vectors, or the new model with the new vectors.
------------------------------------------------------------------------------

-- The trigger of registered item tables; its arguments are (model,
-- bias_column, embedding_column, version_column or '', key_column).
-- BEFORE INSERT OR UPDATE FOR EACH ROW: an inserted row, or an updated row
-- whose values of the model's feature columns changed, gets its bias and
-- embedding (and version) computed from the current model.
CREATE FUNCTION fm_items_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION fm_items_trigger() IS
	'trigger of item tables registered by fm_materialize_items(): keeps new and changed item rows current';

-- The arguments of a trigger (pg_trigger.tgargs: NUL-terminated strings).
CREATE FUNCTION _fm_trigger_args(tgargs bytea) RETURNS text[]
	AS 'MODULE_PATHNAME', 'fm_trigger_args' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION _fm_trigger_args(bytea) IS
	'internal: the arguments of a trigger, from pg_trigger.tgargs';

-- One row per (model, registered item table), read from the triggers.
CREATE VIEW fm_item_tables AS
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
COMMENT ON VIEW fm_item_tables IS
	'item tables registered with a model by fm_materialize_items(): every training of the model refreshes them';
GRANT SELECT ON fm_item_tables TO PUBLIC;

-- The number of the training a model comes from (fm_model.version): item
-- rows materialised with a version column can be compared with it.
CREATE FUNCTION fm_model_version(model text) RETURNS bigint
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (@extschema@._fm_model_row(model)).version
$$;
COMMENT ON FUNCTION fm_model_version(text) IS
	'the version (training number) of a model: what a materialised item row''s version column should hold';

-- 42703 unless every given column exists in rel.
CREATE FUNCTION _fm_columns_must_exist(rel regclass, columns name[], hint text DEFAULT NULL)
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
COMMENT ON FUNCTION _fm_columns_must_exist(regclass, name[], text) IS
	'internal: 42703 naming the first column of the list that the relation lacks';

-- Sets bias, embedding (and version) of every row of an item table from
-- the model's current parameters, through the SQL-level fm_item.  Returns
-- the number of rows updated.
CREATE FUNCTION _fm_items_update(model text, item_table regclass, bias_column name,
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
COMMENT ON FUNCTION _fm_items_update(text, regclass, name, name, name) IS
	'internal: sets the bias, embedding and version columns of every item row from the model';

-- The column that identifies an item of the table: the given one, else the
-- single-column primary key if it is a feature of the model, else the first
-- feature of the model (in fm_model.features order) that the table has.
CREATE FUNCTION _fm_items_key_column(model text, item_table regclass, key_column name)
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
COMMENT ON FUNCTION _fm_items_key_column(text, regclass, name) IS
	'internal: the column identifying an item (given, else a primary key that is a feature, else the first feature present)';

-- Removes the registrations of a model: on one item table, or on every
-- table (item_table => NULL).  Needs ownership of the tables (DROP
-- TRIGGER).  Returns the number of registrations removed.
CREATE FUNCTION fm_unregister_items(model text, item_table regclass DEFAULT NULL)
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
COMMENT ON FUNCTION fm_unregister_items(text, regclass) IS
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
CREATE FUNCTION fm_materialize_items(model text, item_table regclass,
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
COMMENT ON FUNCTION fm_materialize_items(text, regclass, name, name, name, name, boolean) IS
	'fills an item table''s bias and embedding (and version) columns from a model and registers the table so that every training refreshes it';
