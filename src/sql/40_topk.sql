------------------------------------------------------------------------------
-- Exact top-k of a whole catalogue: fm_topk() scores a matrix of the item
-- embeddings cached in backend memory (see src/fm_topk.c).
------------------------------------------------------------------------------

-- One row per tracked item table: changed by every statement that changes
-- the table (trigger fm_topk_bump), read by fm_topk() with the caller's
-- snapshot to decide whether its cache still shows what the caller sees.
-- version is a fresh sequence value per change, never reused (a rolled back
-- change must not leave a value that a later change could repeat).
CREATE TABLE fm_topk_version (
	relid   oid PRIMARY KEY,
	version bigint NOT NULL
);
COMMENT ON TABLE fm_topk_version IS
	'change counter of the item tables tracked by fm_topk_track(); maintained by triggers';
CREATE SEQUENCE fm_topk_version_seq;
GRANT SELECT ON fm_topk_version TO PUBLIC;

-- SECURITY DEFINER: whoever may write the item table may bump its version,
-- without any privilege on fm_topk_version.
CREATE FUNCTION fm_topk_bump() RETURNS trigger
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	INSERT INTO @extschema@.fm_topk_version AS v (relid, version)
	VALUES (TG_RELID, nextval('@extschema@.fm_topk_version_seq'))
	ON CONFLICT (relid) DO UPDATE SET version = excluded.version;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION fm_topk_bump() FROM PUBLIC;

-- Installs the triggers that let fm_topk() keep its cache of a table across
-- statements and transactions:
--   fm_topk_version          AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
--                            FOR EACH STATEMENT, enabled ALWAYS
--   fm_topk_version_replica  AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW,
--                            enabled REPLICA only (logical replication
--                            applies rows without statement triggers)
-- A changing statement costs one upsert, and concurrent writers of the
-- table queue on that row until the first commits.  Needs ownership of
-- the table.  Plain tables only: changes to a partition or an inheritance
-- child would not fire them.
CREATE FUNCTION fm_topk_track(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	kind "char";
	children boolean;
BEGIN
	SELECT c.relkind, c.relhassubclass INTO kind, children FROM pg_class c WHERE c.oid = items;
	IF kind IS DISTINCT FROM 'r' OR children THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = format('cannot track "%s": only plain tables without inheritance children can be tracked', items),
			HINT = 'fm_topk() still works on it, caching only within one snapshot.';
	END IF;
	EXECUTE format('CREATE OR REPLACE TRIGGER fm_topk_version'
		' AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version', items);
	EXECUTE format('CREATE OR REPLACE TRIGGER fm_topk_version_replica'
		' AFTER INSERT OR UPDATE OR DELETE ON %s'
		' FOR EACH ROW EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER fm_topk_version_replica', items);
	INSERT INTO @extschema@.fm_topk_version AS v (relid, version)
	VALUES (items, nextval('@extschema@.fm_topk_version_seq'))
	ON CONFLICT (relid) DO UPDATE SET version = excluded.version;
END $$;
COMMENT ON FUNCTION fm_topk_track(regclass) IS
	'installs the triggers that let fm_topk() cache a table across transactions';

CREATE FUNCTION fm_topk_untrack(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	EXECUTE format('DROP TRIGGER IF EXISTS fm_topk_version ON %s', items);
	EXECUTE format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	DELETE FROM @extschema@.fm_topk_version v WHERE v.relid = items;
END $$;

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
