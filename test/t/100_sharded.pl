
# fmrec over PostgreSQL's own sharding: a coordinator and two shards, the
# item and ratings tables partitioned on the coordinator with postgres_fdw
# foreign tables as partitions (README, "Sharding with partitioning and
# postgres_fdw").  The coordinator computes the query vector once; each
# shard ranks its own rows (ORDER BY fm_score(<constant>, ...) DESC LIMIT k
# shipped in the remote SQL, the shards asked in parallel); the coordinator
# merges k x shards rows.  Proves: the sharded top-10 equals the local one
# for 100 users; at most k x shards rows cross the network per query;
# training over the sharded ratings equals local training bit for bit; the
# item vectors reach the shards through postgres_fdw carrying the model
# version, and a reader that would mix two models during a swap gets 40001
# instead; a retraining under pgbench load loses no query; a shard that is
# down gives a clear error, not a shorter top-10.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FmrecTest;

my $k = 10;
my ($users, $items) = (300, 400);
# pgbench seconds: at most 15 (this test is about correctness, 050_load.pl
# about duration); FMREC_LOAD_SECONDS shortens it like the other load test.
my $duration = $ENV{FMREC_LOAD_SECONDS} // 15;
$duration = 15 if $duration > 15;

my $coordinator = fmrec_node('coordinator', conf => ['log_statement = none']);
my @shards = map {
	fmrec_node("shard$_",
		conf => [ "shared_preload_libraries = 'pg_stat_statements'", 'log_statement = none' ])
} (1, 2);

# ---- the schema -------------------------------------------------------------

# On each shard, the real tables: its items (with the vectors and the
# version of the model they come from) and its ratings.
for my $shard (@shards)
{
	$shard->safe_psql(
		'postgres', q{
		CREATE EXTENSION pg_stat_statements;
		CREATE TABLE items (item_id integer PRIMARY KEY, genre text NOT NULL,
		                    bias real, embedding fm_vector, fm_version bigint);
		CREATE TABLE ratings (user_id integer, item_id integer, genre text, rating real);
		CREATE UNLOGGED TABLE item_vectors (item_id integer PRIMARY KEY, bias real, embedding fm_vector,
		                                    fm_version bigint);});
}

# On the coordinator: one foreign server per shard, declaring fmrec so that
# its IMMUTABLE functions (fm_score) may be shipped; partitioned tables whose
# partitions are the shards' tables; and the same rows in local tables, the
# reference.
my $servers = '';
for my $i (1, 2)
{
	my $s = $shards[ $i - 1 ];
	my $r = $i - 1;
	$servers .= sprintf(
		q{
		CREATE SERVER shard%d FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres', extensions 'fmrec', async_capable 'true');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d;
		CREATE FOREIGN TABLE items_s%d PARTITION OF items FOR VALUES WITH (modulus 2, remainder %d)
			SERVER shard%d OPTIONS (table_name 'items');
		CREATE FOREIGN TABLE ratings_s%d PARTITION OF ratings FOR VALUES WITH (modulus 2, remainder %d)
			SERVER shard%d OPTIONS (table_name 'ratings', fetch_size '10000');
		CREATE FOREIGN TABLE item_vectors_s%d PARTITION OF item_vectors FOR VALUES WITH (modulus 2, remainder %d)
			SERVER shard%d OPTIONS (table_name 'item_vectors', batch_size '1000');},
		$i, $s->host, $s->port, $i, $i, $r, $i, $i, $r, $i, $i, $r, $i);
}
$coordinator->safe_psql(
	'postgres', q{
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE items (item_id integer NOT NULL, genre text NOT NULL,
	                    bias real, embedding fm_vector, fm_version bigint) PARTITION BY HASH (item_id);
	CREATE TABLE ratings (user_id integer, item_id integer, genre text, rating real)
		PARTITION BY HASH (user_id);
	CREATE TABLE item_vectors (item_id integer NOT NULL, bias real, embedding fm_vector, fm_version bigint)
		PARTITION BY HASH (item_id);}
	  . $servers
	  . make_ratings('ratings_local', $users, $items, 3) . qq{
	CREATE TABLE items_local (item_id integer PRIMARY KEY, genre text NOT NULL,
	                          bias real, embedding fm_vector, fm_version bigint);
	INSERT INTO ratings SELECT * FROM ratings_local;
	INSERT INTO items_local (item_id, genre) SELECT i, 'g' || (i % 7) FROM generate_series(1, $items) i;
	INSERT INTO items SELECT * FROM items_local;});

