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

-- ---- [serving] serving calls in C ----

-- ---- [fold-in] ----

-- ---- [items] item tables bound to their model; fm_topk fast by default ----

-- ---- [progress] training you can watch ----
