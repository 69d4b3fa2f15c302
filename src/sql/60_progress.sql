------------------------------------------------------------------------------
-- Training you can watch: one row per training running on the server, read
-- from shared memory (src/fm_progress.c).  On PostgreSQL 15 and 16 it needs
-- shared_preload_libraries = 'fmrec' (else it is empty and warns why).  As
-- pg_stat_activity: another role's trainings show only pid, datname,
-- usename and phase, unless the reader has the privileges of that role or
-- of pg_read_all_stats.
------------------------------------------------------------------------------

CREATE FUNCTION _fm_training_progress(
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
COMMENT ON FUNCTION _fm_training_progress() IS
	'internal: the rows of the view fm_training_progress';

CREATE VIEW fm_training_progress AS SELECT * FROM _fm_training_progress();
COMMENT ON VIEW fm_training_progress IS
	'one row per running training: phase, epoch of epochs, rows read, the last epoch''s metrics '
	'(on PostgreSQL 15 and 16 needs shared_preload_libraries = ''fmrec'')';
GRANT SELECT ON fm_training_progress TO PUBLIC;