my @per_shard = map { $_->safe_psql('postgres', 'SELECT count(*) FROM ratings') . '/'
	  . $_->safe_psql('postgres', 'SELECT count(*) FROM items') } @shards;
like($per_shard[$_], qr/^[1-9]\d*\/[1-9]\d*$/, "shard " . ($_ + 1) . " holds ratings and items ($per_shard[$_])")
  for 0, 1;
is($coordinator->safe_psql('postgres', 'SELECT count(*) FROM ratings') . '/'
	  . $coordinator->safe_psql('postgres', 'SELECT count(*) FROM items'),
	$coordinator->safe_psql('postgres', 'SELECT count(*) FROM ratings_local') . "/$items",
	'the partitioned tables hold the rows of the local ones');

# ---- training from the sharded ratings --------------------------------------

# A model's feature rows with their exact bits, whatever the model is called.
sub feature_bits
{
	my ($model) = @_;
	return $coordinator->safe_psql(
		'postgres', qq{
		SELECT count(*) || ' ' || md5(string_agg(feature || '/' || value || '/' || encode(float4send(bias), 'hex')
		                              || '/' || encode(fm_vector_send(embedding), 'hex'),
		                              ',' ORDER BY feature COLLATE "C", value COLLATE "C"))
		  FROM fm_feature WHERE model = '$model'});
}
my $features = "ARRAY['user_id', 'item_id', 'genre']";
my $summary = q{SELECT rows_used, rows_skipped, n_features, train_rmse, validation_rmse FROM fm_model WHERE model = '%s'};
$coordinator->safe_psql('postgres',
	train_sql('ratings_local', 'local', k => 8, epochs => 4, features => $features) . ';'
	  . train_sql('ratings', 'm', k => 8, epochs => 4, features => $features));
like(feature_bits('m'), qr/^\d+ [0-9a-f]{32}$/, 'a model trained from the sharded ratings');
is(feature_bits('m'), feature_bits('local'),
	'training over foreign partitions gives the model of the same rows in one table, bit for bit');
is($coordinator->safe_psql('postgres', sprintf($summary, 'm')),
	$coordinator->safe_psql('postgres', sprintf($summary, 'local')),
	'same rows used, features and RMSEs');

# ---- item vectors to the shards, with the model version ---------------------

# The swap (the README's recipe): item vectors computed on the coordinator
# (fm_item) are staged on the shards (item_vectors: batched INSERTs), each
# row stamped with fm_model.version; then one UPDATE ... FROM per shard,
# which postgres_fdw runs entirely on the shard (a join of two tables of
# one server; the local join methods are turned off so that the planner
# does not pull both tables instead).  Run in the transaction of the
# training, the shards commit one after the other when the coordinator
# commits, just before it.
my $stage = q{
	TRUNCATE item_vectors;
	INSERT INTO item_vectors
	SELECT i.item_id, f.bias, f.embedding, m.version
	  FROM items i, fm_model m,
	       fm_item('m', ARRAY['item_id', 'genre'], ARRAY[i.item_id::text, i.genre]) f
	 WHERE m.model = 'm';};
my $remote_join = q{
	SET LOCAL enable_hashjoin = off;
	SET LOCAL enable_mergejoin = off;
	SET LOCAL enable_nestloop = off;};
my $apply = q{
	UPDATE items_s%d i SET (bias, embedding, fm_version) = (s.bias, s.embedding, s.fm_version)
	  FROM item_vectors_s%d s WHERE s.item_id = i.item_id;};
sub apply_sql { my @s = @_; return join('', map { sprintf($apply, $_, $_) } @s); }
my $local_materialize = q{
	UPDATE items_local SET (bias, embedding) = (SELECT f.bias, f.embedding FROM fm_item('m',
	               ARRAY['item_id', 'genre'], ARRAY[item_id::text, genre]) f),
	       fm_version = (SELECT version FROM fm_model WHERE model = 'm')};
sub swap_sql
{
	my ($seed) = @_;
	return "SET client_min_messages = warning; BEGIN; "
	  . train_sql('ratings', 'm', k => 8, epochs => 4, features => $features, seed => $seed) . ';'
	  . $stage . $remote_join . apply_sql(1, 2) . ' COMMIT;';
}
my $plan = $coordinator->safe_psql('postgres',
	"BEGIN; $stage $remote_join EXPLAIN (VERBOSE, COSTS OFF) " . apply_sql(1) . ' ROLLBACK;');
