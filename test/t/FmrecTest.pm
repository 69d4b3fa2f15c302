
# Helpers shared by fmrec's TAP tests: a node with fmrec, ratings made in
# SQL, a fingerprint of a stored model, and SQLSTATE-aware psql calls.
package FmrecTest;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(fmrec_node make_ratings train_sql model_state psql_error
  install_write_gate close_write_gate wait_at_write_gate);

# A started node with fmrec created in database postgres.  %opts:
#   init => { ... }  passed to init (allows_streaming => 1, ...)
#   conf => [ lines ] appended to postgresql.conf
#   no_extension => 1  do not CREATE EXTENSION
#   preload => 0  no shared_preload_libraries = 'fmrec' (which the view
#                 fm_training_progress needs on PostgreSQL 15 and 16)
sub fmrec_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	# The 2-core machine is shared: keep the servers small and quiet.
	my @preload = ($opts{preload} // 1) ? ("shared_preload_libraries = 'fmrec'") : ();
	$node->append_conf('postgresql.conf',
		join("\n", 'max_parallel_workers_per_gather = 0', @preload, @{ $opts{conf} // [] }));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION fmrec')
	  unless $opts{no_extension};
	return $node;
}

# SQL creating table $table of ratings (user_id, item_id, genre, rating)
# with $users x $items cells, one in $sparsity of them rated.  Users and
# items of the same parity like each other, so a model has something to
# learn; everything is a pure function of (u, i): the same table every run.
sub make_ratings
{
	my ($table, $users, $items, $sparsity) = @_;
	$sparsity //= 3;
	return qq{
		CREATE TABLE $table AS
		SELECT u AS user_id, i AS item_id, 'g' || (i % 7) AS genre,
		       (CASE WHEN (u + i) % 2 = 0 THEN 4 ELSE 2 END
		        + ((u * 7 + i * 3) % 5 - 2) * 0.25)::real AS rating
		  FROM generate_series(1, $users) u, generate_series(1, $items) i
		 WHERE (u * 31 + i * 17) % $sparsity = 0;
	};
}

# The SELECT that trains $model from $table on user_id and item_id.
sub train_sql
{
	my ($table, $model, %p) = @_;
	my $k = $p{k} // 4;
	my $epochs = $p{epochs} // 2;
	my $seed = $p{seed} // 42;
	my $features = $p{features} // "ARRAY['user_id', 'item_id']";
	return "SELECT rows_used FROM fm_train_from_table('$table', 'rating', "
	  . "$features, '$model', k => $k, epochs => $epochs, seed => $seed)";
}

# One line that changes whenever anything of a stored model changes:
# trained_at, k, n_features, the number of feature rows, the number of
# rows whose embedding does not have k dimensions, and an md5 over the
# exact bits of every bias and embedding.  Empty when there is no model.
sub model_state
{
	my ($node, $db, $model) = @_;
	return $node->safe_psql(
		$db, qq{
		SELECT m.trained_at, m.k, m.n_features, count(f.*),
		       count(*) FILTER (WHERE fm_dims(f.embedding) <> m.k),
		       md5(string_agg(f.feature || '/' || f.value || '/' || encode(float4send(f.bias), 'hex')
		                      || '/' || encode(fm_vector_send(f.embedding), 'hex'),
		                      ',' ORDER BY f.feature COLLATE "C", f.value COLLATE "C"))
		  FROM fm_model m LEFT JOIN fm_feature f USING (model)
		 WHERE m.model = '$model'
		 GROUP BY m.trained_at, m.k, m.n_features});
}

# Runs $sql expecting an ERROR; returns "SQLSTATE: message" of the first
# error, or "no error".
sub psql_error
{
	my ($node, $db, $sql) = @_;
	my ($ret, $stdout, $stderr) =
	  $node->psql($db, "\\set VERBOSITY verbose\n$sql", on_error_stop => 1);
	return 'no error' if $ret == 0;
	return $1 if $stderr =~ /ERROR:\s+([0-9A-Z]{5}: [^\n]*)/;
	return "unparsed: $stderr";
}

# A gate in the middle of a model's write, to interrupt a training at a
# known point instead of racing it: a trigger on fm_feature that, when the
# row ($model, *, $value) is inserted, waits for advisory lock 4242 while a
# gatekeeper session holds it.  Rows before it in the write are inserted
# by then (in the training's uncommitted transaction), rows after it not.
sub install_write_gate
{
	my ($node, $db, $model, $value) = @_;
	$node->safe_psql(
		$db, qq{
		CREATE FUNCTION write_gate() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
			PERFORM pg_advisory_xact_lock_shared(4242);
			RETURN NEW;
		END \$\$;
		CREATE TRIGGER write_gate BEFORE INSERT ON fm_feature FOR EACH ROW
			WHEN (NEW.model = '$model' AND NEW.value = '$value')
			EXECUTE FUNCTION write_gate();});
}

# Returns a background session holding the gate closed; ->quit opens it.
sub close_write_gate
{
	my ($node, $db) = @_;
	my $keeper = $node->background_psql($db);
	$keeper->query_safe('SELECT pg_advisory_lock(4242)');
	return $keeper;
}

# Waits until backend $pid is stopped at the gate, mid-write.
sub wait_at_write_gate
{
	my ($node, $db, $pid) = @_;
	return $node->poll_query_until(
		$db, qq{SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $pid
			AND locktype = 'advisory' AND classid = 0 AND objid = 4242 AND NOT granted)});
}

1;
