
# A training interrupted by pg_cancel_backend() or statement_timeout, while
# it optimises and while it replaces the stored model, ends in ERROR 57014
# and leaves the previous model exactly as it was, still served.  While a
# training writes, other sessions keep seeing the previous model.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('cancel', conf => ['log_statement = none']);

# 'ratings' trains slowly (k = 32, and an epoch count no test waits for);
# 'wide' has 50k distinct values: a write of 50k rows to stop halfway.
$node->safe_psql('postgres', make_ratings('ratings', 400, 300, 2));
$node->safe_psql(
	'postgres', q{
	CREATE TABLE wide AS
	SELECT 'v' || x AS user_id, 'i' || x % 100 AS item_id, (x % 5 + 1)::real AS rating
	  FROM generate_series(1, 50000) x});

# The previous models, and what serving answers with them.
$node->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 3));
$node->safe_psql('postgres', train_sql('wide', 'w', k => 2, epochs => 1));
my $predict_m = q{SELECT fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY['7', '12'])};
my $predict_w = q{SELECT fm_predict('w', ARRAY['user_id', 'item_id'], ARRAY['v77', 'i77'])};
my %before = (
	m => model_state($node, 'postgres', 'm'),
	w => model_state($node, 'postgres', 'w'),
	pm => $node->safe_psql('postgres', $predict_m),
	pw => $node->safe_psql('postgres', $predict_w));
like($before{w}, qr/\|2\|50100\|50100\|0\|/, 'model w has 50100 features of 2 dimensions');

# Starts $sql in a background session; returns (session, backend pid).
# The statement runs with NOTICEs on (one per epoch) and verbose errors;
# "TRAINING DONE" is echoed when it has ended, however it ended.
sub start_training
{
	my ($sql, $setup) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_safe("\\set VERBOSITY verbose\nSET client_min_messages = notice");
	$bg->query_safe($setup) if $setup;
	$bg->query_until(qr/TRAINING STARTED/, "\\echo TRAINING STARTED\n$sql;\n\\echo TRAINING DONE\n");
	return ($bg, $pid);
}

# Waits for the end of the statement started by start_training; returns
# its stderr.
sub finish_training
{
	my ($bg) = @_;
	pump_until($bg->{run}, $bg->{timeout}, \$bg->{stdout}, qr/TRAINING DONE/);
	my $stderr = $bg->{stderr};
	$bg->quit;
	return $stderr;
}

sub check_previous_models_intact
{
	my ($what) = @_;
	is(model_state($node, 'postgres', 'm'), $before{m}, "$what: model m unchanged (trained_at, k, rows, bits)");
	is(model_state($node, 'postgres', 'w'), $before{w}, "$what: model w unchanged (trained_at, k, rows, bits)");
	is($node->safe_psql('postgres', $predict_m), $before{pm}, "$what: fm_predict on m returns the same value");
	is($node->safe_psql('postgres', $predict_w), $before{pw}, "$what: fm_predict on w returns the same value");
}

# 1. pg_cancel_backend() while the optimiser runs: after the first epoch's
# NOTICE, so the cancel lands in the epochs, not in argument checks.  The
# session's statement_timeout is only a backstop for a cancel that does not
# work (its message would differ, and the test fail).
my ($bg, $pid) = start_training(train_sql('ratings', 'm', k => 32, epochs => 100000),
	"SET statement_timeout = '120s'");
ok(pump_until($bg->{run}, $bg->{timeout}, \$bg->{stderr}, qr/epoch 1\/100000/),
	'training started its epochs');
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel sent');
my $stderr = finish_training($bg);
like($stderr, qr/ERROR:\s+57014: canceling statement due to user request/,
	'cancel during the epochs: ERROR 57014');
check_previous_models_intact('cancel during the epochs');

# 2. statement_timeout while the optimiser runs.
($bg, $pid) = start_training(train_sql('ratings', 'm', k => 32, epochs => 100000),
	"SET statement_timeout = '3s'");
$stderr = finish_training($bg);
like($stderr, qr/epoch 1\/100000/, 'the timed-out training had started its epochs');
like($stderr, qr/ERROR:\s+57014: canceling statement due to statement timeout/,
	'statement_timeout during the epochs: ERROR 57014');
check_previous_models_intact('statement_timeout during the epochs');

