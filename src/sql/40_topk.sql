------------------------------------------------------------------------------
-- Exact top-k of a whole catalogue: fm_topk() scores a matrix of the item
-- embeddings cached in backend memory (see src/fm_topk.c).
------------------------------------------------------------------------------

-- One row per tracked item table: changed by every statement that changes
-- the table (the triggers of fm_topk_track(), function fm_topk_bump), read
-- by fm_topk() with the caller's snapshot to decide whether its cache still
-- shows what the caller sees.  version is a fresh sequence value per
-- change, never reused (a rolled back change must not leave a value that a
-- later change could repeat).  Only the extension's owner writes it: the C
-- trigger switches to that role for one fixed statement (see
-- src/fm_topk_version.c); no SECURITY DEFINER function is involved.
CREATE TABLE fm_topk_version (
	relid   oid PRIMARY KEY,
	version bigint NOT NULL
);
COMMENT ON TABLE fm_topk_version IS
	'change counter of the item tables tracked by fm_topk_track(); maintained by triggers';
CREATE SEQUENCE fm_topk_version_seq;
GRANT SELECT ON fm_topk_version TO PUBLIC;

-- The trigger function of tracked tables.  Anyone may attach it to a table
-- they own: it only ever bumps the row of the table it fires on.
CREATE FUNCTION fm_topk_bump() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION fm_topk_bump() IS
	'trigger of fm_topk_track(): records that the table changed';

-- Gives a table the caller owns a fresh version row, or removes its row.
CREATE FUNCTION _fm_topk_version_mark(items regclass, tracked boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'fm_topk_version_mark' LANGUAGE C VOLATILE STRICT;

-- Installs the triggers that let fm_topk() keep its cache of a table across
-- statements and transactions (both enabled ALWAYS, also under
-- session_replication_role = replica and in logical replication):
--   fm_topk_version           AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW
--                             (row triggers fire for every way a row changes,
--                             through an inheritance or partitioned parent
--                             too; the trigger bumps once per statement)
--   fm_topk_version_truncate  AFTER TRUNCATE FOR EACH STATEMENT
-- Needs ownership of the table.  Plain tables without inheritance children.
CREATE FUNCTION fm_topk_track(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	children boolean;
BEGIN
	PERFORM @extschema@._fm_relation_must_exist(items);
	SELECT c.relkind, c.relhassubclass INTO kind, children
	  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) items;
	IF kind IS DISTINCT FROM 'r' OR children THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = pg_catalog.format('cannot track "%s": only plain tables without inheritance children can be tracked', items),
			HINT = 'fm_topk still works on it, caching only within one snapshot.';
	END IF;
	-- the triggers of fmrec 0.1.0, if any
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER fm_topk_version'
		' AFTER INSERT OR UPDATE OR DELETE ON %s'
		' FOR EACH ROW EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version', items);
	EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER fm_topk_version_truncate'
		' AFTER TRUNCATE ON %s'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version_truncate', items);
	PERFORM @extschema@._fm_topk_version_mark(items, true);
END $$;
COMMENT ON FUNCTION fm_topk_track(regclass) IS
	'installs the triggers that let fm_topk() cache a table across transactions';

CREATE FUNCTION fm_topk_untrack(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._fm_relation_must_exist(items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version ON %s', items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_truncate ON %s', items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	PERFORM @extschema@._fm_topk_version_mark(items, false);
END $$;
COMMENT ON FUNCTION fm_topk_untrack(regclass) IS
	'removes the triggers of fm_topk_track(); fm_topk() then caches the table only within one snapshot';

-- The k best items for a query vector, best first:
--   SELECT id, fm_score(query, embedding, bias) AS score FROM items
--    WHERE fm_score(query, embedding, bias) IS NOT NULL
--      AND (exclude IS NULL OR id <> ALL (array_remove(exclude, NULL)))
--    ORDER BY score DESC, id LIMIT k
-- with the same scores, bit for bit (ties broken by the smaller id; rows
-- whose score is NULL, or NaN because huge values overflow, are never
-- returned, whereas a bare ORDER BY ... DESC would put them first).  items: any relation the caller may SELECT from,
-- with an integer id column, an fm_vector embedding column and a numeric
-- bias column (read as real, as fm_score does); bias_column => NULL scores
-- without a bias.  exclude: ids not to return ("already rated").  k: 0 ..
-- 10,000,000.  Reads the items as the caller; STABLE, so all reads of one
-- call see the caller's snapshot.  PARALLEL RESTRICTED: the cache lives in
-- the leader.  The first call in a backend reads the relation; later calls
-- reuse the cache as long as it shows what the caller would see (tracked
-- tables: across transactions; see fm_topk_track() and src/fm_topk.c).
CREATE FUNCTION fm_topk(
	query            fm_vector,
	items            regclass,
	k                integer,
	exclude          bigint[] DEFAULT NULL,
	id_column        name DEFAULT 'id',
	embedding_column name DEFAULT 'embedding',
	bias_column      name DEFAULT 'bias')
	RETURNS TABLE (id bigint, score double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION fm_topk(fm_vector, regclass, integer, bigint[], name, name, name) IS
	'exact top-k items by fm_score, from a per-backend cache of the item embeddings';

CREATE FUNCTION fm_topk_cache(
	OUT relid regclass, OUT items bigint, OUT dim integer, OUT bytes bigint,
	OUT regime text, OUT version bigint, OUT valid boolean, OUT last_rescored bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'fm_topk_cache_info' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION fm_topk_cache() IS
	'the item caches of fm_topk() in this backend; last_rescored: items the last sgemv scoring rescored exactly (NULL after the loop kernel)';

CREATE FUNCTION fm_topk_cache_reset() RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
