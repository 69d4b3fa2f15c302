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

-- ---- [items] item tables bound to their model; fm_topk fast by default ----

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
