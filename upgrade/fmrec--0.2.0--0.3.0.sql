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

-- ---- [serving] serving calls in C ----

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
