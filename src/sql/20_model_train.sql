------------------------------------------------------------------------------
-- Where models live.  Column names are part of the public API.
-- Both tables are dumped by pg_dump (they hold user data, not extension
-- definitions).  A training replaces a model's rows in its own transaction,
-- so readers see the old model or the new one, never a mix.
------------------------------------------------------------------------------

CREATE SEQUENCE fm_model_version_seq;
COMMENT ON SEQUENCE fm_model_version_seq IS 'numbers the trainings: fm_model.version';
-- Whoever may write fm_model (GRANT INSERT) must be able to draw a version;
-- drawing numbers is harmless, setval (UPDATE) stays the owner's.
GRANT USAGE ON SEQUENCE fm_model_version_seq TO PUBLIC;

CREATE TABLE fm_model (
	model           text PRIMARY KEY,
	method          text NOT NULL,
	k               integer NOT NULL,
	w0              double precision NOT NULL,
	target_min      double precision NOT NULL,
	target_max      double precision NOT NULL,
	source          text NOT NULL,
	target          text NOT NULL,
	features        text[] NOT NULL,
	params          jsonb NOT NULL,
	epochs          integer NOT NULL,
	rows_used       bigint NOT NULL,
	rows_skipped    bigint NOT NULL,
	n_features      integer NOT NULL,
	train_rmse      double precision,
	validation_rmse double precision,
	seconds         double precision NOT NULL,
	trained_at      timestamptz NOT NULL,
	-- 0.3.0: how each feature column is read ('categorical', 'each',
	-- 'numeric', 'weighted'), parallel to features; NULL for models trained
	-- before 0.3.0 (every column categorical, an array's elements 1/len each)
	feature_kinds   text[],
	-- a new number at every training: item rows materialised from a model
	-- can say which training they came from (fm_model_version_seq)
	version         bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.fm_model_version_seq'::pg_catalog.regclass),
	-- the per-epoch curve: [{"epoch": 1, "train_rmse": ..., ...}, ...]
	history         jsonb
);
COMMENT ON TABLE fm_model IS 'one row per trained factorization machine';

CREATE TABLE fm_feature (
	model     text NOT NULL REFERENCES fm_model (model) ON DELETE CASCADE,
	feature   text NOT NULL,
	value     text NOT NULL,
	bias      real NOT NULL,
	embedding fm_vector NOT NULL,
	PRIMARY KEY (model, feature, value)
);
COMMENT ON TABLE fm_feature IS 'one row per feature value of a model: its bias w_i and embedding v_i';

SELECT pg_catalog.pg_extension_config_dump('fm_model', '');
SELECT pg_catalog.pg_extension_config_dump('fm_model_version_seq', '');
SELECT pg_catalog.pg_extension_config_dump('fm_feature', '');

------------------------------------------------------------------------------
-- Training
------------------------------------------------------------------------------

CREATE TYPE fm_train_result AS (
	model           text,
	method          text,
	k               integer,
	epochs          integer,
	rows_used       bigint,
	rows_skipped    bigint,
	n_features      integer,
	train_rmse      double precision,
	validation_rmse double precision,
	seconds         double precision,
	validation_ndcg double precision     -- ials: NDCG@10 of the held-out positives
);

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

-- 42P01 for a regclass that names no relation (OID 0 prints as '-').
CREATE FUNCTION _fm_relation_must_exist(rel regclass) RETURNS void
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF rel IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_table',
			MESSAGE = pg_catalog.format('relation with OID %s does not exist', coalesce(rel::pg_catalog.oid::pg_catalog.text, 'NULL'));
	END IF;
END $$;

CREATE FUNCTION fm_drop_model(model text, if_exists boolean DEFAULT false) RETURNS boolean
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