note "swap plan:\n$plan";
like($plan, qr/Foreign Update\n\s+Remote SQL: UPDATE public\.items r1 SET .* FROM public\.item_vectors r2 WHERE \(\(r1\.item_id = r2\.item_id\)\)/,
	'the swap\'s UPDATE ... FROM runs on the shard: one remote statement, no row-by-row round trips');
$coordinator->safe_psql('postgres', "BEGIN; $stage $remote_join" . apply_sql(1, 2) . " COMMIT; $local_materialize");
for my $shard (@shards)
{
	is($shard->safe_psql('postgres', 'SELECT count(*) FROM items WHERE embedding IS NULL OR fm_version IS NULL'),
		'0', 'every item row on ' . $shard->name . ' has its vectors and version');
}

# The serving function (the README's recipe): the query vector and the
# model version read in one statement, k candidates per shard (the UNION
# ALL of one LIMIT subquery per partition, so that each shard gets ORDER BY
# fm_score DESC LIMIT k), every candidate's version checked, then the top k.
$coordinator->safe_psql(
	'postgres', q{
	CREATE FUNCTION sharded_top(model text, feature text[], value text[], k integer)
		RETURNS TABLE (item_id integer, score double precision, model_version bigint)
		LANGUAGE plpgsql STABLE
		SET search_path = public, pg_catalog
	AS $$
	DECLARE
		q fm_vector;
		v bigint;
		c record;
		n integer := 0;
	BEGIN
		SELECT m.version, fm_query(m.model, feature, value) INTO v, q
		  FROM fm_model m WHERE m.model = sharded_top.model;
		IF NOT FOUND THEN
			RAISE EXCEPTION USING ERRCODE = 'undefined_object',
				MESSAGE = format('model "%s" does not exist', sharded_top.model);
		END IF;
		FOR c IN
			SELECT s.item_id, s.fm_version, s.score FROM (
				(SELECT i.item_id, i.fm_version, fm_score(q, i.embedding, i.bias) AS score
				   FROM items_s1 i ORDER BY 3 DESC LIMIT k)
				UNION ALL
				(SELECT i.item_id, i.fm_version, fm_score(q, i.embedding, i.bias) AS score
				   FROM items_s2 i ORDER BY 3 DESC LIMIT k)) s
			 ORDER BY s.score DESC, s.item_id
		LOOP
			IF c.fm_version IS DISTINCT FROM v THEN
				RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
					MESSAGE = format('item %s has the vectors of version %s of model "%s", the query vector is of version %s',
					                 c.item_id, coalesce(c.fm_version::text, 'NULL'), sharded_top.model, v),
					HINT = 'A retraining is being swapped in on the shards: retry the query.';
			END IF;
			n := n + 1;
			IF n <= k THEN
				item_id := c.item_id;
				score := c.score;
				model_version := v;
				RETURN NEXT;
			END IF;
		END LOOP;
	END $$;});

# ---- the plans: what is shipped ---------------------------------------------

my $union_sql = qq{
	WITH q AS (SELECT fm_query('m', ARRAY['user_id'], ARRAY['17']) AS v)
	SELECT * FROM (
	  (SELECT item_id, fm_version, fm_score((SELECT v FROM q), embedding, bias) AS score
	     FROM items_s1 ORDER BY 3 DESC LIMIT $k)
	  UNION ALL
	  (SELECT item_id, fm_version, fm_score((SELECT v FROM q), embedding, bias) AS score
	     FROM items_s2 ORDER BY 3 DESC LIMIT $k)) c
	 ORDER BY score DESC, item_id LIMIT $k};
$plan = $coordinator->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $union_sql");
note "UNION ALL plan:\n$plan";
my @remote = $plan =~ /Remote SQL: ([^\n]*)/g;
is(scalar(@remote), 2, 'UNION ALL of one subquery per partition: one remote query per shard');
like($_, qr/ORDER BY public\.fm_score\(\$1::public\.fm_vector, embedding, bias\) DESC NULLS FIRST LIMIT $k\b/,
	'the shard gets ORDER BY fm_score(<the query vector as a parameter>) DESC LIMIT k') for @remote;
