
# A registered item table and concurrent sessions: a training refreshes the
# table in its own transaction, readers see the old model with the old
# vectors or the new model with the new ones, and no row written by a
# concurrent session escapes the refresh (the refresh's SHARE ROW EXCLUSIVE
# lock: a writer either committed before it, and is refreshed, or waits for
# the training's commit, and its trigger then reads the new model).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('items');
$node->safe_psql('postgres', make_ratings('r', 60, 40, 3));
$node->safe_psql('postgres', train_sql('r', 'm', k => 4, epochs => 2, seed => 1));
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (item_id int PRIMARY KEY, bias real, embedding fm_vector, v bigint);
	INSERT INTO items (item_id) SELECT i FROM generate_series(1, 40) i;
	SELECT fm_materialize_items('m', 'items', version_column => 'v');
});

# "current/rows/same": rows carrying the model's version, all rows, and rows
# whose vectors are fm_item()'s of the model this snapshot sees
my $state_sql = q{
	SELECT count(*) FILTER (WHERE i.v = fm_model_version('m')) || '/' || count(*) || '/'
	    || count(*) FILTER (WHERE i.bias = f.bias AND i.embedding::text = f.embedding::text)
	  FROM items i, fm_item('m', ARRAY['item_id'], ARRAY[i.item_id::text]) f};
sub state { return $node->safe_psql('postgres', $state_sql); }

sub waits_for_relation_lock
{
	my ($pid) = @_;
	return $node->poll_query_until(
		'postgres', qq{
		SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $pid AND locktype = 'relation'
		               AND relation = 'items'::regclass AND NOT granted)});
}

# A background session's answer without the line end (PostgreSQL 16beta2's
# BackgroundPsql keeps it, later releases strip it).
sub query1
{
	my ($session, $sql) = @_;
	my $result = $session->query_safe($sql);
	$result =~ s/\s+\z//;
	return $result;
}

is(state(), '40/40/40', 'registered: every row current');

# 1. A writer whose transaction is open when the refresh starts: the
# training waits for it, then refreshes its row too.
my $writer = $node->background_psql('postgres');
my $trainer = $node->background_psql('postgres', on_error_stop => 0);
my $trainer_pid = query1($trainer, 'SELECT pg_backend_pid()');
my $v1 = $node->safe_psql('postgres', q{SELECT fm_model_version('m')});
query1($writer, q{BEGIN; INSERT INTO items (item_id) VALUES (41)});
is(query1($writer, q{SELECT v FROM items WHERE item_id = 41}), $v1, 'the inserted row has the current version');
query1($trainer, 'SET client_min_messages = warning');
$trainer->query_until(qr/T STARTED/,
	"\\echo T STARTED\nBEGIN;\n" . train_sql('r', 'm', k => 4, epochs => 2, seed => 2) . ";\n\\echo T TRAINED\n");
ok(waits_for_relation_lock($trainer_pid), 'the refresh waits for the open writer');
query1($writer, 'COMMIT');
pump_until($trainer->{run}, $trainer->{timeout}, \$trainer->{stdout}, qr/T TRAINED/);
is($trainer->{stderr}, '', 'the training finished once the writer committed');
is(state(), '41/41/41', 'before the training commits, readers see the old model and the old vectors');
$trainer->{stdout} = '';
query1($trainer, 'COMMIT');
is(state(), '41/41/41', 'after it commits, the new model and the new vectors, the writer\'s row included');
isnt($node->safe_psql('postgres', q{SELECT fm_model_version('m')}), $v1, 'the model has a new version');

# 2. A writer that comes after the refresh: it waits for the training's
# commit, and its row gets the new model's vectors.
query1($trainer, 'BEGIN; ' . train_sql('r', 'm', k => 4, epochs => 2, seed => 3));
my $v_new = query1($trainer, q{SELECT fm_model_version('m')});
my $writer_pid = query1($writer, 'SELECT pg_backend_pid()');
$writer->query_until(qr/W STARTED/, "\\echo W STARTED\nINSERT INTO items (item_id) VALUES (42);\n\\echo W DONE\n");
ok(waits_for_relation_lock($writer_pid), 'a writer after the refresh waits for the training');
is(state(), '41/41/41', 'meanwhile readers see the old model and the old vectors');
query1($trainer, 'COMMIT');
pump_until($writer->{run}, $writer->{timeout}, \$writer->{stdout}, qr/W DONE/);
is($writer->{stderr}, '', 'the writer finished once the training committed');
is(state(), '42/42/42', 'every row, the late writer\'s included, shows the new model');
is($node->safe_psql('postgres', q{SELECT v FROM items WHERE item_id = 42}), $v_new,
	'the late row carries the new version');

# 3. A REPEATABLE READ reader keeps one consistent picture across a
# training that commits in the middle of its transaction.
my $reader = $node->background_psql('postgres');
query1($reader, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
my $before = query1($reader, $state_sql);
$node->safe_psql('postgres', train_sql('r', 'm', k => 4, epochs => 2, seed => 4));
is(query1($reader, $state_sql), $before, 'a repeatable read reader still sees the old model with the old vectors');
query1($reader, 'COMMIT');
is(state(), '42/42/42', 'and then the new ones together');

$_->quit for ($writer, $trainer, $reader);
$node->stop;
done_testing();