# 2b. Implicit training (method 'ials'): its sweeps tick too, so a cancel
# and statement_timeout end it in 57014 with the previous models intact.
$node->safe_psql('postgres',
	q{CREATE TABLE items AS SELECT DISTINCT item_id, genre FROM ratings});
my $ials_sql = q{SELECT rows_used FROM fm_train_from_table('ratings', 'rating',
	ARRAY['user_id', 'item_id', 'genre'], 'm', k => 32, epochs => 100000, method => 'ials',
	item_features => ARRAY['item_id', 'genre'], items => 'items')};
($bg, $pid) = start_training($ials_sql, "SET statement_timeout = '120s'");
ok(pump_until($bg->{run}, $bg->{timeout}, \$bg->{stderr}, qr/epoch 1\/100000/),
	'ials training started its epochs');
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel sent to ials');
$stderr = finish_training($bg);
like($stderr, qr/ERROR:\s+57014: canceling statement due to user request/,
	'ials: cancel during the epochs: ERROR 57014');
check_previous_models_intact('ials cancel during the epochs');
($bg, $pid) = start_training($ials_sql, "SET statement_timeout = '3s'");
$stderr = finish_training($bg);
like($stderr, qr/ERROR:\s+57014: canceling statement due to statement timeout/,
	'ials: statement_timeout during the epochs: ERROR 57014');
check_previous_models_intact('ials statement_timeout during the epochs');

# 3. pg_cancel_backend() while the new model is being written: the old
# rows are deleted and half of the new ones inserted, in the training's
# own transaction, when the write gate stops it.  Meanwhile another
# session still sees the previous model, whole; after the cancel
# everything is rolled back.
install_write_gate($node, 'postgres', 'w', 'v25000');
my $gate = close_write_gate($node, 'postgres');
($bg, $pid) = start_training(train_sql('wide', 'w', k => 2, epochs => 1, seed => 5));
ok(wait_at_write_gate($node, 'postgres', $pid), 'training stopped halfway through writing model w');
is(model_state($node, 'postgres', 'w'), $before{w}, 'during the write, readers see the previous model w whole');
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel sent during the write');
$stderr = finish_training($bg);
like($stderr, qr/ERROR:\s+57014: canceling statement due to user request/,
	'cancel during the write: ERROR 57014');
check_previous_models_intact('cancel during the write');

# 4. statement_timeout while the new model is being written.  The timeout
# must outlast reading and training (well under a second here) so that it
# fires at the gate: the test checks the training was seen there first.
($bg, $pid) = start_training(train_sql('wide', 'w', k => 2, epochs => 1, seed => 5),
	"SET statement_timeout = '8s'");
ok(wait_at_write_gate($node, 'postgres', $pid), 'training stopped halfway through writing model w again');
$stderr = finish_training($bg);
like($stderr, qr/ERROR:\s+57014: canceling statement due to statement timeout/,
	'statement_timeout during the write: ERROR 57014');
check_previous_models_intact('statement_timeout during the write');

# With the gate open, the same training goes through and the new model is
# complete: the gate only delayed it.
$gate->quit;
$node->safe_psql('postgres', train_sql('wide', 'w', k => 2, epochs => 1, seed => 5));
like(model_state($node, 'postgres', 'w'), qr/\|2\|50100\|50100\|0\|/,
	'gate open: the new model w is written whole');
isnt(model_state($node, 'postgres', 'w'), $before{w}, '... and it is a new model');

# The session survives a cancel: the same backend trains fine afterwards
# (no lock or memory left behind).
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe("SET client_min_messages = warning; SET statement_timeout = '1s'");
my ($out, $err) = $bg->query(train_sql('ratings', 'other', k => 32, epochs => 100000));
like($bg->{stderr}, qr/canceling statement due to statement timeout/, 'a timed-out training in a session...');
$bg->{stderr} = '';
$bg->query_safe("RESET statement_timeout");
# (chomp: the BackgroundPsql of 16beta2 leaves psql's newline on the result)
chomp(my $rows = $bg->query_safe(train_sql('ratings', 'other', k => 4, epochs => 2)));
is($rows, '60000', '... and the same session trains again afterwards');
$bg->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'}),
	'0', 'no advisory lock left behind');

$node->stop;
done_testing();
