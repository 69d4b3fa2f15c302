
# kill -9 of a backend that is training: the postmaster resets every
# process and recovers from WAL (restart_after_crash = on).  Afterwards the
# previous model is there, whole and bit for bit; its indexes agree with
# its heap (amcheck); nothing of the killed training's half-written model is
# visible; and the extension trains and serves again.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

# PostgreSQL::Test::Cluster turns restart_after_crash off; this test is
# about the crash restart.
my $node = fmrec_node('crash', conf => ['restart_after_crash = on', 'log_statement = none']);
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
$node->safe_psql('postgres', make_ratings('ratings', 400, 300, 2));
$node->safe_psql(
	'postgres', q{
	CREATE TABLE wide AS
	SELECT 'v' || x AS user_id, 'i' || x % 100 AS item_id, (x % 5 + 1)::real AS rating
	  FROM generate_series(1, 50000) x});
$node->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 3));
$node->safe_psql('postgres', train_sql('wide', 'w', k => 2, epochs => 1));
# Make the previous models durable the ordinary way (not needed for
# correctness, but then recovery replays only what came after).
$node->safe_psql('postgres', 'CHECKPOINT');
install_write_gate($node, 'postgres', 'w', 'v25000');

my $predict = q{SELECT fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY['7', '12']),
                       fm_predict('w', ARRAY['user_id', 'item_id'], ARRAY['v77', 'i77'])};
my %before = (
	m => model_state($node, 'postgres', 'm'),
	w => model_state($node, 'postgres', 'w'),
	predict => $node->safe_psql('postgres', $predict));

# Kills the backend $pid with SIGKILL and waits until the postmaster has
# gone through crash recovery and accepts connections again.
sub kill9_and_wait_for_recovery
{
	my ($pid, $sessions) = @_;
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "SIGKILL sent to backend $pid");
	# The killed backend's psql and every other session lose their
	# connection: collect them, ignoring their exit status.
	for my $session (@$sessions)
	{
		eval { $session->quit };
	}
	# First the reset (so the poll below cannot reach the server before
	# it noticed the crash), then the end of recovery.
	ok( $node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset),
		'the postmaster reset all processes');
	ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
		'crash recovery done: the server accepts connections again');
}

sub check_after_crash
{
	my ($what) = @_;
	is(model_state($node, 'postgres', 'm'), $before{m}, "$what: model m as before (trained_at, k, rows, bits)");
	is(model_state($node, 'postgres', 'w'), $before{w}, "$what: model w as before (trained_at, k, rows, bits)");
	is($node->safe_psql('postgres', $predict), $before{predict}, "$what: fm_predict returns the same values");
	# Nothing half-written: each model's feature rows are those it says it
	# has, no row belongs to a model that does not exist, and the btree
	# indexes match the heap exactly (heapallindexed), so an index scan
	# and a sequential scan cannot disagree.
	is( $node->safe_psql(
			'postgres', q{
			SELECT count(*) FILTER (WHERE m.model IS NULL),
			       count(*) FILTER (WHERE m.model IS NOT NULL),
			       (SELECT sum(n_features) FROM fm_model)
			  FROM fm_feature f LEFT JOIN fm_model m USING (model)}),
		'0|' . (50100 + 700) . '|' . (50100 + 700),
		"$what: fm_feature holds exactly the features of the stored models");
	is( $node->safe_psql(
			'postgres', q{
			SELECT count(*) FROM (
			  SELECT bt_index_check(c.oid, true)
			    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			   WHERE i.indrelid IN ('fm_model'::regclass, 'fm_feature'::regclass)) s}),
		'2', "$what: amcheck finds both model-table indexes consistent with their heaps");
}

# 1. Killed while optimising (after the first epoch's NOTICE).
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/TRAINING STARTED/,
	"\\echo TRAINING STARTED\n" . train_sql('ratings', 'm', k => 32, epochs => 100000) . ";\n");
ok(pump_until($bg->{run}, $bg->{timeout}, \$bg->{stderr}, qr/epoch 1\/100000/),
	'training started its epochs');
kill9_and_wait_for_recovery($pid, [$bg]);
check_after_crash('killed during the epochs');

# 2. Killed halfway through writing the new model w: the old rows are
# deleted and 25k new rows inserted in its transaction when it dies.
# WAL holds those changes, but no commit record: recovery must leave
# them invisible.
my $gate = close_write_gate($node, 'postgres');
$bg = $node->background_psql('postgres', on_error_stop => 0);
$pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/TRAINING STARTED/,
	"\\echo TRAINING STARTED\n" . train_sql('wide', 'w', k => 2, epochs => 1, seed => 5) . ";\n");
ok(wait_at_write_gate($node, 'postgres', $pid), 'training stopped halfway through writing model w');
kill9_and_wait_for_recovery($pid, [$bg, $gate]);
check_after_crash('killed during the write');

# The extension works after the crashes: the killed trainings' advisory
# locks are gone, both models train again and the new ones are served.
$node->safe_psql('postgres', 'DROP TRIGGER write_gate ON fm_feature');
is( $node->safe_psql(
		'postgres', train_sql('wide', 'w', k => 2, epochs => 1, seed => 5) . '; '
		  . train_sql('ratings', 'm', k => 8, epochs => 3, seed => 9)),
	"50000\n60000", 'both models train again after the crashes');
like(model_state($node, 'postgres', 'w'), qr/\|2\|50100\|50100\|0\|/, 'the new model w is whole');
isnt($node->safe_psql('postgres', $predict), $before{predict}, 'the new models are served');

$node->stop;
done_testing();
