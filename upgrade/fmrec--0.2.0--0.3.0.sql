-- fmrec 0.2.0 -> 0.3.0 (ALTER EXTENSION fmrec UPDATE).  Written by hand; the
-- result must equal a fresh 0.3.0 install (test/t/080_upgrade.pl compares
-- the catalogs, comments included).
\echo Use "ALTER EXTENSION fmrec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- fm_model: feature kinds, training versions, the per-epoch curve ----
CREATE SEQUENCE @extschema@.fm_model_version_seq;
COMMENT ON SEQUENCE @extschema@.fm_model_version_seq IS 'numbers the trainings: fm_model.version';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_model_version_seq', '');
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

-- ---- [fold-in] ----

-- ---- [items] item tables bound to their model; fm_topk fast by default ----

-- ---- [progress] training you can watch ----