# (PostgreSQL 17 and later plan these subqueries without Async Foreign Scan: the
# answer and the rows moved are the same, the shards are asked in turn)
if ($coordinator->pg_version < 17)
{
	is(scalar(() = $plan =~ /Async Foreign Scan/g), 2, 'both shards are asked at once (Async Foreign Scan)');
}
else
{
	note 'PostgreSQL ' . $coordinator->pg_version . ': ' . scalar(() = $plan =~ /Async Foreign Scan/g)
	  . ' Async Foreign Scan in the UNION ALL plan';
	pass('PostgreSQL 17+: the shards answer in turn (not asserted)');
}
is(scalar(grep { /fm_query/ } @remote), 0, 'fm_query runs once on the coordinator (the CTE), not on the shards');

my $merge_sql = qq{
	SELECT item_id, fm_score((SELECT fm_query('m', ARRAY['user_id'], ARRAY['17'])), embedding, bias) AS score
	  FROM items ORDER BY score DESC LIMIT $k};
$plan = $coordinator->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $merge_sql");
note "partitioned-table plan:\n$plan";
like($plan, qr/Merge Append/, 'over the partitioned table: a Merge Append of the partitions');
@remote = $plan =~ /Remote SQL: ([^\n]*)/g;
is(scalar(grep { /ORDER BY public\.fm_score\(\$1::public\.fm_vector, embedding, bias\) DESC NULLS FIRST$/ } @remote), 2,
	'each partition gets the ORDER BY but no LIMIT (PostgreSQL 15 does not push a LIMIT below an Append)');

# What the shard runs for it: fmrec's top-N scan (auto_explain on shard 1,
# for the sessions postgres_fdw opens from now on).
$shards[0]->safe_psql('postgres', q{
	LOAD 'auto_explain';
	ALTER SYSTEM SET session_preload_libraries = 'auto_explain';
	ALTER SYSTEM SET auto_explain.log_min_duration = 0;
	SELECT pg_reload_conf();});
my $log_offset = -s $shards[0]->logfile;
$coordinator->safe_psql('postgres', "SELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)");
my $shard_log = PostgreSQL::Test::Utils::slurp_file($shards[0]->logfile, $log_offset);
like($shard_log, qr/ORDER BY public\.fm_score\([^\n]*\) DESC NULLS FIRST LIMIT ${k}::bigint\n\s*Limit [^\n]*\n\s*->  Custom Scan \(FmTopNScan\) on items /,
	'on the shard, the remote query runs as fmrec\'s top-N scan');
$shards[0]->safe_psql('postgres', q{
	LOAD 'auto_explain';
	ALTER SYSTEM RESET session_preload_libraries;
	ALTER SYSTEM RESET auto_explain.log_min_duration;
	SELECT pg_reload_conf();});

# The pitfall: fm_query inside the sort key makes it unshippable (fm_query
# is STABLE: it reads the model), so every shard sends all its rows.
$plan = $coordinator->safe_psql('postgres',
	qq{EXPLAIN (VERBOSE, COSTS OFF) SELECT item_id FROM items_s1
	    ORDER BY fm_score(fm_query('m', ARRAY['user_id'], ARRAY['17']), embedding, bias) DESC LIMIT $k});
like($plan, qr/Remote SQL: SELECT item_id, bias, embedding FROM public\.items$/m,
	'fm_query(...) written inside fm_score: no ORDER BY, no LIMIT shipped (the whole partition is fetched)');

# ---- 100 queries: sharded equals local --------------------------------------

# The top-10 of users 1..100 as item=score bits, one line per user.
sub all_answers
{
	my ($node, $top) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT u || ':' || (SELECT string_agg(t.item_id || '=' || encode(float8send(t.score), 'hex'), ','
		                                      ORDER BY t.score DESC, t.item_id)
		                      FROM ($top) t)
		  FROM generate_series(1, 100) u ORDER BY u});
}
my $local_top = qq{SELECT item_id, fm_score(fm_query('m', ARRAY['user_id'], ARRAY[u::text]), embedding, bias) AS score
	FROM items_local ORDER BY score DESC, item_id LIMIT $k};
my $function_top = qq{SELECT item_id, score FROM sharded_top('m', ARRAY['user_id'], ARRAY[u::text], $k)};
my $partitioned_top = qq{SELECT item_id, fm_score((SELECT fm_query('m', ARRAY['user_id'], ARRAY[u::text])), embedding, bias) AS score
	FROM items ORDER BY score DESC, item_id LIMIT $k};

# rows fetched from the shards, read from their pg_stat_statements
sub reset_fetched { $_->safe_psql('postgres', 'SELECT pg_stat_statements_reset()') for @shards; }
sub fetched
{
	my $sum = 0;
	$sum += $_->safe_psql('postgres',
		q{SELECT coalesce(sum(rows), 0) FROM pg_stat_statements WHERE query LIKE 'FETCH %'}) for @shards;
	return $sum;
}

my $expected = all_answers($coordinator, $local_top);
my @lines = split /\n/, $expected;
is(scalar(grep { /^\d+:(\d+=[0-9a-f]{16},){9}\d+=[0-9a-f]{16}$/ } @lines), 100, 'local: 100 top-10s');
cmp_ok(scalar(keys %{ { map { s/^\d+://r => 1 } @lines } }), '>=', 50, 'the 100 users get different top-10s');

reset_fetched();
my $got = all_answers($coordinator, $function_top);
my $rows = fetched();
is($got, $expected, 'sharded_top: the 100 sharded top-10s equal the local ones, bit-identical scores');
cmp_ok($rows, '<=', 100 * $k * 2, "at most k x shards rows fetched per query ($rows for 100 queries)");
cmp_ok($rows, '>=', 100 * $k, 'and the shards were indeed asked');

# The partitioned table, the plain query: same answer, but no LIMIT on the
# shards, so a cursor batch (fetch_size, 100 by default) per shard moves.
reset_fetched();
is(all_answers($coordinator, $partitioned_top), $expected,
	'ORDER BY ... LIMIT over the partitioned table: the same 100 top-10s');
my $rows_merge = fetched();
$coordinator->safe_psql('postgres', 'ALTER SERVER shard1 OPTIONS (ADD fetch_size \'10\'); ALTER SERVER shard2 OPTIONS (ADD fetch_size \'10\')');
reset_fetched();
is(all_answers($coordinator, $partitioned_top), $expected, 'and with fetch_size = k');
my $rows_merge_k = fetched();
$coordinator->safe_psql('postgres', 'ALTER SERVER shard1 OPTIONS (DROP fetch_size); ALTER SERVER shard2 OPTIONS (DROP fetch_size)');
cmp_ok($rows_merge_k, '<=', 100 * $k * 2, "partitioned table with fetch_size = k: at most k x shards rows per query ($rows_merge_k for 100)");
diag("rows fetched for 100 top-10 queries: sharded_top $rows, partitioned table $rows_merge "
	  . "(fetch_size 100), $rows_merge_k (fetch_size 10)");

# ---- a swap seen halfway: an error, never a mix ------------------------------

# A retraining whose vectors reached shard 1 only: exactly what a reader
# can see between the commit of shard 1 and that of shard 2 (and, between
# the shards' commits and the coordinator's, the shards are ahead).
my $v1 = $coordinator->safe_psql('postgres', q{SELECT version FROM fm_model WHERE model = 'm'});
$coordinator->safe_psql('postgres',
	"SET client_min_messages = warning; BEGIN; "
	  . train_sql('ratings', 'm', k => 8, epochs => 4, features => $features, seed => 7) . ';'
	  . $stage . $remote_join . apply_sql(1) . ' COMMIT;');
my $v2 = $coordinator->safe_psql('postgres', q{SELECT version FROM fm_model WHERE model = 'm'});
cmp_ok($v2, '>', $v1, 'a retraining gives the model a new version');
my $err = psql_error($coordinator, 'postgres',
	"SELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)");
like($err, qr/^40001: item \d+ has the vectors of version $v1 of model "m", the query vector is of version $v2$/,
	'shards on two versions: sharded_top fails with 40001 (retry), not a mixed top-10');
# the other way round: the shards ahead of the coordinator
$coordinator->safe_psql('postgres', 'BEGIN;' . $remote_join . apply_sql(2) . ' COMMIT;');
$_->safe_psql('postgres', 'UPDATE items SET fm_version = fm_version + 1000') for @shards;
like(psql_error($coordinator, 'postgres', "SELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)"),
	qr/^40001: item \d+ has the vectors of version ${\($v2 + 1000)}/, 'shards ahead of the coordinator: 40001 too');
$_->safe_psql('postgres', 'UPDATE items SET fm_version = fm_version - 1000') for @shards;
$coordinator->safe_psql('postgres', $local_materialize);
is(all_answers($coordinator, $function_top), all_answers($coordinator, $local_top),
	'swap complete: the sharded top-10s equal the local ones for the new model');

# ---- retraining under load --------------------------------------------------

# pgbench runs sharded_top with 2 clients; each answer is recorded with the
# version it came from.  A reader caught in a swap gets 40001, which
# pgbench retries (--max-tries): no transaction may fail.
$coordinator->safe_psql('postgres', 'CREATE TABLE answers (uid integer, version bigint, top10 text)');
my $script = PostgreSQL::Test::Utils::tempdir() . '/sharded_top.sql';
PostgreSQL::Test::Utils::append_to_file($script, qq{\\set uid random(1, 20)
INSERT INTO answers
SELECT :uid, min(model_version), string_agg(item_id || '=' || encode(float8send(score), 'hex'), ',' ORDER BY score DESC, item_id)
  FROM sharded_top('m', ARRAY['user_id'], ARRAY[:uid::text], $k) HAVING count(*) = $k;
});
my ($out, $stderr_out) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', $duration, '--max-tries', '1000', '-f', $script,
		$coordinator->connstr('postgres') ],
	'>', \$out, '2>', \$stderr_out);
my $deadline = time + $duration + 120;
my ($swaps, $swap_failures) = (0, 0);
while ($pgbench->pumpable && time < $deadline)
{
	$swaps++;
	my ($ret, $o, $e) = $coordinator->psql('postgres', swap_sql(100 + $swaps), on_error_stop => 1);
	if ($ret != 0)
	{
		$swap_failures++;
		diag("swap $swaps failed: $e");
	}
	$pgbench->pump_nb;
}
my $pgbench_ok = $pgbench->finish;
note "pgbench output:\n$out\n$stderr_out";
ok($pgbench_ok, 'pgbench exited successfully') or diag($stderr_out);
like($out, qr/number of failed transactions: 0 \(0\.000%\)/, 'pgbench: zero failed transactions');
my ($processed) = $out =~ /number of transactions actually processed: (\d+)/;
my ($retried) = $out =~ /number of transactions retried: (\d+)/;
$processed //= -1;
cmp_ok($processed, '>', 0, 'pgbench processed transactions');
is($swap_failures, 0, 'every retraining + swap committed');
cmp_ok($swaps, '>=', 2, 'several retrainings and swaps meanwhile');
is($coordinator->safe_psql('postgres', 'SELECT count(*) FROM answers'), $processed,
	'every transaction got a full top-10: one answer per transaction');
is( $coordinator->safe_psql(
		'postgres', q{SELECT count(*) FROM (SELECT version, uid FROM answers GROUP BY 1, 2
		                                    HAVING count(DISTINCT top10) > 1) s}),
	'0', 'answers of the same version and user are identical (no mix)');
diag("$processed sharded top-10 queries (" . ($retried // 'n/a') . " retried) and $swaps swaps in $duration s; "
	  . $coordinator->safe_psql('postgres', 'SELECT count(DISTINCT version) FROM answers') . ' versions answered');

# The last version's answers equal the local reference for that model.
$coordinator->safe_psql('postgres', $local_materialize);
is(all_answers($coordinator, $function_top), all_answers($coordinator, $local_top),
	'after the load: sharded equals local for the last model');

# ---- a shard down -----------------------------------------------------------

# A session that has served before keeps a connection to each shard; it
# must notice as well (postgres_fdw reconnects at its next transaction).
my $session = $coordinator->background_psql('postgres', on_error_stop => 0);
$session->query_safe("SELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)");
$shards[1]->stop;
my $session_out = $session->query("\\set VERBOSITY verbose\nSELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)");
like($session->{stderr}, qr/ERROR:\s+08001: could not connect to server "shard2"/,
	'shard 2 down: a session that had connected fails with 08001 too, no rows') or diag($session_out);
unlike($session_out, qr/\d/, 'and returns no partial answer');
$session->quit;
for my $q ([ 'sharded_top', "SELECT * FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)" ],
	[ 'the partitioned table', $merge_sql ])
{
	like(psql_error($coordinator, 'postgres', $q->[1]),
		qr/^08001: could not connect to server "shard2"/, "shard 2 down: $q->[0] fails with 08001 naming it");
}
my $on_shard1 = $shards[0]->safe_psql('postgres', 'SELECT min(item_id) FROM items');
is($coordinator->safe_psql('postgres', "SELECT count(*) FROM items WHERE item_id = $on_shard1"), '1',
	'shard 2 down: a query pruned to shard 1 by its key is still served');
$shards[1]->start;
like($coordinator->safe_psql('postgres', "SELECT count(*) FROM sharded_top('m', ARRAY['user_id'], ARRAY['17'], $k)"),
	qr/^$k$/, 'shard 2 back: served again');

$_->stop for $coordinator, @shards;
done_testing();
